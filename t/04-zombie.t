#!/usr/bin/perl

# Zombies: a peer that stops answering (SIGSTOP; its kernel keeps ACKing)
# is detected within interval + timeout, the side still alive gets a close
# frame 1001 naming the cause, and the session is gone.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time);
use lib 't/lib';
use WsHb;

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    log_format ws '$ws_heartbeat_session_id $ws_heartbeat_close_reason';

    server {
        listen 127.0.0.1:%%PORT_http%%;

        ws_heartbeat on;
        ws_heartbeat_interval 1s;
        ws_heartbeat_timeout 1s;
        access_log %%PREFIX%%/logs/ws.log ws;

        %%WS_PROXY%%

        location /client/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
        }

        location /upstream/ {
            proxy_pass http://127.0.0.1:%%PORT_app2%%;
            ws_heartbeat_upstream on;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
my $app2 = $t->ws_server($t->port('app2'));
$t->run('http');

my $base = 'ws://127.0.0.1:' . $t->port('http');

# --- the client vanishes -------------------------------------------------

my @lat;

for my $round (1 .. 3) {
    my $c = $t->ws_client("$base/client/$round");
    ok($c->expect('open', 10), "client $round connected");
    ok($app->expect('open', 5, url => "/client/$round"),
       "upstream saw session $round");
    ok($c->expect('ping', 5), "client $round was pinged");

    # stop it at a random point of the ping cycle
    select undef, undef, undef, rand(1);
    $c->stop;
    my $stopped = time;

    my $close = $app->expect('close', 6);
    my $lat = $close ? $close->{at} - $stopped : 99;
    push @lat, $lat;

    ok($close, "upstream got a close frame for zombie client $round");
    is($close && $close->{code}, 1001, 'close code 1001');
    is($close && $close->{reason}, 'client heartbeat timeout',
       'close reason names the cause');
    cmp_ok($lat, '<', 1 + 1 + 1.5,
           'closed within interval + timeout (+ slack)');
    cmp_ok($lat, '>', 0.9, 'not before the timeout');

    $c->kill;
}

diag(sprintf 'zombie client close latency (1s/1s): %s s',
     join ' ', map { sprintf '%.3f', $_ } @lat);

ok($t->wait_log(qr/client did not answer ping \d+ within 1000 ms/, 1),
   'info log line for the zombie');
ok($t->wait_file('logs/ws.log', qr/^([0-9a-f]{22} client_timeout)$/m, 5),
   'access log says client_timeout');

# --- the upstream vanishes ----------------------------------------------

my $c = $t->ws_client("$base/upstream/x");
ok($c->expect('open', 10), 'client connected');
ok($app2->expect('ping', 5), 'upstream was pinged');
$app2->stop;
my $stopped = time;

my $close = $c->expect('close', 6);
ok($close, 'client got a close frame for the dead upstream');
is($close && $close->{code}, 1001, 'close code 1001');
is($close && $close->{reason}, 'upstream heartbeat timeout',
   'reason names the upstream');
my $lat = $close ? $close->{at} - $stopped : 99;
cmp_ok($lat, '<', 3.5, 'client told within interval + timeout (+ slack)');
diag(sprintf 'dead upstream close latency (1s/1s): %.3f s', $lat);
$app2->cont;

ok($t->wait_file('logs/ws.log', qr/^([0-9a-f]{22} upstream_timeout)$/m, 5),
   'access log says upstream_timeout');

# --- a healthy session stays up ------------------------------------------

my $h = $t->ws_client("$base/upstream/healthy");
ok($h->expect('open', 10), 'healthy client connected');
$h->drain(3.5);
ok(!$h->seen('close'), 'a healthy session is not closed');
ok(scalar($h->seen('ping')) >= 2, 'and keeps being pinged');
$h->send('close');
ok($h->expect('close', 5), 'it closes normally');

$t->finish;
done_testing;
