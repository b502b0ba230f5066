#!/usr/bin/perl

# Fail open: an upgrade to something other than WebSocket (asked for by
# the client, or answered by the upstream's 101 instead of a WebSocket
# one), and a WebSocket stream that stops parsing, are passed through
# untouched from then on, with one log line.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep);
use lib 't/lib';
use WsHb;
use WsHbFrames qw(frame parse_frames connect_ws serve_once pump);

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location = /status {
            ws_heartbeat_status;
        }

        location / {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%

            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 1s;
        }
    }
EOF

$t->run('http');

# an echo backend that records everything it got

sub echo_backend {
    my ($name, %o) = @_;
    my $prefix = $t->prefix;

    return serve_once($t->port('app'), %o, run => sub {
        my ($s, $rest) = @_;
        my $raw = $rest;
        syswrite $s, $rest if length $rest && $o{echo};

        pump(socket => $s, chunks => [], timeout => 4,
             on_read => sub {
                 $raw .= $_[0];
                 syswrite $s, $_[0] if $o{echo};
                 ();
             },
             done => sub { 0 });

        open my $fh, '>', "$prefix/$name" or die;
        binmode $fh;
        print $fh $raw;
        close $fh;
    });
}

# read for a while; returns all bytes

sub collect {
    my ($s, $seconds, $send) = @_;
    my $got = '';
    pump(socket => $s, chunks => $send // [], timeout => $seconds,
         on_read => sub { $got .= $_[0]; () }, done => sub { 0 });
    return $got;
}

# --- not WebSocket -----------------------------------------------------------

my $pid = echo_backend('raw.bin', upgrade => 'foo/1', echo => 1);
my ($s, $rest) = connect_ws($t->port('http'), upgrade => 'foo/1',
                            early => "\x89\x05hello");
my $bytes = "\x8a\x10WSHB-not-really\x00\x01\x02 raw bytes, no frames";
my $got = $rest . collect($s, 2.5, [[$bytes, 1]]);
waitpid $pid, 0;

is($got, "\x89\x05hello$bytes", 'non-WebSocket upgrade echoed exactly');
is($t->read_file('raw.bin'), "\x89\x05hello$bytes",
   'and reached the backend exactly');
ok($t->error_log =~ /upgrade is not to WebSocket, passing it through/,
   'one log line says so');
close $s;

# --- the client asks for WebSocket, the upstream's 101 is something else ------


# the upstream sends frames that parse, so that only its 101 tells: with
# heartbeats on, pings would be added to them

for my $case (['another protocol', upgrade => 'h2c'],
              ['a wrong Sec-WebSocket-Accept', accept => 'x' x 28],
              ['no Sec-WebSocket-Accept', accept => undef])
{
    my ($what, %o) = @$case;
    my $n = () = $t->error_log =~ /upgrade is not to WebSocket/g;

    $pid = serve_once($t->port('app'), %o, run => sub {
        my ($s) = @_;
        for my $i (1 .. 25) {
            syswrite $s, frame(0x81, "frame $i");
            sleep 0.1;
        }
    });

    # until the 25 frames (2.5 s) and anything after them are in, or 10 s

    my $want = join('', map { frame(0x81, "frame $_") } 1 .. 25);
    ($s, $got) = connect_ws($t->port('http'));
    pump(socket => $s, chunks => [], timeout => 10,
         on_read => sub { $got .= $_[0]; () },
         done => sub { length $got >= length $want });
    $got .= collect($s, 0.5);
    waitpid $pid, 0;

    is($got, $want,
       "a 101 with $what: the stream passes exactly, no ping added");
    my $m = () = $t->error_log =~ /upgrade is not to WebSocket/g;
    is($m, $n + 1, 'and one log line says so');
    close $s;
}

my $st = $t->status('/status?sessions=0');
is_deeply($st->{totals}{skipped},
          { not_101 => 0, not_http1 => 0, not_websocket => 4, failed => 0 },
          'the status counts the four upgrades as skipped, not WebSocket');
is($st->{totals}{opened}, 0, 'and none as a session');

# --- a stream that stops parsing ---------------------------------------------

$pid = echo_backend('bad.bin', echo => 0);
($s, $rest) = connect_ws($t->port('http'));

my $good = frame(0x81, 'fine', 'abcd');
my $bad = frame(0x83, 'reserved opcode', 'abcd');
my $after = "after the bad frame: \x00\xff whatever";

$got = $rest . collect($s, 0.3, [[$good, 1]]);
$got .= collect($s, 3, [[$bad, 1], [$after, 1]]);
waitpid $pid, 0;

my $all = $good . $bad . $after;
is($t->read_file('bad.bin'), $all, 'backend got every byte, unparsed');

is($got, '', 'no ping is injected into a session that does not parse');

my @lines = $t->error_log =~ /(client stream does not parse \(reserved opcode\))/g;
is(scalar @lines, 1, 'exactly one log line');
close $s;

$t->finish;
done_testing;
