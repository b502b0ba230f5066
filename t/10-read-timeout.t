#!/usr/bin/perl

# A quiet but healthy session outlives proxy_read_timeout once heartbeats
# are on (the pongs keep nginx's own timer from firing), while the same
# session without heartbeats is cut after proxy_read_timeout.

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

        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
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
my %c = map { $_ => $t->ws_client("$base/$_/") } qw(plain hb hb-upstream);

ok($c{$_}->expect('open', 10), "$_ connected") for sort keys %c;

my $close = $c{plain}->expect('close', 5);
ok($close, 'without heartbeats the quiet session is cut by proxy_read_timeout');

$c{$_}->drain(2) for qw(hb hb-upstream);
ok(!$c{$_}->seen('close'), "$_: still open after twice proxy_read_timeout")
    for qw(hb hb-upstream);

for my $name (qw(hb hb-upstream)) {
    $c{$name}->send('send alive');
    my $m = $c{$name}->expect('message', 5);
    is($m && $m->{text}, 'alive', "$name: data still flows");
}

$t->finish;
done_testing;
