#!/usr/bin/perl

# Hostile frames from either side: each protocol violation is passed
# through byte for byte (the endpoints judge it), heartbeats stop for that
# session with one log line, nothing crashes and nothing is logged at
# alert.  Well-formed oddities (close frames with unusual codes, empty
# frames, huge declared lengths that never arrive) pass and keep parsing.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use WsHb;
use WsHbFrames qw(frame connect_ws serve_once pump);

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    server {
        listen 127.0.0.1:%%PORT_http%%;

        location / {
            proxy_pass http://127.0.0.1:$arg_p;
            %%WS_PROXY%%

            ws_heartbeat on;
            ws_heartbeat_interval 500ms;
            ws_heartbeat_timeout 5s;
            ws_heartbeat_upstream on;
        }
    }
EOF

$t->run('http');

# [ name, bytes from a peer masking with $m (or not), parses (1) or stops
# parsing (0), error text ]

my @cases = (
    [ 'reserved opcode 0x3', sub { frame(0x83, 'x', $_[0]) }, 0,
      'reserved opcode' ],
    [ 'reserved opcode 0xB', sub { frame(0x8b, 'x', $_[0]) }, 0,
      'reserved opcode' ],
    [ 'control frame > 125', sub { frame(0x89, 'p' x 126, $_[0]) }, 0,
      'invalid control frame' ],
    [ 'fragmented ping', sub { frame(0x09, 'p', $_[0]) }, 0,
      'invalid control frame' ],
    [ 'continuation first', sub { frame(0x80, 'c', $_[0]) }, 0,
      'broken fragmentation' ],
    [ 'text inside a message',
      sub { frame(0x01, 'a', $_[0]) . frame(0x81, 'b', $_[0]) }, 0,
      'broken fragmentation' ],
    [ '2^63 length',
      sub { "\x82" . chr(127 | ($_[0] ? 0x80 : 0)) . pack('Q>', 2**63 + 5)
            . ($_[0] // '') . 'xyz' }, 0, 'payload length out of range' ],
    [ 'close with code 999', sub { frame(0x88, pack('n', 999), $_[0]) }, 1,
      '' ],
    [ 'close with a 1-byte body', sub { frame(0x88, 'x', $_[0]) }, 1, '' ],
    [ 'close without a body', sub { frame(0x88, '', $_[0]) }, 1, '' ],
    [ 'empty text frame', sub { frame(0x81, '', $_[0]) }, 1, '' ],
    [ 'RSV2 and RSV3 set', sub { frame(0xb1, 'rsv', $_[0]) }, 1, '' ],
);

sub session {
    my ($name, $from_client, $bytes) = @_;
    my $prefix = $t->prefix;
    (my $file = "$name $from_client") =~ s/\W+/_/g;
    my $port = $t->port($file);

    my $pid = serve_once($port, run => sub {
        my ($s, $rest) = @_;
        my $raw = $rest;
        syswrite $s, $bytes unless $from_client;
        pump(socket => $s, chunks => [], timeout => 1.0,
             on_read => sub { $raw .= $_[0]; () }, done => sub { 0 });
        open my $fh, '>', "$prefix/$file.up" or die;
        binmode $fh;
        print $fh $raw;
        close $fh;
    });

    my ($s, $rest) = connect_ws($t->port('http'), path => "/?p=$port");
    my $got = $rest;

    pump(socket => $s, chunks => $from_client ? [[$bytes, 1]] : [],
         timeout => 1.0, on_read => sub { $got .= $_[0]; () },
         done => sub { 0 });

    waitpid $pid, 0;
    close $s;

    return ($got, $t->read_file("$file.up"));
}

for my $case (@cases) {
    my ($name, $make, $parses, $error) = @$case;

    for my $from_client (1, 0) {
        my $bytes = $make->($from_client ? 'abcd' : undef);
        my $side = $from_client ? 'client' : 'upstream';
        my $before = () = $t->error_log =~ /does not parse/g;

        my ($to_client, $to_upstream) = session($name, $from_client, $bytes);
        my $after = () = $t->error_log =~ /does not parse/g;

        my $received = $from_client ? $to_upstream : $to_client;
        my $clean = $received;

        # our pings may come too, before a violation; never after one

        $clean =~ s/\x89[\x10\x90](?:.{4})?WSHB.{12}//gs if $parses;

        my $sent = $bytes;

        ok(index($clean, $sent) == 0 || $clean eq $sent,
           "$side $name: passed through byte for byte")
            or diag unpack('H*', substr $clean, 0, 40);

        if ($parses) {
            is($after - $before, 0, "$side $name: still parsed");
        } else {
            is($after - $before, 1, "$side $name: one log line");
            like($t->error_log, qr/$side stream does not parse \(\Q$error\E\)/,
                 "$side $name: names the violation");
        }
    }
}

$t->finish;
done_testing;
