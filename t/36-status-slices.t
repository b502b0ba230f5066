#!/usr/bin/perl

# The JSON status of a large table goes out in slices, one per turn of the
# event loop: 1 500 sessions (three slices and more) come whole and in
# order over HTTP/1.1 (chunked) and HTTP/1.0 (the connection ends it);
# a reader that stops reading holds the document back, not the worker,
# whose sessions echo meanwhile; once it reads again it gets the rest.
# The delta stream's snapshot goes in slices too: WebSocket fragments (a
# text frame without FIN, continuations, the last with FIN) that `ws`
# puts together, one SSE event, and the deltas that came meanwhile after
# it.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Socket qw(SOL_SOCKET SO_RCVBUF inet_aton pack_sockaddr_in);
use Test::More;
use Time::HiRes qw(time);
use lib 't/lib';
use WsHb;
use WsHbFrames qw(connect_ws frame parse_frames);

my $t = WsHb->new;
$t->need('node');

$t->write_conf(<<'EOF', workers => 1);
    ws_heartbeat_zone ws:4m;

    server {
        # with the reader's 64 KB, far less than the document is in flight
        listen 127.0.0.1:%%PORT_http%% sndbuf=32k;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
        }

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');
my $n = 1500;

my @s = map { (connect_ws($port, path => "/ws/$_"))[0] } 1 .. $n;
is(scalar(grep { defined } @s), $n, "$n sessions");

# a whole answer, read until the server closes

sub raw_get {
    my ($request) = @_;
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
        or die "connect: $!";
    print $c $request;
    local $/;
    my $raw = <$c> // '';
    return $raw;
}

sub dechunk {
    my ($body) = @_;
    my $out = '';
    while ($body =~ s/^([0-9a-f]+)\r\n//i) {
        my $len = hex $1;
        last if $len == 0;
        $out .= substr $body, 0, $len, '';
        $body =~ s/^\r\n//;
    }
    return $out;
}

sub uris {
    my ($doc) = @_;
    return [ map { $_->{uri} } @{ $doc->{sessions} // [] } ];
}

my $want = [ map { "/ws/$_" } 1 .. $n ];

my $raw = raw_get("GET /status?sessions=5000 HTTP/1.1\r\nHost: x\r\n"
                  . "Connection: close\r\n\r\n");
my ($head, $body) = split /\r\n\r\n/, $raw, 2;
like($head, qr/^Transfer-Encoding: chunked/mi, 'HTTP/1.1: chunked');
unlike($head, qr/^Content-Length/mi, 'without a length');
my $doc = eval { decode_json(dechunk($body)) };
ok($doc, 'the document is whole JSON') or diag $@;
is_deeply([ sort @{ uris($doc) } ], [ sort @$want ], 'every session, once');
is($doc->{sessions_matching}, $n, 'as many as match');

($head, $body) = split /\r\n\r\n/, raw_get("GET /status?sessions=5000 "
                                           . "HTTP/1.0\r\n\r\n"), 2;
$doc = eval { decode_json($body) };
ok($doc, 'HTTP/1.0: whole JSON, ended by the connection');
is(scalar @{ uris($doc) }, $n, 'with every session');

$doc = $t->status('/status?sessions=700');
is(scalar @{ uris($doc) }, 700, 'sessions=700 lists 700');

$raw = raw_get("HEAD /status?sessions=5000 HTTP/1.0\r\n\r\n");
like($raw, qr/^HTTP\/1\.1 200/, 'HEAD: 200');
is((split /\r\n\r\n/, $raw, 2)[1] // '', '', 'and no body');

# --- a reader that stops ----------------------------------------------------

# a small receive buffer, set before the connection so that its window
# is small from the start

my $slow = IO::Socket::INET->new(Proto => 'tcp') or die $!;
setsockopt($slow, SOL_SOCKET, SO_RCVBUF, 65536);
$slow->connect(pack_sockaddr_in($port, inet_aton('127.0.0.1'))) or die $!;
print $slow "GET /status?sessions=5000 HTTP/1.0\r\n\r\n";
IO::Select->new($slow)->can_read(5);
sysread $slow, my $first, 1000;
ok(length $first, 'a reader takes the first bytes and stops');

# the same worker still echoes, within a second each time

my $echoed = 0;
my $worst = 0;

for my $i (1 .. 5) {
    my $sock = $s[$i];
    my $t0 = time;
    syswrite $sock, frame(0x81, "hello $i", 'abcd');
    my ($buf, $got) = ('');
    while (!$got && time - $t0 < 5) {
        IO::Select->new($sock)->can_read(1) or next;
        sysread($sock, $buf, 65536, length $buf) or last;
        ($got) = grep { $_->{payload} eq "hello $i" } parse_frames(\$buf);
    }
    $echoed++ if $got;
    $worst = time - $t0 if time - $t0 > $worst;
}
is($echoed, 5, 'the worker echoes while the document waits');
cmp_ok($worst, '<', WsHb::patience(1),
       sprintf('each within a second (the slowest %.3f s)', $worst));

my $rest = '';
while (IO::Select->new($slow)->can_read(10)) {
    sysread($slow, $rest, 65536, length $rest) or last;
}
(undef, $body) = split /\r\n\r\n/, $first . $rest, 2;
$doc = eval { decode_json($body) };
ok($doc, 'once it reads again, it gets the rest: whole JSON');
is(scalar @{ uris($doc) }, $n, 'with every session');

# --- the snapshot of the delta stream ----------------------------------------

my ($ws, $rest_ws) = connect_ws($port, path => '/status');
my ($frames, $buf, $end) = ([], $rest_ws, time + 10);
while (time < $end) {
    push @$frames, parse_frames(\$buf);
    last if grep { $_->{b0} & 0x80 } @$frames;
    IO::Select->new($ws)->can_read(1) or next;
    sysread($ws, $buf, 65536, length $buf) or last;
}
my @data = grep { $_->{opcode} != 9 } @$frames;
cmp_ok(scalar @data, '>', 2, scalar(@data) . ' fragments in all');
is($data[0]{b0}, 0x01, 'the first: a text frame without FIN');
ok(!grep({ $_->{b0} != 0x00 } @data[1 .. $#data - 1]),
   'then continuations without FIN');
is($data[-1]{b0}, 0x80, 'the last: a continuation with FIN');
my $snap = eval { decode_json(join '', map { $_->{payload} } @data) };
is($snap && $snap->{type}, 'snapshot', 'together: the snapshot');
is($snap && scalar @{ $snap->{sessions} }, $n, 'of every session');
close $ws;

my $sub = $t->spawn('node', 't/node/subscriber.js', '--url',
                    "ws://127.0.0.1:$port/status");
my $sse = $t->spawn('node', 't/node/subscriber.js', '--sse', '--url',
                    "http://127.0.0.1:$port/status");
my ($late) = connect_ws($port, path => '/ws/late');

for ([$sub, 'WebSocket'], [$sse, 'SSE']) {
    my ($p, $name) = @$_;
    my $m = $p->expect('message', 20);
    is($m && $m->{data}{type}, 'snapshot', "$name: a snapshot");
    my %uris = map { $_->{uri} => 1 } @{ $m ? $m->{data}{sessions} : [] };
    my $delta = $uris{'/ws/late'} ? undef : $p->expect('message', 10);
    ok(($uris{'/ws/late'} && keys %uris == $n + 1)
       || (keys %uris == $n && $delta && $delta->{data}{type} eq 'created'
           && $delta->{data}{after}{uri} eq '/ws/late'),
       "$name: then the session opened meanwhile, in it or after it");
}

close $_ for @s, $late;

$t->finish;
done_testing;
