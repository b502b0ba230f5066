#!/usr/bin/perl

# Cross-site WebSocket hijacking of the delta stream: a page of another
# origin, open in the operator's browser, cannot subscribe to a status
# location that trusts the browser's address (allow/deny), while the
# dashboard on the location's own origin still works.  In headless
# Chromium: another port on 127.0.0.1 is another origin.  Then, over raw
# sockets: the Origin header against the Host header and the scheme,
# ws_heartbeat_status_origin (listed origins and "*"), clients without
# Origin, SSE and JSON untouched, and nginx -t on bad values.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;

plan skip_all => 'no /usr/bin/chromium' unless -x ($ENV{CHROMIUM}
                                                   // '/usr/bin/chromium');

my $t = WsHb->new->need('node', 'playwright-core');

$t->write_conf(<<'EOF');
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
            ws_heartbeat_tag user $arg_user;
        }

        location = /status {
            ws_heartbeat_status;
            allow 127.0.0.1;
            deny all;
        }

        location = /listed {
            ws_heartbeat_status;
            ws_heartbeat_status_origin https://dash.example.com
                                       http://127.0.0.1:%%PORT_other%%;
        }

        location = /any {
            ws_heartbeat_status;
            ws_heartbeat_status_origin *;
        }

        location = /page {
            default_type text/html;
            return 200 "<!DOCTYPE html><title>same origin</title>\n";
        }
    }

    server {
        listen 127.0.0.1:%%PORT_other%%;

        location / {
            default_type text/html;
            return 200 "<!DOCTYPE html><title>another origin</title>\n";
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http', 'other');

my $port = $t->port('http');
my $other = $t->port('other');

my $c = $t->ws_client("ws://127.0.0.1:$port/ws/x?user=victim");
ok($c->expect('open', 10), 'a session to spy on');

# --- in Chromium: a page of another origin -----------------------------------

my $b = $t->spawn('node', 't/node/browser.js', '--page',
                  "http://127.0.0.1:$other/");
ok($b->expect('ready', 60), 'a page of another origin loads in Chromium');

$b->send("open 1 ws://127.0.0.1:$port/status");
my $ev = $b->expect('close', 10, n => 1);
ok($ev, 'its WebSocket to the status location fails');
is($ev && $ev->{code}, 1006, 'in the handshake (1006)');
ok(!$b->seen('open'), 'it never opened');
ok(!grep({ $_->{n} eq '1' } $b->seen('message')), 'and read nothing');
like($t->error_log,
     qr{status WebSocket from origin "http://127\.0\.0\.1:$other" refused},
     'the refusal is logged with the origin');

$b->send("open 2 ws://127.0.0.1:$port/listed");
ok($b->expect('open', 10, n => 2), 'an origin the location lists opens');
$ev = $b->expect('message', 10, n => 2);
like($ev && $ev->{text}, qr/user=victim|"user":"victim"/,
     'and reads the snapshot');

$b->send("open 3 ws://127.0.0.1:$port/any");
ok($b->expect('open', 10, n => 3), 'so does any origin with "*"');
$b->kill;

# --- in Chromium: a page of the location's own origin, and the dashboard -----

$b = $t->spawn('node', 't/node/browser.js', '--page',
               "http://127.0.0.1:$port/page");
ok($b->expect('ready', 60), 'a page of the same origin loads');
$b->send("open 1 ws://127.0.0.1:$port/status");
ok($b->expect('open', 10, n => 1), 'its WebSocket to the status opens');
$b->kill;

my $d = $t->spawn('node', 't/node/dashboard.js', '--url',
                  "http://127.0.0.1:$port/status?format=html");
$ev = $d->expect('loaded', 60);
is($ev && $ev->{status}, 200, 'the dashboard loads');
$d->send('wait #conn live');
$ev = $d->expect('waited', 15);
ok($ev && $ev->{ok}, 'and subscribes to the stream of its own origin');
$d->send('wait #total 1');
$ev = $d->expect('waited', 15);
ok($ev && $ev->{ok}, 'and shows the session');
$d->send('quit');
$d->kill;

# --- over raw sockets --------------------------------------------------------

# the status of a WebSocket handshake, and the body of a refusal

sub handshake {
    my ($path, @headers) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5) or die "connect: $!";
    my $host = 'Host: 127.0.0.1:' . $port;
    ($host) = grep { /^Host:/ } @headers if grep { /^Host:/ } @headers;

    syswrite $s, "GET $path HTTP/1.1\r\n$host\r\n"
        . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        . "Sec-WebSocket-Version: 13\r\n"
        . join('', map { "$_\r\n" } grep { !/^Host:/ } @headers) . "\r\n";

    my ($buf, $end) = ('', time + 5);
    while (time < $end) {
        last if $buf =~ /\r\n\r\n/
                && ($buf !~ /Content-Length: (\d+)/i
                    || length($buf) >= index($buf, "\r\n\r\n") + 4 + $1);
        IO::Select->new($s)->can_read(1) or next;
        sysread($s, $buf, 65536, length $buf) or last;
    }

    my ($status) = $buf =~ m{^HTTP/1\.1 (\d+)};
    my ($body) = $buf =~ /\r\n\r\n(.*)/s;
    return ($status // 0, $body // '');
}

my ($st, $body) = handshake('/status', "Origin: http://127.0.0.1:$other");
is($st, 403, 'another origin: 403');
like($body, qr/^WebSocket subscriptions from this origin are not allowed\n$/,
     'with a short reason');

is((handshake('/status'))[0], 101, 'no Origin (not a browser): 101');
is((handshake('/status', "Origin: http://127.0.0.1:$port"))[0], 101,
   'the location\'s own origin: 101');
is((handshake('/status', "Origin: HTTP://127.0.0.1:$port"))[0], 101,
   'in any case');
is((handshake('/status', 'Host: Status.Example:80',
              'Origin: http://status.example'))[0], 101,
   'the own origin as the Host header says, default port or not');
is((handshake('/status', 'Host: status.example',
              'Origin: http://status.example:80'))[0], 101,
   'either way round');
is((handshake('/status', "Origin: https://127.0.0.1:$port"))[0], 403,
   'the same host and port over another scheme: 403');
is((handshake('/status', 'Host: status.example',
              'Origin: http://status.example.evil.test'))[0], 403,
   'a longer host: 403');
is((handshake('/status', 'Origin: null'))[0], 403,
   'an opaque origin ("null"): 403');
is((handshake('/status', "Origin: http://127.0.0.1:$port/"))[0], 403,
   'not an origin (a path): 403');
is((handshake('/listed', 'Origin: https://dash.example.com'))[0], 101,
   'a listed origin: 101');
is((handshake('/listed', 'Origin: https://dash.example.com:443'))[0], 101,
   'with its default port spelled out');
is((handshake('/listed', 'Origin: http://dash.example.com'))[0], 403,
   'a listed host over another scheme: 403');
is((handshake('/listed', "Origin: http://127.0.0.1:$port"))[0], 101,
   'a listing location still takes its own origin');
is((handshake('/any', 'Origin: null'))[0], 101, '"*": any origin');

# SSE and JSON: browsers enforce CORS on them, nothing changes

my $r = $t->get($port, '/status', "Origin: http://127.0.0.1:$other");
is($r->{status}, 200, 'JSON with another Origin: 200');
ok(!exists $r->{headers}{'access-control-allow-origin'},
   'without a CORS header, so a page of that origin cannot read it');

my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5)
    or die;
syswrite $s, "GET /status?format=sse HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    . "Origin: http://127.0.0.1:$other\r\n\r\n";
my $head = '';
IO::Select->new($s)->can_read(5) and sysread $s, $head, 65536;
like($head, qr{^HTTP/1\.1 200.*text/event-stream}s, 'SSE: 200');
close $s;

$c->kill;
$app->kill;
$t->finish;

# --- nginx -t ----------------------------------------------------------------

sub conf_test {
    my ($value) = @_;
    my $u = WsHb->new(no_log_check => 1);
    $u->write_conf(<<"EOF");
    ws_heartbeat_zone ws:1m;
    server {
        listen 127.0.0.1:%%PORT_http%%;
        location = /status {
            ws_heartbeat_status;
            ws_heartbeat_status_origin $value;
        }
    }
EOF
    my ($rc, $out) = $u->test_conf;
    $u->finish;
    return ($rc, $out);
}

my ($rc, $out) = conf_test('https://a.example http://[::1]:8080 *');
is($rc, 0, 'origins and "*" pass nginx -t') or diag $out;

for my $bad ('https://a.example/', 'a.example', 'ws://a.example',
             'http://a.example:0', 'http://a.example:99999', 'null',
             'http://user@a.example', 'http://')
{
    ($rc, $out) = conf_test($bad);
    isnt($rc, 0, "$bad: nginx -t fails");
    like($out, qr/invalid origin "\Q$bad\E" in "ws_heartbeat_status_origin"/,
         "$bad: naming the directive");
}

done_testing;
