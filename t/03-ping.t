#!/usr/bin/perl

# Pings to a real `ws` client and, masked, to a real `ws` upstream; their
# pongs are consumed by nginx; the application's own pings and pongs pass.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use WsHb;

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    log_format ws '$ws_heartbeat_session_id $ws_heartbeat_close_reason '
                  'rtt=$ws_heartbeat_rtt urtt=$ws_heartbeat_upstream_rtt '
                  'pings=$ws_heartbeat_pings pongs=$ws_heartbeat_pongs';

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location / {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%

            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 1s;
            ws_heartbeat_upstream on;

            access_log %%PREFIX%%/logs/ws.log ws;
        }

        # a timeout longer than the interval: pings still every interval

        location /long-timeout {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%

            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 3s;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $url = 'ws://127.0.0.1:' . $t->port('http') . '/chat';
my $c = $t->ws_client($url);

ok($c->expect('open', 10), 'client connected through nginx');

# the client sees our pings: 16 bytes, "WSHB" + cookie + sequence

my $p1 = $c->expect('ping', 5);
my $p2 = $c->expect('ping', 5);

ok($p1 && $p2, 'client receives pings');
is($p1->{len}, 16, 'ping payload is 16 bytes');
like($p1->{hex}, qr/^57534842/, 'ping payload starts with WSHB');
is(substr($p1->{hex}, 0, 24), substr($p2->{hex}, 0, 24),
   'same cookie in every ping of a session');
isnt($p1->{hex}, $p2->{hex}, 'sequence number changes');
cmp_ok($p2->{at} - $p1->{at}, '>', 0.5, 'pings about one interval apart');
cmp_ok($p2->{at} - $p1->{at}, '<', 2.5, 'pings about one interval apart (2)');

# the upstream is pinged too, and never sees the client's pongs

my $up = $app->expect('ping', 5);
ok($up, 'upstream receives masked pings');
like($up->{hex} // '', qr/^57534842/, 'upstream ping payload is ours');

# application traffic and application pings pass through

$c->send('send hello');
my $m = $c->expect('message', 5);
is($m && $m->{text}, 'hello', 'echo through the proxy');

$c->send('ping app-ping');
my $pong = $c->expect('pong', 5);
is($pong && pack('H*', $pong->{hex}), 'app-ping',
   'application ping is answered by the upstream, its pong passes');
my $app_ping = $app->expect('ping', 5, hex => unpack('H*', 'app-ping'));
ok($app_ping, 'application ping reached the upstream');

$c->drain(1.5);
$app->drain(0.5);

my @our = grep { $_->{hex} =~ /^57534842/ } $app->seen('pong');
is(scalar @our, 0, 'upstream never saw a pong to our pings');
my @cpongs = grep { $_->{hex} =~ /^57534842/ } $c->seen('pong');
is(scalar @cpongs, 0, 'client never saw a pong to our pings');

$c->send('close');
ok($c->expect('close', 5), 'client closed normally');

my $line = $t->wait_file('logs/ws.log', qr/^(\S+ client_close .*)$/m, 5);
ok($line, 'access log line written at the end') or diag $t->read_file('logs/ws.log');
like($line // '', qr/^[0-9a-f]{22} client_close rtt=\d+ urtt=\d+ pings=\d+ pongs=\d+$/,
     'access log variables');
my ($pings, $pongs) = ($line // '') =~ /pings=(\d+) pongs=(\d+)/;
cmp_ok($pings // 0, '>=', 4, 'pings counted both ways');
cmp_ok($pongs // 0, '>=', 3, 'pongs counted both ways');

# with ws_heartbeat_timeout 3s and the interval 1s, a ping still goes out
# every second: the pong moves the session's timer on to the next ping
# (it once stayed at the pong's deadline, so pings went every 3 s)

my $lt = $t->ws_client('ws://127.0.0.1:' . $t->port('http') . '/long-timeout');
ok($lt->expect('open', 10), 'long-timeout client connected');
$lt->drain(5.5);
my $n = scalar $lt->seen('ping');
cmp_ok($n, '>=', 4, "a ping every interval, not every timeout ($n in 5.5 s)");
cmp_ok($n, '<=', 7, "no more than one ping per interval ($n in 5.5 s)");

$t->finish;
done_testing;
