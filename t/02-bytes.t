#!/usr/bin/perl

# Byte-exact proxying with frame-level peers: headers split at every byte,
# payloads in random pieces, early data on both sides, fragmented messages
# with control frames in between, 16- and 64-bit lengths, RSV bits, and
# pongs to our pings sent one byte at a time.  Everything but those pongs
# (and our pings) arrives exactly as sent.

use strict;
use warnings;

use Test::More;
use IO::Select;
use lib 't/lib';
use WsHb;
use WsHbFrames qw(frame parse_frames connect_ws serve_once pump chunks);

srand(4242);

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    server {
        listen 127.0.0.1:%%PORT_http%%;

        location / {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%

            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 1s;
            ws_heartbeat_upstream on;
        }
    }
EOF

$t->run('http');

my $prefix = $t->prefix;
my $mask = sub { pack 'N', int rand 2**32 };

sub stream_of {
    my ($masked, $tag) = @_;
    my $m = $masked ? $mask : sub { undef };

    return (
        frame(0x81, "hello from $tag", $m->()),
        frame(0x82, 'b' x 300, $m->()),                      # 16-bit length
        frame(0x01, 'frag1', $m->()),                        # fragmented...
        frame(0x89, "app ping $tag", $m->()),                # ...control
        frame(0x00, 'frag2', $m->()),
        frame(0x80, 'frag3', $m->()),                        # ...ends
        frame(0x82, join('', map { chr($_ % 251) } 1 .. 70000),
              $m->()),                                       # 64-bit length
        frame(0xc1, 'deflated?!', $m->()),                   # RSV1
        frame(0x8a, 'WSHB' . 'x' x 12, $m->()),              # not our pong
        frame(0x8a, 'app pong', $m->()),
        frame(0x81, "END-$tag", $m->()),
    );
}

# ours: a ping with our prefix; answered by a pong with the same payload

sub our_pings {
    my ($in, $masked, $pongs, $payloads) = @_;
    my $app = '';

    for my $f (parse_frames($in)) {
        if ($f->{opcode} == 9 && $f->{payload} =~ /^WSHB/
            && length $f->{payload} == 16)
        {
            push @$pongs, frame(0x8a, $f->{payload},
                                $masked ? $mask->() : undef);
            next;
        }

        $app .= $f->{raw};
        push @$payloads, $f->{payload} if $payloads;
    }

    return $app;
}

my @up_frames = stream_of(0, 'U');
my $up_early = frame(0x81, 'early from upstream');

my $backend = serve_once($t->port('app'), early => $up_early, run => sub {
    my ($s, $rest) = @_;
    my ($raw, $parse, $got_end) = ($rest, $rest, 0);

    my $handle = sub {
        $raw .= $_[0];
        $parse .= $_[0];
        my (@pongs, @payloads);
        our_pings(\$parse, 0, \@pongs, \@payloads);
        $got_end = 1 if grep { $_ eq 'END-C' } @payloads;
        return @pongs;
    };

    $handle->('');

    pump(socket => $s, chunks => chunks(@up_frames), pause => 0.02,
         on_read => $handle, done => sub { $got_end });

    open my $fh, '>', "$prefix/backend.bin" or die;
    binmode $fh;
    print $fh $raw;
    close $fh;
});

my @c_frames = stream_of(1, 'C');
my $c_early = frame(0x81, 'early from client', $mask->());

my ($s, $rest) = connect_ws($t->port('http'), early => $c_early);

my ($in, $app, $pings) = ($rest, '', 0);
my $got_end;

my $handle = sub {
    $in .= $_[0];
    my @pongs;
    $app .= our_pings(\$in, 1, \@pongs);
    $pings += @pongs;
    $got_end = 1 if $app =~ /END-U\z/;
    return @pongs;
};

$handle->('');

# the client's last frame waits until it was pinged twice

my $last = pop @c_frames;

ok(pump(socket => $s, chunks => chunks(@c_frames), pause => 0.02,
        on_read => $handle, done => sub { $got_end && $pings >= 2 },
        timeout => 30),
   'upstream stream complete, client pinged');

pump(socket => $s, chunks => chunks($last), on_read => $handle,
     done => sub { 1 }, timeout => 30);
push @c_frames, $last;

waitpid $backend, 0;

# the backend ends its stream without a close frame: the client's stream
# ends with the one nginx sends, 1001 "upstream closed"

while (IO::Select->new($s)->can_read(5)) {
    sysread($s, my $buf, 65536) or last;
    $handle->($buf);
}

my $bye = frame(0x88, pack('n', 1001) . 'upstream closed');
is(unpack('H*', substr $app, -length $bye), unpack('H*', $bye),
   'the client got a close frame 1001 after the upstream vanished');
substr($app, -length $bye) = '' if substr($app, -length $bye) eq $bye;

is(length $app, length($up_early . join '', @up_frames),
   'client got as many bytes as the upstream sent');
ok($app eq $up_early . join('', @up_frames),
   'client got the upstream stream byte for byte, our pings aside');
cmp_ok($pings, '>=', 1, "client was pinged ($pings) and answered");

my $raw = $t->read_file('backend.bin');
my $want = $c_early . join '', @c_frames;

my @theirs;
my $up_app = our_pings(\(my $copy = $raw), 0, \@theirs);

is(length $up_app, length $want,
   'upstream got as many bytes as the client sent, our pings aside');
ok($up_app eq $want, 'upstream got the client stream byte for byte')
    or do {
        my @a = parse_frames(\(my $x = $up_app));
        my @b = parse_frames(\(my $y = $want));
        for my $i (0 .. $#a) {
            next if $b[$i] && $a[$i]{raw} eq $b[$i]{raw};
            diag sprintf 'frame %d: got %s want %s', $i,
                unpack('H*', substr $a[$i]{raw}, 0, 40),
                unpack('H*', substr $b[$i]{raw} // '', 0, 40);
            last;
        }
    };
cmp_ok(scalar @theirs, '>=', 1, 'upstream was pinged too');

ok($t->error_log !~ /does not parse/, 'no parse failure on a valid stream');

close $s;

$t->finish;
done_testing;
