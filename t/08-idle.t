#!/usr/bin/perl

# Idle sessions: no data frames either way for ws_heartbeat_idle_timeout
# (pings and pongs do not count) closes the session with 1001 both ways.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use WsHb;

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    log_format ws '$ws_heartbeat_close_reason $ws_heartbeat_pings';

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location / {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%

            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 1s;
            ws_heartbeat_idle_timeout 3s;
            access_log %%PREFIX%%/logs/ws.log ws;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $c = $t->ws_client('ws://127.0.0.1:' . $t->port('http') . '/idle');
ok($c->expect('open', 10), 'connected');
my $start = time;

# data at 2 s pushes the idle deadline to 5 s

$c->drain(2);
$c->send('send still here');
my $m = $c->expect('message', 5);
is($m && $m->{text}, 'still here', 'data flows');
my $data_at = time;

my $close = $c->expect('close', 8);
my $srv = $app->expect('close', 3);
my $idle = $close ? $close->{at} - $data_at : 0;

ok($close, 'client got a close frame');
is($close && $close->{code}, 1001, 'client: code 1001');
is($close && $close->{reason}, 'idle timeout', 'client: reason');
is($srv && $srv->{code}, 1001, 'upstream got 1001 too');
is($srv && $srv->{reason}, 'idle timeout', 'upstream: reason');
cmp_ok($idle, '>', 2.8, "not before 3 s without data ($idle)");
cmp_ok($idle, '<', 5, 'not long after');
ok(scalar($c->seen('ping')) >= 2, 'pings went on meanwhile, and did not count');

ok($t->wait_file('logs/ws.log', qr/^(idle_timeout \d+)$/m, 5),
   'access log says idle_timeout');
ok($t->error_log =~ /no data for 3000 ms, closing session/, 'info log line');

$t->finish;
done_testing;
