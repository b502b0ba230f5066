#!/usr/bin/perl

# The delta stream, with two workers: a subscriber that applies the
# snapshot and the deltas holds exactly the table GET returns; seq is
# global and gapless; deltas from the other worker arrive (latency
# measured); ?since= and Last-Event-ID resume from the ring or get a
# snapshot marked resync; SSE works and is pinged with comments; zombie,
# slow and rude subscribers are handled; tokens and subprotocols; reload
# closes subscribers with 1001.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;
use WsHbFrames qw(connect_ws frame parse_frames);

my $t = WsHb->new;

$t->write_conf(<<'EOF', workers => 2);
    ws_heartbeat_zone ws:1m;
    ws_heartbeat_stream_ring 64;

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;

        %%WS_PROXY%%
        ws_heartbeat on;

        # no pings on the proxied sessions: the table changes only when
        # sessions open and close, so that it can be compared exactly
        ws_heartbeat_interval 1h;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
        }

        location = /status {
            ws_heartbeat_status;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 1s;
        }

        location = /slow {
            ws_heartbeat_status;
            ws_heartbeat_stream_backlog 16k;
        }

        location = /sse-zombie {
            ws_heartbeat_status;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 1s;
            ws_heartbeat_stream_backlog 64m;
        }

        location = /secure {
            ws_heartbeat_status;
            ws_heartbeat_status_token s3cret;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');
my $ws_url = "ws://127.0.0.1:$port";
my $http_url = "http://127.0.0.1:$port";

sub subscriber {
    my (@args) = @_;
    return $t->spawn('node', 't/node/subscriber.js', @args);
}

sub status { $t->status('/status?sessions=100000') }

# raw sessions through the proxy, spread over both workers by reuseport

my @open;

sub open_sessions {
    my ($n) = @_;
    push @open, (connect_ws($port, path => "/ws/s$_"))[0] for 1 .. $n;
}

sub close_sessions {
    my ($n) = @_;
    close(shift @open) for 1 .. $n;
}

# applies one message to a table (id => session object)

sub apply {
    my ($table, $m) = @_;

    if ($m->{type} eq 'snapshot') {
        %$table = map { $_->{id} => $_ } @{ $m->{sessions} };
        for my $s (values %$table) {
            delete @$s{qw(age_ms)};
            delete @{ $s->{$_} }{qw(last_rx_ms_ago last_pong_ms_ago)}
                for qw(client upstream);
        }
    } elsif ($m->{type} eq 'deleted') {
        delete $table->{ $m->{sessionId} };
    } else {
        $table->{ $m->{sessionId} } = $m->{after};
    }
}

# GET's sessions, without the fields relative to now

sub get_table {
    my ($doc) = @_;
    my %t;

    for my $s (@{ $doc->{sessions} }) {
        delete $s->{age_ms};
        delete @{ $s->{$_} }{qw(last_rx_ms_ago last_pong_ms_ago)}
            for qw(client upstream);
        $t{ $s->{id} } = $s;
    }

    return \%t;
}

# reads a subscriber until it has seen delta $seq

sub read_until {
    my ($sub, $seq, $timeout) = @_;
    my $end = time + ($timeout // 10);
    my @m = $sub->seen('message');

    return 1 if @m && $m[-1]{data}{seq} >= $seq;

    # one event at a time: thousands may be waiting on a loaded machine

    for (;;) {
        my $left = $end - time;
        return 0 if $left <= 0;
        my $ev = $sub->event($left) or return 0;
        return 1 if $ev->{event} eq 'message'
                    && ($ev->{data}{seq} // 0) >= $seq;
    }
}

# --- the snapshot, then deltas that rebuild GET's table ----------------------

my $s1 = subscriber('--url', "$ws_url/status");
ok($s1->expect('open', 10), 'WebSocket subscriber connected');

my $first = $s1->expect('message', 5);
my $snap = $first ? $first->{data} : {};
is($snap->{type}, 'snapshot', 'the first message is a snapshot');
is($snap->{resync}, JSON::PP::false, 'not a resync');
is_deeply($snap->{sessions}, [], 'of an empty table');
my $worker = $snap->{worker};

open_sessions(24);
close_sessions(8);
open_sessions(6);
close_sessions(4);

# quiet now: the sessions are open and idle, no pings on them

my $doc;
my $end = time + 10;

do {
    sleep 0.2;
    $doc = status();
} until (($doc->{sessions_by_state}{healthy} // 0) == 18 || time > $end);

is($doc->{sessions_by_state}{healthy}, 18, 'GET sees the 18 open sessions');

my $seq = $doc->{stream}{seq};
ok(read_until($s1, $seq), "the subscriber got every delta up to $seq");

my %table;
my @msgs = map { $_->{data} } $s1->seen('message');
apply(\%table, $_) for @msgs;

is_deeply(\%table, get_table($doc),
          'snapshot + deltas equal the table GET returns');

my @seqs = map { $_->{seq} } @msgs;
is_deeply(\@seqs, [$snap->{seq} .. $seqs[-1]],
          'seq rises by one with every message');

my %types;
$types{ $_->{type} }++ for @msgs;
is($types{created}, 30, '30 created deltas');
is($types{deleted}, 12, '12 deleted deltas');

my @deleted = grep { $_->{type} eq 'deleted' } @msgs;
ok(!grep({ $_->{after} || !$_->{before} } @deleted),
   'deleted carries before only');
ok(!grep({ ($_->{reason} // '') ne 'client_close' } @deleted),
   'deleted carries the close reason');
ok(!grep({ $_->{before} || !$_->{after} }
         grep { $_->{type} eq 'created' } @msgs),
   'created carries after only');
ok(!grep({ $_->{timestamp} !~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/ }
         @msgs[1 .. $#msgs]),
   'timestamps are RFC 3339 with milliseconds');

# deltas made by the other worker, and how long they took to arrive

my @lat;

for my $ev ($s1->seen('message')) {
    my $m = $ev->{data};
    next if $m->{type} eq 'snapshot';
    my $s = $m->{after} // $m->{before};
    next if $s->{pid} == $worker;
    my ($y, $mo, $d, $h, $mi, $sec) = $m->{timestamp}
        =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):([\d.]+)Z$/;
    require Time::Local;
    my $at = Time::Local::timegm(0, $mi, $h, $d, $mo - 1, $y) + $sec;
    push @lat, $ev->{t} - $at;
}

ok(@lat >= 5, scalar(@lat) . ' deltas came from the other worker');
@lat = sort { $a <=> $b } @lat;
my $p99 = $lat[int(0.99 * $#lat)] // 99;
diag(sprintf 'cross-worker delta latency: median %.1f ms, p99 %.1f ms '
             . '(n=%d)', 1000 * $lat[int($#lat / 2)], 1000 * $p99,
             scalar @lat) if @lat;
ok($p99 < 0.5, 'cross-worker deltas arrive within 500 ms (p99)');

# --- resume ------------------------------------------------------------------

my $from = $snap->{seq} + 20;
my $s2 = subscriber('--url', "$ws_url/status?since=$from");
my $m = $s2->expect('message', 10);
is($m && $m->{data}{seq}, $from + 1, '?since=N replays from N+1');
ok(read_until($s2, $seq), 'up to the last one');
is_deeply([map { $_->{data} } $s2->seen('message')],
          [grep { $_->{seq} > $from } @msgs],
          'the same deltas the first subscriber got');
$s2->kill;

# SSE, and Last-Event-ID

my $s3 = subscriber('--sse', '--url', "$http_url/status",
                    '--last-event-id', $from);
my $open = $s3->expect('open', 10);
is($open && $open->{type}, 'text/event-stream', 'SSE content type');
$m = $s3->expect('message', 5);
is($m && $m->{id}, $from + 1, 'Last-Event-ID resumes, event ids are seq');
is($m && $m->{data}{seq}, $from + 1, 'with the same messages');
ok($s3->expect('comment', 4, text => 'ping'), 'SSE subscribers get pings');

# more deltas than the ring holds: an old resume gets a fresh snapshot

open_sessions(40);
close_sessions(40);

$m = undef;
$end = time + 10;
do { sleep 0.2; $doc = status() } until $doc->{stream}{seq} >= $seq + 80
                                         || time > $end;
cmp_ok($doc->{stream}{oldest_seq}, '>', $from + 1, 'the ring moved on');
my $resyncs = $doc->{stream}{resyncs};

my $s4 = subscriber('--url', "$ws_url/status?since=$from");
$m = $s4->expect('message', 10);
is($m && $m->{data}{type}, 'snapshot', 'a resume older than the ring ...');
is($m && $m->{data}{resync}, JSON::PP::true, '... gets a resync snapshot');
is($m && scalar @{ $m->{data}{sessions} }, 18, 'of the current table');
$s4->kill;

my $s5 = subscriber('--url', "$ws_url/status?since=999999999");
$m = $s5->expect('message', 10);
is($m && $m->{data}{resync}, JSON::PP::true,
   'a resume from the future gets one too');
$s5->kill;

ok(read_until($s1, $doc->{stream}{seq}), 'the first subscriber kept up');
is(status()->{stream}{resyncs} - $resyncs, 2,
   'both resync snapshots are counted');

# --- subscriber hygiene ------------------------------------------------------

# a subscriber that never answers pings is closed as a zombie

my $z = subscriber('--url', "$ws_url/status", '--no-pong');
ok($z->expect('open', 10), 'a subscriber that does not answer pings');
my $t0 = time;
my $close = $z->expect('close', 6);
is($close && $close->{code}, 1001, 'is closed with 1001');
cmp_ok(($close ? $close->{at} : 99) - $t0, '<', 4.5,
       'within interval + timeout (1s + 1s) and some slack');

# unknown frames are ignored, a close frame is answered

my ($raw, $rest) = connect_ws($port, path => '/status');
syswrite $raw, frame(0x81, 'hello', 'abcd');
syswrite $raw, frame(0x82, 'x' x 300, 'abcd');

my $buf = $rest;
$end = time + 4;
my @frames;

while (time < $end) {
    IO::Select->new($raw)->can_read(0.5) or next;
    sysread($raw, $buf, 65536, length $buf) or last;
    push @frames, parse_frames(\$buf);
    last if grep { $_->{opcode} == 9 } @frames;
}

ok((grep { $_->{opcode} == 1 } @frames), 'a snapshot after rude frames');
ok((grep { $_->{opcode} == 9 } @frames), 'and a ping: still subscribed');

syswrite $raw, frame(0x88, pack('n', 1000), 'abcd');
@frames = ();
$end = time + 4;
my $eof = 0;

while (time < $end) {
    IO::Select->new($raw)->can_read(0.5) or next;
    my $n = sysread($raw, $buf, 65536, length $buf);
    push @frames, parse_frames(\$buf);
    if (!$n) { $eof = 1; last }
}

my ($cf) = grep { $_->{opcode} == 8 } @frames;
is($cf && unpack('n', $cf->{payload}), 1000, 'a close frame is answered');
ok($eof, 'and the connection closed');

# a subscriber that stops reading is closed once its backlog passes the
# limit (16k here), and counted

socket(my $slow, Socket::PF_INET(), Socket::SOCK_STREAM(), 0) or die $!;
setsockopt($slow, SOL_SOCKET, SO_RCVBUF, 4096);
connect($slow, Socket::pack_sockaddr_in($port, Socket::inet_aton('127.0.0.1')))
    or die "connect: $!";
syswrite $slow, "GET /slow HTTP/1.1\r\nHost: localhost\r\n"
    . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    . "Sec-WebSocket-Version: 13\r\n\r\n";

my $slow_before = status()->{stream}{unsubscribed}{slow};
$end = time + WsHb::patience(30);

while (time < $end) {
    open_sessions(20);
    close_sessions(20);
    last if status()->{stream}{unsubscribed}{slow} > $slow_before;
}

is(status()->{stream}{unsubscribed}{slow}, $slow_before + 1,
   'a subscriber that does not read is closed past its backlog');

$buf = '';
$eof = 0;
$end = time + 10;
while (time < $end) {
    IO::Select->new($slow)->can_read(0.5) or next;
    sysread($slow, $buf, 65536, length $buf) or do { $eof = 1; last };
}
ok($eof, 'its connection is closed');

# an SSE subscriber cannot answer pings: it is a zombie when its socket
# takes none of what is queued for a timeout (a reader that stopped, its
# receive buffer full); the backlog limit is far away here

socket(my $stuck, Socket::PF_INET(), Socket::SOCK_STREAM(), 0) or die $!;
setsockopt($stuck, SOL_SOCKET, SO_RCVBUF, 4096);
connect($stuck,
        Socket::pack_sockaddr_in($port, Socket::inet_aton('127.0.0.1')))
    or die "connect: $!";
syswrite $stuck, "GET /sse-zombie?format=sse HTTP/1.1\r\nHost: x\r\n\r\n";

my $zombie_before = status()->{stream}{unsubscribed}{zombie};
$end = time + 40;

while (time < $end) {
    open_sessions(20);
    close_sessions(20);
    last if status()->{stream}{unsubscribed}{zombie} > $zombie_before;
}

is(status()->{stream}{unsubscribed}{zombie}, $zombie_before + 1,
   'an SSE subscriber whose socket takes nothing is closed as a zombie');
is(status()->{stream}{unsubscribed}{slow}, $slow_before + 1,
   'not as a slow consumer');
close $stuck;

# --- access control ----------------------------------------------------------

my $anon = subscriber('--url', "$ws_url/secure");
$m = $anon->expect('refused', 10);
is($m && $m->{status}, 401, 'no token: 401');

my $tok = subscriber('--url', "$ws_url/secure", '--protocol', 'bearer.s3cret');
$m = $tok->expect('open', 10);
is($m && $m->{protocol}, 'bearer.s3cret', 'bearer subprotocol accepted, echoed');
ok($tok->expect('message', 5), 'and subscribed');
$tok->kill;

my $sse_tok = subscriber('--sse', '--url', "$http_url/secure",
                         '--header', 'Authorization: Bearer s3cret');
$m = $sse_tok->expect('open', 10);
is($m && $m->{status}, 200, 'SSE with a bearer token');
$sse_tok->kill;

my $r = $t->http($port, "GET /status HTTP/1.1\r\nHost: x\r\n"
    . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    . "Sec-WebSocket-Version: 13\r\n\r\n");
is($r->{status}, 400, 'a handshake without a key: 400');
like($r->{body}, qr/Sec-WebSocket-Key/, 'saying what is missing');

$r = $t->get($port, '/status?format=sse', 'Last-Event-ID: x');
is($r->{status}, 400, 'a bad Last-Event-ID: 400');

$r = $t->get($port, '/secure?format=html');
is($r->{status}, 200, 'the dashboard page needs no token');
like($r->{headers}{'content-type'}, qr{^text/html}, 'as HTML');
like($r->{headers}{'content-security-policy'}, qr/default-src 'none'/,
     'with a strict CSP');

# --- the counts, then a reload ends old workers' subscribers with 1001 -------

$end = time + 5;
do { sleep 0.2; $doc = status() }
    until $doc->{stream}{subscribers}{websocket} == 1 || time > $end;
is($doc->{stream}{subscribers}{websocket}, 1,
   'status counts the one WebSocket subscriber left');
is($doc->{stream}{subscribers}{sse}, 1, 'and the SSE one');
cmp_ok($doc->{stream}{unsubscribed}{zombie}, '>=', 1, 'zombies are counted');

# Both read up to now first: at shutdown nginx waits 1 s for a
# subscriber's backlog to drain before it cuts the connection, and a
# loaded machine lets the thousands of deltas above pile up in these
# clients' pipes while the test does not read them.

$seq = status()->{stream}{seq};
ok(read_until($s1, $seq, WsHb::patience(20)),
   'the WebSocket subscriber read everything before the reload');
ok(read_until($s3, $seq, WsHb::patience(20)), 'and the SSE one');

$t->reload;
$close = $s1->expect('close', WsHb::patience(10));
is($close && $close->{code}, 1001, 'reload: subscribers get 1001');
ok($s3->expect('close', WsHb::patience(10)), 'and the event stream ends');

close $_ for @open;

$t->finish;
done_testing;
