#!/usr/bin/perl

# ws_heartbeat_max_sessions across a reload: each limit keeps its own
# count, found by where it is (the server's name and the location), not by
# the order of the directives; a reload that reorders them mixes nothing.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;
use WsHbFrames qw(connect_ws);

my $t = WsHb->new;

my %loc = (a => 3, b => 5);

sub conf {
    my (@order) = @_;
    my $locations = join '', map { <<"EOF" } @order;
        location /$_/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            ws_heartbeat on;
            ws_heartbeat_max_sessions $loc{$_};
        }
EOF

    $t->write_conf(<<"EOF");
    ws_heartbeat_zone ws:1m;
    ws_heartbeat_drain 30s;

    server {
        listen 127.0.0.1:%%PORT_http%%;
        server_name limits.test;

        proxy_http_version 1.1;
        proxy_set_header Upgrade \$http_upgrade;
        proxy_set_header Connection "upgrade";

$locations
    }
EOF
}

conf('a', 'b');
my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');

# a session, or the status of the refusal

sub session {
    my ($path) = @_;
    my ($s) = eval { connect_ws($port, path => $path) };
    return $s if $s;
    return $@ =~ /HTTP\/1\.1 (\d+)/ ? $1 : $@;
}

my @a = map { session('/a/') } 1 .. 3;
my @b = map { session('/b/') } 1 .. 1;
is(scalar(grep { ref } @a, @b), 4, '3 sessions under /a/, 1 under /b/');
is(session('/a/'), 503, '/a/ is full');

# the same limits in the other order

my ($old) = $t->worker_pids;
conf('b', 'a');
$t->reload;

my ($new, $end) = (undef, time + 10);
while (time < $end) {
    ($new) = grep { $_ != $old } $t->worker_pids;
    last if $new;
    sleep 0.05;
}
ok($new, 'a new worker serves the reordered configuration');

# the old worker takes connections until it is told to shut down
ok($t->wait_log(qr/ $old#\d+: gracefully shutting down/,
                WsHb::patience(10)),
   'and the old one takes no more');

is(session('/a/'), 503, '/a/ is still full after the reload');

my @more = map { session('/b/') } 1 .. 4;
is(scalar(grep { ref } @more), 4, '/b/ takes 4 more: 5 in all');
is(session('/b/'), 503, 'and then it is full');

close $_ for grep { ref } @a;
$end = time + 5;
my $s;
while (time < $end) {
    $s = session('/a/');
    last if ref $s;
    sleep 0.05;
}
ok(ref $s, '/a/ takes a session again once its old ones end');

close $_ for grep { ref } @b, @more, $s;

$t->finish;
done_testing;
