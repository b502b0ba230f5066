package WsHbFrames;

# Frame-level WebSocket peers for byte-exact tests: builds and parses raw
# RFC 6455 frames, with no library in between.

use strict;
use warnings;

use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(frame parse_frames connect_ws serve_once pump chunks);

# frame($b0, $payload, $mask): $b0 is FIN/RSV/opcode; $mask 4 bytes or undef

sub frame {
    my ($b0, $payload, $mask) = @_;
    my $len = length $payload;
    my $m = defined $mask ? 0x80 : 0;
    my $h = chr($b0);

    if ($len < 126) {
        $h .= chr($m | $len);
    } elsif ($len < 65536) {
        $h .= chr($m | 126) . pack('n', $len);
    } else {
        $h .= chr($m | 127) . pack('Q>', $len);
    }

    return $h . $payload unless defined $mask;

    my $masked = $payload ^ substr($mask x (int($len / 4) + 1), 0, $len);
    return $h . $mask . $masked;
}

# parses whole frames off the front of $$buf; returns a list of
# { b0, opcode, payload (unmasked), raw }

sub parse_frames {
    my ($buf) = @_;
    my @frames;

    for (;;) {
        last if length $$buf < 2;
        my ($b0, $b1) = unpack 'CC', $$buf;
        my $len = $b1 & 0x7f;
        my $off = 2;

        if ($len == 126) {
            last if length $$buf < 4;
            $len = unpack 'n', substr($$buf, 2, 2);
            $off = 4;
        } elsif ($len == 127) {
            last if length $$buf < 10;
            $len = unpack 'Q>', substr($$buf, 2, 8);
            $off = 10;
        }

        my $mask;
        if ($b1 & 0x80) {
            last if length $$buf < $off + 4;
            $mask = substr $$buf, $off, 4;
            $off += 4;
        }

        last if length $$buf < $off + $len;

        my $raw = substr $$buf, 0, $off + $len, '';
        my $payload = substr $raw, $off;
        $payload ^= substr($mask x (int($len / 4) + 1), 0, $len) if $mask;

        push @frames, { b0 => $b0, opcode => $b0 & 0x0f,
                        payload => $payload, raw => $raw };
    }

    return @frames;
}

sub nodelay {
    my ($s) = @_;
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    return $s;
}

# connects and sends the handshake (with $headers, lines that each end in
# CRLF, and $early bytes in the same write);
# returns (socket, bytes after the response header)

sub connect_ws {
    my ($port, %o) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5)
        or die "connect: $!";
    nodelay($s);

    my $upgrade = $o{upgrade} // 'websocket';
    my $path = $o{path} // '/';

    my $host = $o{host} // 'localhost';

    syswrite $s, "GET $path HTTP/1.1\r\nHost: $host\r\n"
        . "Upgrade: $upgrade\r\nConnection: Upgrade\r\n"
        . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        . "Sec-WebSocket-Version: 13\r\n" . ($o{headers} // '') . "\r\n"
        . ($o{early} // '');

    my $buf = '';
    my $end = time + 5;

    while ($buf !~ /\r\n\r\n/ && time < $end) {
        IO::Select->new($s)->can_read(1) or next;
        sysread($s, $buf, 65536, length $buf) or last;
    }

    $buf =~ s/^(.*?\r\n\r\n)//s or die "no response header: $buf";
    my $head = $1;
    die "not 101: $head" unless $head =~ m{^HTTP/1\.1 101};

    return ($s, $buf);
}

# a backend for one connection, in a child process: answers 101 (with
# $o{early} bytes in the same write; $o{upgrade} and $o{accept} for other
# Upgrade and Sec-WebSocket-Accept values, the latter undef to leave it
# out) and then runs $o{run}->($socket, $rest)

sub serve_once {
    my ($port, %o) = @_;

    my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port",
                                  Listen => 8, ReuseAddr => 1)
        or die "listen: $!";

    my $pid = fork // die;

    if ($pid == 0) {
        my $s = $l->accept or POSIX::_exit(1);
        nodelay($s);

        my $buf = '';
        while ($buf !~ /\r\n\r\n/) {
            sysread($s, $buf, 65536, length $buf) or POSIX::_exit(1);
        }

        $buf =~ s/^.*?\r\n\r\n//s;
        my $upgrade = $o{upgrade} // 'websocket';

        my $accept = exists $o{accept} ? $o{accept}
                                        : 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

        syswrite $s, "HTTP/1.1 101 Switching Protocols\r\n"
            . "Upgrade: $upgrade\r\nConnection: Upgrade\r\n"
            . (defined $accept ? "Sec-WebSocket-Accept: $accept\r\n" : '')
            . "\r\n" . ($o{early} // '');

        $o{run}->($s, $buf);
        POSIX::_exit(0);
    }

    close $l;
    return $pid;
}

# sends @$chunks ([bytes, frame ends here]) with a short pause after each,
# while reading; $on_read is called with every chunk read and may return
# frames to send at the next frame boundary (they go out one byte at a
# time).  Returns 1 once all is sent and $done->() is true, 0 on timeout
# or end of stream.

sub pump {
    my (%o) = @_;
    my $s = $o{socket};
    my @queue = @{ $o{chunks} };
    my @pending;
    my $boundary = 1;
    my $end = time + ($o{timeout} // 30);

    while (time < $end) {
        if ($boundary && @pending) {
            my @b = split //, shift @pending;
            unshift @queue, (map { [$_, 0] } @b[0 .. $#b - 1]),
                [$b[-1], 1];
        }

        if (@queue) {
            my ($c, $b) = @{ shift @queue };
            my $off = 0;
            while ($off < length $c) {
                my $n = syswrite $s, $c, length($c) - $off, $off;
                die "write: $!" unless defined $n || $!{EAGAIN};
                $off += $n // 0;
            }
            $boundary = $b;
        }

        my $wait = @queue ? ($o{pause} // 0.001) : 0.05;

        while (IO::Select->new($s)->can_read($wait)) {
            my $n = sysread $s, my $buf, 262144;
            return 0 unless $n;
            push @pending, $o{on_read}->($buf) if $o{on_read};
            $wait = 0;
        }

        return 1 if !@queue && !@pending && $o{done}->();
    }

    return 0;
}

# cuts frames into chunks: headers byte by byte, payloads in random pieces

sub chunks {
    my (@frames) = @_;
    my @chunks;

    for my $f (@frames) {
        my $hlen = hlen($f);
        push @chunks, [substr($f, $_, 1), 0] for 0 .. $hlen - 1;

        my $off = $hlen;
        while ($off < length $f) {
            my $n = 1 + int rand(length($f) > 1000 ? 20000 : 7);
            $n = length($f) - $off if $off + $n > length $f;
            push @chunks, [substr($f, $off, $n), 0];
            $off += $n;
        }

        $chunks[-1][1] = 1;
    }

    return \@chunks;
}

sub hlen {
    my ($f) = @_;
    my $b1 = ord substr $f, 1, 1;
    my $len = $b1 & 0x7f;
    return 2 + ($len == 126 ? 2 : $len == 127 ? 8 : 0)
        + ($b1 & 0x80 ? 4 : 0);
}

1;
