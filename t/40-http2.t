#!/usr/bin/perl

# A WebSocket upgrade asked for over HTTP/2 is not the module's: whatever
# nginx does with it (nginx 1.22 passes the upstream's 101 on, later lines
# refuse the Upgrade header), no session starts, and an upgrade that does
# reach the header filter is counted as skipped (not_http1), with one log
# line.  The client is a minimal HTTP/2 one written here (prior
# knowledge, HPACK literals only).  Skipped where nginx has no HTTP/2.

use strict;
use warnings;

use Test::More;
use IO::Select;
use IO::Socket::INET;
use lib 't/lib';
use WsHb;

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location = /status {
            ws_heartbeat_status;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_h2%% http2;

        location / {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";

            ws_heartbeat on;
            ws_heartbeat_interval 500ms;
        }
    }
EOF

my ($rc, $out) = $t->test_conf;

if ($out =~ /requires ngx_http_v2_module/) {
    $t->{skipped} = 1;
    plan(skip_all => 'this nginx has no HTTP/2');
}

is($rc, 0, 'nginx -t accepts the configuration') or diag $out;

# nginx 1.22 itself logs an alert when it runs an upgraded loop on an
# HTTP/2 stream; the logs are checked below without that one line

$t->{no_log_check} = 1;
$t->run('http', 'h2');

# the upstream: answers the upgrade with a WebSocket 101 and a frame

my $prefix = $t->prefix;
my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1:' . $t->port('app'),
                              Listen => 8, ReuseAddr => 1)
    or die "listen: $!";

my $pid = fork // die;

if ($pid == 0) {
    my $ready = IO::Select->new($l)->can_read(4) or POSIX::_exit(0);
    my $c = $l->accept or POSIX::_exit(1);
    my $req = '';
    sysread($c, $req, 65536, length $req) until $req =~ /\r\n\r\n/;

    open my $fh, '>', "$prefix/request.txt" or die;
    print $fh $req;
    close $fh;

    syswrite $c, "HTTP/1.1 101 Switching Protocols\r\n"
        . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        . "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        . "\x81\x02hi";
    sleep 2;
    POSIX::_exit(0);
}

close $l;

my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port('h2'),
                              Timeout => 5)
    or die "connect: $!";

my $block = join '', map { literal(@$_) }
    [':method', 'GET'], [':scheme', 'http'], [':path', '/chat'],
    [':authority', 'localhost'], ['upgrade', 'websocket'],
    ['sec-websocket-key', 'dGhlIHNhbXBsZSBub25jZQ=='],
    ['sec-websocket-version', '13'];

# the preface, empty SETTINGS, HEADERS with END_STREAM and END_HEADERS

syswrite $s, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    . h2frame(4, 0, 0, '') . h2frame(1, 5, 1, $block);

my $got = '';
my $end = time + 2;

while (time < $end) {
    IO::Select->new($s)->can_read(0.5) or next;
    sysread($s, $got, 65536, length $got) or last;
}

close $s;
waitpid $pid, 0;

my $forwarded = -e "$prefix/request.txt";
my $st = $t->status('/status?sessions=0');

is($st->{totals}{opened}, 0, 'no session started over HTTP/2');
is($st->{sessions_by_state}{healthy} + $st->{sessions_by_state}{passthrough},
   0, 'and no record is kept');

my @lines = $t->error_log =~ /(upgrade is not over HTTP\/1\.x)/g;

if ($forwarded) {
    is($st->{totals}{skipped}{not_http1}, 1,
       'nginx passed the 101 on: the status counts it as skipped');
    is(scalar @lines, 1, 'one log line says so');
} else {
    is($st->{totals}{skipped}{not_http1}, 0,
       'nginx refused the upgrade itself: nothing to count');
    is(scalar @lines, 0, 'and no log line from the module');
}

my $m = $t->metrics('/status?format=prometheus');
is($m->{'nginx_ws_upgrades_skipped_total{cause="not_http1"}'},
   $forwarded ? 1 : 0, 'Prometheus agrees');

$t->stop;

my @bad = grep {
    /\[(alert|crit|emerg)\]|runtime error:|Sanitizer|exited on signal/
    && !/epoll_ctl\(\d+, \d+\) failed \(17: File exists\)/
} split /\n/, $t->error_log . $t->read_file('logs/stderr.log');

ok(!@bad, 'nothing else alarming in the logs') or diag join "\n", @bad;

my @reports = grep {
    !m{/valgrind[^/]*$} || $t->read_abs($_) !~ /ERROR SUMMARY: 0 errors/
} glob "$prefix/asan/*";

ok(!@reports, 'no sanitizer reports') or diag join "\n", @reports;

done_testing;

# an HTTP/2 frame: length, type, flags, stream

sub h2frame {
    my ($type, $flags, $stream, $payload) = @_;
    return substr(pack('N', length $payload), 1)
        . pack('CCN', $type, $flags, $stream) . $payload;
}

# an HPACK literal header field without indexing, new name, no Huffman

sub literal {
    my ($name, $value) = @_;
    return "\x00" . chr(length $name) . $name . chr(length $value) . $value;
}
