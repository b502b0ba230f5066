#!/usr/bin/perl

# The routine ping cycle (healthy <-> awaiting_pong) is recorded as
# deltas only while somebody subscribes; a resume across a time when it
# was not recorded gets a resync snapshot, never a silent gap.

use strict;
use warnings;

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;

my $t = WsHb->new;

$t->write_conf(<<'EOF', workers => 2);
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 1s;
        }

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');
my $port = $t->port('http');

sub status { $t->status('/status?sessions=0') }

# nobody subscribes: the session's pings make no deltas

my $c = $t->ws_client("ws://127.0.0.1:$port/ws/a");
ok($c->expect('open', 10), 'a session, pinged every second');
ok($c->expect('ping', 5) && $c->expect('ping', 5), 'two pings answered');

# the client has answered; nginx counts the pong when it reads it, which
# may come after this request reaches the other worker

my $st = status();
my $end = time + WsHb::patience(5);

while ($st->{totals}{pongs}{client} < 2 && time < $end) {
    sleep 0.05;
    $st = status();
}

cmp_ok($st->{totals}{pongs}{client}, '>=', 2, 'while the pongs came in');
is($st->{stream}{seq}, 1, 'no subscriber: only "created" was recorded');

# a resume from then has missed the ping cycle: resync

my $sub = $t->spawn('node', 't/node/subscriber.js', '--url',
                    "ws://127.0.0.1:$port/status?since=1");
my $m = $sub->expect('message', 10);
is($m && $m->{data}{type}, 'snapshot', 'a resume across it gets a snapshot');
is($m && $m->{data}{resync}, JSON::PP::true, 'marked resync');

# while subscribed, the ping cycle is recorded

my $up = $sub->expect('message', 5);
is($up && $up->{data}{type}, 'updated', 'subscribed: the ping cycle is a delta');
ok($up && $up->{data}{before}{state} ne $up->{data}{after}{state},
   'a change of liveness state');

$sub->kill;
$t->finish;
done_testing;
