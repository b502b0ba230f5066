#!/usr/bin/perl

# Frozen peers that still take data: a process stopped with SIGSTOP keeps
# its kernel acknowledging bytes into its receive buffer.  While the other
# side pushes data toward it, it is still closed within about interval +
# timeout of its last sign of life, whatever the kernel's buffers, in
# either direction; a slow reader that still reads keeps its session.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time);
use lib 't/lib';
use WsHb;

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    server {
        listen 127.0.0.1:%%PORT_http%%;

        ws_heartbeat on;
        ws_heartbeat_interval 1s;
        ws_heartbeat_timeout 1s;
        ws_heartbeat_upstream on;

        %%WS_PROXY%%

        location /push1k/ {
            proxy_pass http://127.0.0.1:%%PORT_push1k%%;
        }

        location /push16k/ {
            proxy_pass http://127.0.0.1:%%PORT_push16k%%;
        }

        location /push64k/ {
            proxy_pass http://127.0.0.1:%%PORT_push64k%%;
        }

        location /sink/ {
            proxy_pass http://127.0.0.1:%%PORT_sink%%;
        }
    }
EOF

my %up;
$up{$_} = $t->ws_server($t->port("push$_"), '--mode', 'silent',
                        '--push', ($_ =~ /(\d+)/)[0] * 1024 . ',50')
    for qw(1k 16k 64k);
$up{sink} = $t->ws_server($t->port('sink'), '--mode', 'silent');
$t->run('http');

my $base = 'ws://127.0.0.1:' . $t->port('http');

# the bound the issue sets: interval + timeout + 1 s after the last sign of
# life, with room for a loaded machine (today's code took over a minute)
my $bound = WsHb::patience(1 + 1 + 1 + 1.5);

# --- frozen clients, the upstream pushing 1, 16 and 64 KB every 50 ms -------

my %c;

for my $k (qw(1k 16k 64k)) {
    $c{$k} = $t->ws_client("$base/push$k/");
    ok($c{$k}->expect('open', 10), "client of the $k pusher connected");
    ok($up{$k}->expect('open', 5), "and the $k pusher saw it");
    ok($c{$k}->expect('message', 5), "data flows from the $k pusher");
}

# the upstream frozen while the client pushes 1 KB every 50 ms

my $w = $t->ws_client("$base/sink/");
ok($w->expect('open', 10), 'client of the sink connected');
ok($up{sink}->expect('open', 5), 'and the sink saw it');
$w->send('push 1024 50');
ok($w->expect('pushing', 5), 'the client pushes toward the sink');

# both peers answered a ping first: they are known alive

ok($c{$_}->expect('ping', 5), "client of the $_ pusher was pinged")
    for qw(1k 16k 64k);
ok($up{sink}->expect('ping', 5), 'the sink was pinged');

my $frozen = time;
$c{$_}->stop for qw(1k 16k 64k);
$up{sink}->stop;

for my $k (qw(1k 16k 64k)) {
    my $ev = $up{$k}->expect('close', $bound + 5);
    my $took = $ev ? $ev->{at} - $frozen : 'never';

    ok($ev, "the $k pusher was told its client is gone");
    is($ev && $ev->{code}, 1001, 'with 1001');
    is($ev && $ev->{reason}, 'client heartbeat timeout', 'and why');
    cmp_ok($took, '<=', $bound,
           "frozen client under 50 ms x $k closed in $took s");
    diag(sprintf "frozen client, $k every 50 ms: closed after %.2f s", $took)
        if $ev;
}

my $ev = $w->expect('close', $bound + 5);
my $took = $ev ? $ev->{at} - $frozen : 'never';
ok($ev, 'the client was told its upstream is gone');
is($ev && $ev->{code}, 1001, 'with 1001');
is($ev && $ev->{reason}, 'upstream heartbeat timeout', 'and why');
cmp_ok($took, '<=', $bound, "frozen upstream closed in $took s");
diag(sprintf "frozen upstream, 1k every 50 ms: closed after %.2f s", $took)
    if $ev;

like($t->error_log, qr/client did not answer ping/, 'client timeouts logged');
like($t->error_log, qr/upstream did not answer ping/,
     'upstream timeout logged');

$up{sink}->cont;
$c{$_}->kill for qw(1k 16k 64k);

# --- a slow reader that still reads keeps its session -------------------------

# reads for 10 ms every 600 ms while 64 KB arrive every 50 ms: its window is
# closed most of the time, and its pongs wait behind a growing backlog

my $s = $t->ws_client("$base/push64k/slow");
ok($s->expect('open', 10), 'slow reader connected');
$s->send('slow 600 10');

my $until = time + WsHb::patience(8);
my ($first, $last, $closed);

while (time < $until) {
    my $e = $s->event($until - time) or last;
    $closed = $e, last if $e->{event} eq 'close';
    next unless $e->{event} eq 'message';
    $first //= $e->{total};
    $last = $e;
}

ok(!$closed, 'the slow reader was not closed') or diag explain $closed;
ok($last && $last->{at} > $until - 2,
   'it was still reading at the end');
cmp_ok($last ? $last->{total} - $first : 0, '>', 1024 * 1024,
       'over a megabyte reached it meanwhile');
my $n = () = $t->error_log =~ /client did not answer ping/g;
is($n, 3, 'no client timeout but the three frozen ones');
$s->kill;

$t->finish;
done_testing;
