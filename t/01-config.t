#!/usr/bin/perl

# Directives: good configurations pass "nginx -t", bad values fail it with
# a message naming the directive.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use WsHb;

sub conf_test {
    my ($http, $main) = @_;
    my $t = WsHb->new(no_log_check => 1);
    $t->write_conf($http, main => $main // '');
    my ($rc, $out) = $t->test_conf;
    $t->finish;
    return ($rc, $out);
}

my ($rc, $out) = conf_test(<<'EOF');
    ws_heartbeat_zone ws:10m;
    ws_heartbeat_drain 5s;
    ws_heartbeat on;
    server {
        listen 127.0.0.1:%%PORT_http%%;
        ws_heartbeat_interval 15s;
        location /terminal/ {
            proxy_pass http://127.0.0.1:1;
            ws_heartbeat_interval 15s;
            ws_heartbeat_timeout 10s;
            ws_heartbeat_upstream on;
            ws_heartbeat_idle_timeout 30m;
            ws_heartbeat_tag user $http_x_user;
            ws_heartbeat_tag tenant $cookie_tenant metrics;
            ws_heartbeat_max_age 12h jitter=20% code=4000;
            ws_heartbeat_expires $http_x_token_expires code=4001;
            ws_heartbeat_max_sessions 100;
            ws_heartbeat_max_sessions 5 key=$remote_user evict code=4002;
        }
        location /status {
            ws_heartbeat_status;
            ws_heartbeat_status_token reader;
            ws_heartbeat_status_token s3cret name=oncall admin;
        }
        location /off/ {
            ws_heartbeat off;
        }
    }
EOF
is($rc, 0, 'a full configuration passes nginx -t') or diag $out;

my @bad = (
    [ 'ws_heartbeat maybe;',
      qr/invalid value "maybe" in "ws_heartbeat" directive/ ],
    [ 'ws_heartbeat_interval 0;',
      qr/"ws_heartbeat_interval" directive must be greater than zero/ ],
    [ 'ws_heartbeat_interval soon;',
      qr/"ws_heartbeat_interval" directive invalid value/ ],
    [ 'ws_heartbeat_timeout 0s;',
      qr/"ws_heartbeat_timeout" directive must be greater than zero/ ],
    [ 'ws_heartbeat_timeout -1;',
      qr/"ws_heartbeat_timeout" directive invalid value/ ],
    [ 'ws_heartbeat_upstream yes;',
      qr/invalid value "yes" in "ws_heartbeat_upstream" directive/ ],
    [ 'ws_heartbeat_idle_timeout x;',
      qr/"ws_heartbeat_idle_timeout" directive invalid value/ ],
    [ 'ws_heartbeat_interval 25d;',
      qr/"ws_heartbeat_interval" directive must be at most 24d/ ],
    [ 'ws_heartbeat_idle_timeout 30d;',
      qr/"ws_heartbeat_idle_timeout" directive must be at most 24d/ ],
    [ 'ws_heartbeat_drain 1h 2;',
      qr/invalid number of arguments in "ws_heartbeat_drain" directive/ ],
    [ 'ws_heartbeat_zone ws;',
      qr/invalid zone "ws" in "ws_heartbeat_zone" directive, expected/ ],
    [ 'ws_heartbeat_zone ws:lots;',
      qr/invalid zone size "ws:lots" in "ws_heartbeat_zone" directive/ ],
    [ 'ws_heartbeat_zone ws:1k;',
      qr/zone "ws:1k" is too small in "ws_heartbeat_zone" directive/ ],
    [ "ws_heartbeat_zone a:1m;\n    ws_heartbeat_zone b:1m;",
      qr/"ws_heartbeat_zone" directive is duplicate/ ],
    [ 'ws_heartbeat_tag User $remote_user;',
      qr/invalid tag name "User" in "ws_heartbeat_tag" directive/ ],
    [ 'ws_heartbeat_tag a_name_of_17bytes $remote_user;',
      qr/invalid tag name "a_name_of_17bytes" in "ws_heartbeat_tag"/ ],
    [ 'ws_heartbeat_tag user $remote_user counted;',
      qr/invalid parameter "counted" in "ws_heartbeat_tag" directive/ ],
    [ "ws_heartbeat_tag user \$remote_user;\n"
      . "    ws_heartbeat_tag user \$http_x_user;",
      qr/duplicate tag "user" in "ws_heartbeat_tag" directive/ ],
    [ join("\n    ", map { "ws_heartbeat_tag t$_ x;" } 1 .. 5),
      qr/too many "ws_heartbeat_tag" directives, at most 4/ ],
    [ 'ws_heartbeat_tag user;',
      qr/invalid number of arguments in "ws_heartbeat_tag" directive/ ],
    [ 'ws_heartbeat_status_token secret admin name=;',
      qr/invalid parameter "name=" in "ws_heartbeat_status_token"/ ],
    [ 'ws_heartbeat_status_token secret root;',
      qr/invalid parameter "root" in "ws_heartbeat_status_token"/ ],
    [ 'ws_heartbeat_max_age 0;',
      qr/invalid time "0" in "ws_heartbeat_max_age" directive/ ],
    [ 'ws_heartbeat_max_age 30d;',
      qr/invalid time "30d" in "ws_heartbeat_max_age" directive/ ],
    [ 'ws_heartbeat_max_age 1h jitter=101;',
      qr/invalid jitter "jitter=101" in "ws_heartbeat_max_age"/ ],
    [ 'ws_heartbeat_max_age 1h code=1006;',
      qr/invalid close code "code=1006" in "ws_heartbeat_max_age"/ ],
    [ 'ws_heartbeat_max_age 1h soon;',
      qr/invalid parameter "soon" in "ws_heartbeat_max_age"/ ],
    [ "ws_heartbeat_max_age 1h;\n    ws_heartbeat_max_age 2h;",
      qr/"ws_heartbeat_max_age" directive is duplicate/ ],
    [ 'ws_heartbeat_expires $arg_exp code=999;',
      qr/invalid close code "code=999" in "ws_heartbeat_expires"/ ],
    [ 'ws_heartbeat_max_sessions 0 key=$arg_u;',
      qr/invalid value "0" in "ws_heartbeat_max_sessions" directive/ ],
    [ 'ws_heartbeat_max_sessions 5 evict;',
      qr/"evict" in "ws_heartbeat_max_sessions" directive needs "key="/ ],
    [ 'ws_heartbeat_max_sessions 5 key=$arg_u code=4000;',
      qr/"code=" in "ws_heartbeat_max_sessions" directive needs "evict"/ ],
    [ 'ws_heartbeat_max_sessions 5 key=;',
      qr/empty key in "ws_heartbeat_max_sessions" directive/ ],
    [ 'ws_heartbeat_max_sessions 5 key=$arg_u evict code=1006;',
      qr/invalid close code "code=1006" in "ws_heartbeat_max_sessions"/ ],
    [ 'ws_heartbeat_max_sessions 5 key=$arg_u sometimes;',
      qr/invalid parameter "sometimes" in "ws_heartbeat_max_sessions"/ ],
    [ 'ws_heartbeat_max_sessions 5 key=$arg_u evict evict;',
      qr/invalid parameter "evict" in "ws_heartbeat_max_sessions"/ ],
    [ 'ws_heartbeat_max_sessions 5 key=$arg_u uncounted=maybe;',
      qr/invalid value "uncounted=maybe" in "ws_heartbeat_max_sessions"/ ],
    [ 'ws_heartbeat_max_sessions 5 uncounted=admit;',
      qr/"uncounted=" in "ws_heartbeat_max_sessions" directive needs "key="/ ],
    [ "ws_heartbeat_max_sessions 5 key=\$arg_u;\n"
      . "    ws_heartbeat_max_sessions 3 key=\$arg_v;",
      qr/"ws_heartbeat_max_sessions" directive with "key=" is duplicate/ ],
    [ "ws_heartbeat_max_sessions 5;\n    ws_heartbeat_max_sessions 3;",
      qr/"ws_heartbeat_max_sessions" directive is duplicate/ ],
);

for my $case (@bad) {
    my ($directive, $re) = @$case;
    (my $name = $directive) =~ s/\s+/ /g;
    my ($rc, $out) = conf_test("    $directive\n"
        . "    server { listen 127.0.0.1:%%PORT_http%%; }\n");
    isnt($rc, 0, "nginx -t fails: $name");
    like($out, $re, "and names the directive: $name");
}

# an evict key that the client chooses lets anyone evict anyone: nginx -t
# passes and warns, naming the directive and the key

sub evict_conf {
    my ($limit) = @_;
    return conf_test(<<"EOF");
    ws_heartbeat_zone ws:1m;
    server {
        listen 127.0.0.1:%%PORT_http%%;
        location /ws/ {
            proxy_pass http://127.0.0.1:1;
            ws_heartbeat on;
            $limit;
        }
    }
EOF
}

for my $key ('$http_x_user_id', '$arg_user', '$cookie_sid',
             '${http_x_tenant}:$args', 'user-$query_string')
{
    my ($rc, $out) = evict_conf("ws_heartbeat_max_sessions 2 key=$key evict");
    is($rc, 0, "an evict key of $key passes nginx -t") or diag $out;
    my $said = qq{"ws_heartbeat_max_sessions" directive: the key "$key" }
               . 'of "evict" is made only of what the client sends';
    like($out, qr/\[warn\] .*\Q$said\E/, "and is warned of: $key");
}

for my $limit ('ws_heartbeat_max_sessions 2 key=$remote_user evict',
               'ws_heartbeat_max_sessions 2 key=$http_x_tenant:$remote_user '
               . 'evict',
               'ws_heartbeat_max_sessions 2 key=$http_x_user_id')
{
    my ($rc, $out) = evict_conf($limit);
    is($rc, 0, "$limit passes nginx -t") or diag $out;
    unlike($out, qr/\[warn\]/, 'without a warning');
}

($rc, $out) = conf_test(<<'EOF');
    server {
        listen 127.0.0.1:%%PORT_http%%;
        ws_heartbeat_drain 1s;
    }
EOF
isnt($rc, 0, 'ws_heartbeat_drain is not allowed in server');
like($out, qr/"ws_heartbeat_drain" directive is not allowed here/,
     'and the error says so');

done_testing;
