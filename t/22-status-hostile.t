#!/usr/bin/perl

# The status endpoint under hostile input: random query strings, huge
# headers and subprotocol lists, bad tokens in bulk, and 300 concurrent
# subscribers (200 WebSocket, 100 SSE) that all get every delta and are
# all counted, then all leave.  Nothing may crash or log an alert.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use List::Util qw(shuffle);
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;
use WsHbFrames qw(connect_ws parse_frames);

my $t = WsHb->new;

$t->write_conf(<<'EOF', workers => 2);
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
        }

        location = /status {
            ws_heartbeat_status;
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

# --- random query strings: 200 or 400, never anything else --------------------

srand(6455);
my %codes;
my @alphabet = ('a' .. 'z', '0' .. '9', split //, '%=&+;-_.~:/[]!$\'()*,');

for my $i (1 .. 300) {
    my $q = join '', map { $alphabet[rand @alphabet] } 1 .. 1 + int rand 60;
    $q = "sessions=1&$q" if $i % 3 == 0;
    $q = "format=json&state=$q" if $i % 5 == 0;
    my $r = $t->get($port, "/status?$q");
    $codes{ $r->{status} }++;
    if ($r->{status} == 400) {
        $codes{one_line}++ if $r->{body} =~ /^[^\n]+\n\z/;
    }
}

ok(!grep({ /^\d+$/ && $_ != 200 && $_ != 400 } keys %codes),
   '300 random query strings: only 200 and 400')
    or diag explain \%codes;
is($codes{one_line}, $codes{400}, 'every 400 has a one-line reason');

# valid parameters in random order and random %-escaping: always 200

sub escape_some {
    my ($v) = @_;
    return join '', map { rand() < 0.5 ? sprintf('%%%02X', ord) : $_ }
                    split //, $v;
}

my $ok = 0;
my @states = qw(healthy awaiting_pong closing passthrough);

for my $i (1 .. 100) {
    my @p = ('sessions=' . escape_some(int rand 100001),
             'state=' . escape_some($states[rand @states]),
             'upstream=' . escape_some('127.0.0.1:' . (1 + int rand 65535)),
             'format=' . escape_some(rand() < 0.5 ? 'json' : 'prometheus'));
    @p = (shuffle @p)[0 .. int rand 4];
    my $r = $t->get($port, '/status?' . join '&', @p);
    $ok++ if $r->{status} == 200;
}

is($ok, 100, '100 valid queries, randomly ordered and escaped: 200');

# --- huge headers ----------------------------------------------------------------

my $r = $t->get($port, '/secure', 'Authorization: Bearer ' . ('x' x 6000));
is($r->{status}, 401, 'a 6 KB bearer token: 401');

my $protocols = join ', ', map { "bearer.t$_" } 1 .. 600;
$r = $t->http($port, "GET /secure HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    . "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    . "Sec-WebSocket-Protocol: $protocols\r\n\r\n");
is($r->{status}, 401, '600 wrong bearer subprotocols: 401');

$r = $t->get($port, '/status', 'X-Big: ' . ('y' x 20000));
is($r->{status}, 400, 'a header over large_client_header_buffers: '
                      . 'nginx answers 400 itself');

$r = $t->get($port, '/status?' . ('sessions=1&' x 700));
is($r->{status}, 200, 'a 7 KB query string of repeats parses');

# an upgrade to something else than WebSocket (curl --http2 over
# cleartext sends "Upgrade: h2c") is an ordinary request here

$r = $t->http($port, "GET /status?sessions=0 HTTP/1.1\r\nHost: x\r\n"
    . "Connection: close, Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    . "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n");
is($r->{status}, 200, 'Upgrade: h2c gets the status document');
ok(eval { decode_json($r->{body}) }, 'as JSON');

my $bad = 0;
for my $i (1 .. 200) {
    my $r = $t->get($port, '/secure', "Authorization: Bearer wrong$i");
    $bad++ if $r->{status} == 401;
}
is($bad, 200, '200 bad tokens in a row: 200 times 401');

# --- 300 concurrent subscribers -------------------------------------------------

my @ws = map { (connect_ws($port, path => '/status'))[0] } 1 .. 200;

my @sse = map {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die $!;
    syswrite $s, "GET /status?format=sse HTTP/1.1\r\nHost: x\r\n\r\n";
    $s;
} 1 .. 100;

my $st;
my $end = time + 10;
do {
    sleep 0.2;
    $st = decode_json($t->get($port, '/status?sessions=0')->{body});
} until ($st->{stream}{subscribers}{websocket} == 200
         && $st->{stream}{subscribers}{sse} == 100) || time > $end;

is($st->{stream}{subscribers}{websocket}, 200, '200 WebSocket subscribers');
is($st->{stream}{subscribers}{sse}, 100, '100 SSE subscribers');

# one session opens: every subscriber gets its "created" delta

my ($s) = connect_ws($port, path => '/ws/many');

my %buf;
my %got;
$end = time + 10;

while (time < $end && keys %got < 300) {
    my @ready = IO::Select->new(@ws, @sse)->can_read(0.5);

    for my $fh (@ready) {
        sysread($fh, $buf{$fh}, 65536, length($buf{$fh} // '')) or next;
        $got{$fh} = 1 if $buf{$fh} =~ m{"type":"created".*"uri":"/ws/many"};
    }
}

is(scalar keys %got, 300, 'all 300 got the created delta');

close $_ for @ws, @sse;
close $s;

$end = time + 10;
do {
    sleep 0.2;
    $st = decode_json($t->get($port, '/status?sessions=0')->{body});
} until ($st->{stream}{subscribers}{websocket} == 0
         && $st->{stream}{subscribers}{sse} == 0) || time > $end;

is($st->{stream}{subscribers}{websocket} + $st->{stream}{subscribers}{sse},
   0, 'and when they leave, none is counted');
cmp_ok($st->{stream}{unsubscribed}{client}, '>=', 300,
       'counted as closed by the client');

$t->finish;
done_testing;
