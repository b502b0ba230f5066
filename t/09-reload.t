#!/usr/bin/perl

# Reload with live sessions: the old worker stops pinging and closes its
# sessions with 1001 spread over ws_heartbeat_drain, then exits; new
# sessions go to the new worker meanwhile.  A session passed through (its
# stream stopped parsing) is drained too, without a close frame.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time sleep);
use IO::Select;
use lib 't/lib';
use WsHb;
use WsHbFrames qw(frame connect_ws serve_once);

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    ws_heartbeat_drain 3s;
    log_format ws '$ws_heartbeat_close_reason';

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location / {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%

            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 1s;
            access_log %%PREFIX%%/logs/ws.log ws;
        }

        location /raw/ {
            proxy_pass http://127.0.0.1:%%PORT_raw%%;
            %%WS_PROXY%%

            ws_heartbeat on;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $url = 'ws://127.0.0.1:' . $t->port('http') . '/r';
my @old = map { $t->ws_client("$url/$_") } 1 .. 8;
ok($_->expect('open', 10), 'old session open') for @old;

# a session passed through: a reserved opcode, to a backend that reads on

serve_once($t->port('raw'), run => sub {
    my ($s) = @_;
    1 while sysread $s, my $buf, 65536;
});

my ($raw) = connect_ws($t->port('http'), path => '/raw/');
syswrite $raw, frame(0x83, 'reserved opcode', 'abcd');
ok($t->wait_log(qr/does not parse/, 5), 'a session is passed through');

my @workers = $t->worker_pids;
is(scalar @workers, 1, 'one worker before the reload');

$t->reload;
my $reloaded = time;

# the new worker takes new sessions while the old one drains

sleep 0.5;
my $new = $t->ws_client("$url/new");
ok($new->expect('open', 10), 'a new session opens during the drain');

my @at;
for my $c (@old) {
    my $close = $c->expect('close', 8);
    ok($close && $close->{code} == 1001
       && $close->{reason} eq 'server shutting down',
       'old session closed with 1001 "server shutting down"');
    push @at, $close ? $close->{at} - $reloaded : 99;
}

my $sel = IO::Select->new($raw);
my $eof;
while ($sel->can_read(8)) {
    sysread($raw, my $buf, 65536) and next;
    $eof = time - $reloaded;
    last;
}
ok($eof, 'the passed-through session was drained too');
cmp_ok($eof // 99, '<', 3 + 1 + 2, 'within drain + 1 s (+ slack)');

@at = sort { $a <=> $b } @at;
diag(sprintf 'closes after reload: %s', join ' ', map { sprintf '%.2f', $_ } @at);
cmp_ok($at[-1], '<', 3 + 1 + 2, 'all closed within drain + 1 s (+ slack)');
cmp_ok($at[-1] - $at[0], '>', 1.5, 'closes are spread over the window');

my $end = time + 10;
sleep 0.1 while time < $end && kill 0, $workers[0];
ok(!kill(0, $workers[0]), 'old worker exited');

ok($t->wait_file('logs/ws.log', qr/^(shutdown)$/m, 3),
   'access log says shutdown');

$new->send('send still works');
my $m = $new->expect('message', 5);
is($m && $m->{text}, 'still works', 'the new session is unaffected');
ok(!$new->seen('close'), 'and was not closed');

$t->finish;
done_testing;
