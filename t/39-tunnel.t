#!/usr/bin/perl

# nginx 1.31's tunnel module answers a CONNECT with 200 and hands the
# connection to the upgraded loop.  With heartbeats on where it runs, the
# tunnel passes untouched: a WebSocket session carried inside it gets no
# ping, keeps no record, and the status counts the upgrade as skipped
# (not_101), with one log line.  Skipped where nginx has no tunnel module.

use strict;
use warnings;

use Test::More;
use IO::Select;
use IO::Socket::INET;
use lib 't/lib';
use WsHb;
use WsHbFrames qw(frame serve_once pump);

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location / {
            ws_heartbeat_status;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_tunnel%%;

        ws_heartbeat on;
        ws_heartbeat_interval 500ms;
        ws_heartbeat_timeout 500ms;
        ws_heartbeat_upstream on;

        tunnel_pass 127.0.0.1:%%PORT_app%%;
    }
EOF

my ($rc, $out) = $t->test_conf;

if ($out =~ /unknown directive "tunnel_pass"/) {
    $t->{skipped} = 1;
    plan(skip_all => 'this nginx has no tunnel module (nginx 1.31 has)');
}

is($rc, 0, 'nginx -t accepts heartbeats where a tunnel runs') or diag $out;

$t->run('http', 'tunnel');

# the upstream: a WebSocket server behind the tunnel that sends 20 text
# frames, 0.1 s apart, and records what it got

my $frames = join '', map { frame(0x81, "frame $_") } 1 .. 20;
my $prefix = $t->prefix;

my $pid = serve_once($t->port('app'), run => sub {
    my ($s, $rest) = @_;
    my $got = $rest;

    for my $i (1 .. 20) {
        syswrite $s, frame(0x81, "frame $i");
        select undef, undef, undef, 0.1;
    }

    pump(socket => $s, chunks => [], timeout => 1,
         on_read => sub { $got .= $_[0]; () }, done => sub { 0 });

    open my $fh, '>', "$prefix/upstream.bin" or die;
    binmode $fh;
    print $fh $got;
    close $fh;
});

my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port('tunnel'),
                              Timeout => 5)
    or die "connect: $!";
WsHbFrames::nodelay($s);

my $target = '127.0.0.1:' . $t->port('app');
syswrite $s, "CONNECT $target HTTP/1.1\r\nHost: $target\r\n\r\n";

my $head = read_head($s);
like($head, qr{^HTTP/1\.1 200}, 'the tunnel answers CONNECT with 200');

# the WebSocket handshake, inside the tunnel

syswrite $s, "GET / HTTP/1.1\r\nHost: localhost\r\n"
    . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    . "Sec-WebSocket-Version: 13\r\n\r\n";

my $rest = '';
$head = read_head($s, \$rest);
like($head, qr{^HTTP/1\.1 101}, 'the WebSocket upgrade inside it answers 101');

my $sent = frame(0x81, 'client says hi', 'abcd');
my $got = $rest;

# 3 s: six heartbeat intervals, and a timeout past each

pump(socket => $s, chunks => [[$sent, 1]], timeout => 3,
     on_read => sub { $got .= $_[0]; () }, done => sub { 0 });
waitpid $pid, 0;

is($got, $frames, 'the client got the frames exactly, no ping added');
is($t->read_file('upstream.bin'), $sent,
   'the upstream got the client frame exactly, no ping added');

my $st = $t->status('/');
is($st->{totals}{skipped}{not_101}, 1, 'the status counts it as skipped');
is($st->{totals}{opened}, 0, 'and as no session');
is(scalar @{$st->{sessions} // []}, 0, 'no record was kept');

my @lines = $t->error_log =~ /(upgrade answered 200, not 101)/g;
is(scalar @lines, 1, 'one log line says so');

my $m = $t->metrics('/?format=prometheus');
is($m->{'nginx_ws_upgrades_skipped_total{cause="not_101"}'}, 1,
   'and so does Prometheus');

close $s;
$t->finish;
done_testing;

# reads a response header; bytes after it go to $$rest

sub read_head {
    my ($s, $rest) = @_;
    my $buf = '';
    my $end = time + 5;

    while ($buf !~ /\r\n\r\n/ && time < $end) {
        IO::Select->new($s)->can_read(1) or next;
        sysread($s, $buf, 65536, length $buf) or last;
    }

    $buf =~ s/^(.*?\r\n\r\n)//s or return $buf;
    $$rest = $buf if $rest;

    return $1;
}
