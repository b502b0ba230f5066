#!/usr/bin/perl

# No false zombies under backpressure: a client that reads slowly while
# megabytes are queued for it, and a client whose pong is stuck behind its
# own data because the upstream stopped reading, both stay connected and
# every byte arrives.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use WsHb;

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    server {
        listen 127.0.0.1:%%PORT_http%%;

        ws_heartbeat on;
        ws_heartbeat_interval 1s;
        ws_heartbeat_timeout 1s;

        %%WS_PROXY%%

        location /stream/ {
            proxy_pass http://127.0.0.1:%%PORT_stream%%;
        }

        location /sink/ {
            proxy_pass http://127.0.0.1:%%PORT_sink%%;
        }
    }
EOF

my $stream = $t->ws_server($t->port('stream'), '--mode', 'stream');
my $sink = $t->ws_server($t->port('sink'), '--mode', 'none', '--count',
                         '--pause-ms', 4000);
$t->run('http');

my $base = 'ws://127.0.0.1:' . $t->port('http');

# --- a slow reader with megabytes queued ------------------------------------

my $size = 64 * 1024 * 1024;
my $c = $t->ws_client("$base/stream/slow");
ok($c->expect('open', 10), 'slow reader connected');

$c->send('slow 600 10');
$c->send("send $size");

my ($last, $closed);

while (my $ev = $c->event(30)) {
    if ($ev->{event} eq 'close') {
        $closed = $ev;
        last;
    }

    $last = $ev->{total} if $ev->{event} eq 'message';
    last if ($last // 0) >= $size;
}

ok(!$closed, 'slow reader was not closed as a zombie')
    or diag explain $closed;
is($last, $size, 'slow reader got every byte');

my @pings = $c->seen('ping');
my $took = $c->{events}[-1]{at} - $c->{events}[0]{at};
cmp_ok($took, '>', 3, "the transfer took several timeouts ($took s)");
ok(@pings >= 1, 'pings reached the slow reader through the queue');
$c->send('close');
ok($c->expect('close', 10), 'slow reader closes normally');

# --- a pong stuck behind the client's own data --------------------------------

my $w = $t->ws_client("$base/sink/writer");
ok($w->expect('open', 10), 'writer connected');
ok($sink->expect('open', 5), 'sink saw it');

# 16 MB toward an upstream that does not read for 4 s: nginx holds the
# client's bytes, and its pongs wait behind them

$w->send('sendmany 256 65536');
ok($w->expect('queued', 10), 'writer queued 16 MB');

my $got = 0;
while ($got < 256 * 65536) {
    my $ev = $sink->expect('total', 20) or last;
    $got = $ev->{total};
}

is($got, 256 * 65536, 'every byte reached the upstream after it resumed');
$w->drain(0.5);
ok(!$w->seen('close'), 'writer was not closed as a zombie');
ok($t->error_log !~ /did not answer ping/, 'no zombie was declared');

$w->send('close');
ok($w->expect('close', 10), 'writer closes normally');

$t->finish;
done_testing;
