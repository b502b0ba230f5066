#!/usr/bin/perl

# Clean closes.  A peer that vanishes without a close frame (its process
# ends: TCP FIN or RST) gets the other side a close frame 1001 "client
# closed" / "upstream closed" where the stream toward it is at a frame
# boundary; mid-frame the stream ends as it is.  After the module sends a
# close frame to a live peer, that peer may answer with its own before
# nginx closes the TCP connection, so that a browser reports wasClean.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time);
use IO::Select;
use lib 't/lib';
use WsHb;
use WsHbFrames qw(frame connect_ws serve_once);

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    server {
        listen 127.0.0.1:%%PORT_http%%;

        ws_heartbeat on;
        ws_heartbeat_interval 1s;
        ws_heartbeat_timeout 1s;
        ws_heartbeat_upstream on;

        %%WS_PROXY%%

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
        }

        location /idle/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            ws_heartbeat_idle_timeout 1s;
        }

        location /frozen/ {
            proxy_pass http://127.0.0.1:%%PORT_frozen%%;
        }

        location = /page {
            default_type text/html;
            return 200 "<html><body>WebSockets</body></html>";
        }

        location /raw/ {
            proxy_pass http://127.0.0.1:%%PORT_raw%%;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');
my $base = "ws://127.0.0.1:$port";

# --- the upstream's process ends: the client is told ----------------------

my $c = $t->ws_client("$base/ws/die");
ok($c->expect('open', 10), 'client connected');
$c->send('send die');
my $ev = $c->expect('close', 5);
is($ev && $ev->{code}, 1001, 'the upstream dropped its socket: 1001');
is($ev && $ev->{reason}, 'upstream closed', 'and why');

# --- the client's process ends: the upstream is told ------------------------

$c = $t->ws_client("$base/ws/vanish");
ok($c->expect('open', 10), 'client connected');
my $open = $app->expect('open', 5, url => '/ws/vanish');
ok($open, 'the upstream saw it');
$c->kill;
$ev = $app->expect('close', 5, id => $open ? $open->{id} : 0);
is($ev && $ev->{code}, 1001, 'the client process ended: 1001 upstream');
is($ev && $ev->{reason}, 'client closed', 'and why');

# --- mid-frame, the stream ends as it is -------------------------------------

my $half = substr(frame(0x82, 'z' x 100), 0, 40);
serve_once($t->port('raw'), run => sub {
    my ($s) = @_;
    syswrite $s, $half;
    select undef, undef, undef, 0.3;
    close $s;
});

my ($s, $got) = connect_ws($port, path => '/raw/');
my $sel = IO::Select->new($s);
while ($sel->can_read(5)) {
    sysread($s, $got, 65536, length $got) or last;
}
is(unpack('H*', $got), unpack('H*', $half),
   'an upstream gone mid-frame: its bytes and the end of the stream, '
   . 'nothing else');
close $s;

# --- what a browser reports ---------------------------------------------------

SKIP: {
    skip 'no /usr/bin/chromium', 8
        unless -x ($ENV{CHROMIUM} // '/usr/bin/chromium');
    skip 'no playwright-core in t/node', 8
        unless -d "$WsHb::NODE_DIR/node_modules/playwright-core";

    my $frozen = $t->ws_server($t->port('frozen'));
    my $b = $t->spawn('node', "$WsHb::NODE_DIR/browser.js",
                      '--page', "http://127.0.0.1:$port/page");
    ok($b->expect('ready', 30), 'headless Chromium runs');

    # five sessions of each kind, at once

    my %want = (die => [1001, 'upstream closed'],
                idle => [1001, 'idle timeout'],
                zombie => [1001, 'upstream heartbeat timeout']);
    my %url = (die => "$base/ws/", idle => "$base/idle/",
               zombie => "$base/frozen/");

    for my $kind (sort keys %want) {
        $b->send("open $kind$_ $url{$kind}") for 1 .. 5;
    }

    # the idle ones may close before the last one opens: every event
    # read counts, whatever was waited for when it came

    my $wait = sub {
        my ($name, $n) = @_;
        my $end = time + WsHb::patience(20);
        $b->event($end - time) while $b->seen($name) < $n && time < $end;
        return map { $_->{n} => $_ } $b->seen($name);
    };

    my %open = $wait->('open', 15);
    is(scalar keys %open, 15, 'fifteen sockets open');

    $frozen->stop;
    $b->send("send die$_ die") for 1 .. 5;

    my %close = $wait->('close', 15);

    for my $kind (sort keys %want) {
        my @e = map { $close{"$kind$_"} } 1 .. 5;
        is(scalar(grep { $_ && $_->{code} == $want{$kind}[0]
                          && $_->{reason} eq $want{$kind}[1] } @e),
           5, "$kind: all five closed with $want{$kind}[0] "
              . "'$want{$kind}[1]'");
        is(scalar(grep { $_ && $_->{wasClean} } @e), 5,
           "$kind: and the browser calls all five clean");
    }

    $frozen->cont;
}

$t->finish;
done_testing;
