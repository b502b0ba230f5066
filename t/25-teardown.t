#!/usr/bin/perl

# The session ends with nginx's upstream connection, not with the request.
# With lingering_close always, the request outlives the upstream
# connection while the client still sends; the session's timers (every
# 100 ms, both peers pinged, a TLS upstream) must not touch that
# connection, which nginx has closed and may hand to somebody else.  Under
# AddressSanitizer (make test-asan) any use of it is a report.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time);
use IO::Select;
use JSON::PP;
use lib 't/lib';
use WsHb;
use WsHbFrames qw(frame parse_frames connect_ws);

my $t = WsHb->new->need('openssl', 'node', 'ws');
my $p = $t->prefix;

$t->certificate;

$t->write_conf(<<'EOF');
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        lingering_close always;
        lingering_time 20s;
        lingering_timeout 5s;

        location / {
            proxy_pass https://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            proxy_ssl_verify off;

            ws_heartbeat on;
            ws_heartbeat_interval 100ms;
            ws_heartbeat_timeout 1s;
            ws_heartbeat_upstream on;
        }

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'), '--tls', "$p/cert.pem,$p/key.pem");
$t->run('http');

# a frame-level client that answers pings and keeps sending after the
# upstream is gone, so that nginx lingers on the client connection

my ($s) = connect_ws($t->port('http'), path => '/linger');
ok($app->expect('open', 5), 'the session is up');
ok($app->expect('ping', 5), 'the upstream is pinged over TLS');

my $mask = 'abcd';
my ($buf, $pings, $died, $eof, $st) = ('', 0, 0, 0);
my $end = time + WsHb::patience(12);

sub status { $t->status }

# nginx shuts down its side at once when it lingers; the client sends on,
# and the session must leave the table while nginx lingers on it

my $linger = WsHb::patience(3);

while (time < $end) {
    if (!$died && $pings >= 3) {
        syswrite $s, frame(0x81, 'die', $mask);
        $died = time;
    }

    last if $died && time > $died + $linger;

    if ($died) {
        local $SIG{PIPE} = 'IGNORE';
        syswrite $s, frame(0x82, 'x' x 100, $mask);

        if (!$st && time > $died + 0.5) {
            my $now = status();
            $st = $now if defined $now->{sessions} && !@{ $now->{sessions} };
        }
    }

    next if $eof || !IO::Select->new($s)->can_read(0.02);
    my $n = sysread $s, $buf, 65536, length $buf;
    $eof = 1, next unless $n;

    for my $f (parse_frames(\$buf)) {
        next unless $f->{opcode} == 0x9;
        $pings++;
        syswrite $s, frame(0x8a, $f->{payload}, $mask);
    }
}

ok($died, 'the client saw pings, then the upstream dropped its socket');
ok($eof, 'nginx shut its side down, lingering on the connection');
is(scalar @{ $st->{sessions} // [1] }, 0,
   'while it lingers, the session is gone from the table');
is($st->{totals}{closed}{upstream_close}, 1, 'closed as upstream_close');
cmp_ok($pings, '>=', 3, 'timers ran before');
close $s;

$t->finish;
done_testing;
