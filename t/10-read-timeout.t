#!/usr/bin/perl

# A quiet but healthy session outlives proxy_read_timeout once heartbeats
# are on (the pongs keep nginx's own timer from firing), while the same
# session without heartbeats is cut after proxy_read_timeout.  With pings
# rarer than proxy_read_timeout, nginx's timeout ends the session, and
# $ws_heartbeat_close_reason says so.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use WsHb;

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    log_format ws '$uri $ws_heartbeat_close_reason';

    server {
        listen 127.0.0.1:%%PORT_http%%;

        %%WS_PROXY%%
        proxy_read_timeout 2s;
        access_log %%PREFIX%%/logs/ws.log ws;

        location /plain/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
        }

        location /hb/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 1s;
        }

        location /hb-rare/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            ws_heartbeat on;
            ws_heartbeat_interval 60s;
        }

        location /hb-upstream/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 1s;
            ws_heartbeat_upstream on;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $base = 'ws://127.0.0.1:' . $t->port('http');
my %c = map { $_ => $t->ws_client("$base/$_/") }
    qw(plain hb hb-upstream hb-rare);

ok($c{$_}->expect('open', 10), "$_ connected") for sort keys %c;

my $close = $c{plain}->expect('close', 5);
ok($close, 'without heartbeats the quiet session is cut by proxy_read_timeout');
ok($c{'hb-rare'}->expect('close', 5),
   'pings every 60s: the quiet session is cut by proxy_read_timeout');

$c{$_}->drain(2) for qw(hb hb-upstream);
ok(!$c{$_}->seen('close'), "$_: still open after twice proxy_read_timeout")
    for qw(hb hb-upstream);

for my $name (qw(hb hb-upstream)) {
    $c{$name}->send('send alive');
    my $m = $c{$name}->expect('message', 5);
    is($m && $m->{text}, 'alive', "$name: data still flows");
}

$_->kill for values %c;
$t->finish;

my $log = $t->read_file('logs/ws.log');
like($log, qr{^/hb-rare/ proxy_timeout$}m,
     'the reason logged is proxy_timeout');
like($log, qr{^/plain/ -$}m, 'no reason for a session without heartbeats');

done_testing;
