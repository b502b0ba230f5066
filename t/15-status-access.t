#!/usr/bin/perl

# nginx's own access control works on the status location: allow/deny,
# auth_basic and auth_request; and the status directive needs the zone.

use strict;
use warnings;

use JSON::PP;
use Test::More;
use lib 't/lib';
use WsHb;

my $t = WsHb->new;

open my $fh, '>', $t->prefix . '/htpasswd' or die;
print $fh "ops:{PLAIN}opensesame\n";
close $fh;

$t->write_conf(<<'EOF');
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location = /allowed {
            ws_heartbeat_status;
            allow 127.0.0.1;
            deny all;
        }

        location = /denied {
            ws_heartbeat_status;
            deny all;
        }

        location = /basic {
            ws_heartbeat_status;
            auth_basic "ws status";
            auth_basic_user_file %%PREFIX%%/htpasswd;
        }

        location = /subrequest {
            ws_heartbeat_status;
            auth_request /auth;
        }

        location = /auth {
            internal;
            if ($http_x_pass = "yes") {
                return 204;
            }
            return 403;
        }
    }
EOF

$t->run('http');
my $port = $t->port('http');

is($t->get($port, '/allowed')->{status}, 200, 'allow: 200');
is($t->get($port, '/denied')->{status}, 403, 'deny all: 403');

is($t->get($port, '/basic')->{status}, 401, 'auth_basic without: 401');
my $r = $t->get($port, '/basic', 'Authorization: Basic '
                . 'b3BzOm9wZW5zZXNhbWU=');
is($r->{status}, 200, 'auth_basic with the password: 200');
ok(eval { decode_json($r->{body}) }, 'and the document');

is($t->get($port, '/subrequest')->{status}, 403, 'auth_request says no');
is($t->get($port, '/subrequest', 'X-Pass: yes')->{status}, 200,
   'auth_request says yes');

$t->finish;

# without a zone, nginx -t names what is missing

# (newer nginx also writes nginx -t's errors to the error log: expected)
my $z = WsHb->new(no_log_check => 1);
$z->write_conf(<<'EOF');
    server {
        listen 127.0.0.1:%%PORT_http%%;
        location = /status {
            ws_heartbeat_status;
        }
    }
EOF
my ($rc, $out) = $z->test_conf;
isnt($rc, 0, 'ws_heartbeat_status without a zone fails nginx -t');
like($out, qr/"ws_heartbeat_status" directive requires "ws_heartbeat_zone"/,
     'and says why');

$z->write_conf(<<'EOF');
    server {
        listen 127.0.0.1:%%PORT_http%%;
        ws_heartbeat_max_sessions 10;
    }
EOF
($rc, $out) = $z->test_conf;
isnt($rc, 0, 'ws_heartbeat_max_sessions without a zone fails nginx -t');
like($out, qr/"ws_heartbeat_max_sessions" directive requires/,
     'and says why');

$z->write_conf(<<'EOF');
    ws_heartbeat_zone ws:1m;
    server {
        listen 127.0.0.1:%%PORT_http%%;
        ws_heartbeat_max_sessions 0;
    }
EOF
($rc, $out) = $z->test_conf;
like($out, qr/invalid value "0" in "ws_heartbeat_max_sessions" directive/,
     'a zero limit is refused');

$z->write_conf(<<'EOF');
    ws_heartbeat_zone ws:1m;
    server {
        listen 127.0.0.1:%%PORT_http%%;
        location / {
            ws_heartbeat_status_token "";
        }
    }
EOF
($rc, $out) = $z->test_conf;
like($out, qr/"ws_heartbeat_status_token" directive takes a non-empty token/,
     'an empty token is refused');
$z->finish;

done_testing;
