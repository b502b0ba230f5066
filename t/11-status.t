#!/usr/bin/perl

# The status handler over the shared session table, with two workers:
# counts match the sessions actually open, closes land in the right reason
# counters, JSON parses, filters work, hostile hosts and URIs stay valid
# JSON, and bad requests get 400/401/405 with a one-line reason.

use strict;
use warnings;

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;
use WsHbFrames qw(connect_ws serve_once);

my $t = WsHb->new;

$t->write_conf(<<'EOF', workers => 2);
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;

        %%WS_PROXY%%
        ws_heartbeat on;
        ws_heartbeat_interval 1s;
        ws_heartbeat_timeout 1s;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
        }

        location /raw/ {
            proxy_pass http://127.0.0.1:%%PORT_raw%%;
        }

        location /idle/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            ws_heartbeat_idle_timeout 1s;
        }

        location = /status {
            ws_heartbeat_status;
        }

        location = /secure {
            ws_heartbeat_status;
            ws_heartbeat_status_token s3cret;
            ws_heartbeat_status_token other-token;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');
my $url = "ws://127.0.0.1:$port";

sub status { $t->status('/status' . ($_[0] // '')) }

sub open_count {
    my ($doc) = @_;
    my $n = 0;
    $n += $_ for values %{ $doc->{sessions_by_state} };
    return $n;
}

# --- counts follow sessions in both workers ----------------------------------

my @c = map { $t->ws_client("$url/ws/$_") } 1 .. 12;
ok($_->expect('open', 10), 'client open') for @c;

my $doc = status();
ok(%$doc, 'the status is valid JSON');
is(open_count($doc), 12, '12 sessions open');
is($doc->{zone}{used_records}, 12, '12 records used');
is(scalar @{ $doc->{sessions} }, 12, '12 sessions listed');
is($doc->{sessions_matching}, 12, 'sessions_matching');
my %pids = map { $_->{pid} => 1 } @{ $doc->{sessions} };
is(scalar keys %pids, 2, 'sessions are spread over both workers');
is($doc->{totals}{opened}, 12, 'opened 12');
is($doc->{upstreams}[0]{peer}, '127.0.0.1:' . $t->port('app'),
   'per-upstream count names the peer');
is($doc->{upstreams}[0]{sessions}, 12, 'and counts 12');

my $s = $doc->{sessions}[0];
like($s->{id}, qr/^[0-9a-f]{22}$/, 'session id');
like($s->{client_addr}, qr/^127\.0\.0\.1:\d+$/, 'client address');
like($s->{uri}, qr{^/ws/\d+$}, 'uri');
is($s->{host}, '127.0.0.1', 'host');
like($s->{started}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
     'start time in RFC 3339 with ms');
ok(exists $s->{client}{rtt_ms} && exists $s->{upstream}{frames},
   'per-peer fields');

# pings go out and come back, RTT recorded

$c[0]->drain(2.5);
$doc = status('?sessions=100');
cmp_ok($doc->{totals}{pings}{client}, '>=', 12, 'pings counted');
cmp_ok($doc->{totals}{pongs}{client}, '>=', 12, 'pongs counted');
cmp_ok($doc->{rtt}{client}{count}, '>=', 12, 'rtt histogram filled');
my ($one) = grep { $_->{client}{pongs} } @{ $doc->{sessions} };
ok($one && defined $one->{client}{rtt_ms}, 'per-session rtt');

# data moves: frames and bytes counted per direction

my $sent = time;
$c[1]->send('send hello');
ok($c[1]->expect('message', 5), 'echo');
$c[1]->drain(1.5);
$doc = status('?sessions=100');
cmp_ok($doc->{totals}{frames}{client_to_upstream}, '>=', 1,
       'frames client to upstream');
cmp_ok($doc->{totals}{bytes}{upstream_to_client}, '>=', 5,
       'bytes upstream to client');

# the time of the last read: the upstream (not pinged here) sent nothing
# but a data frame, which the recv hook's fast path stamps as data only

my %by_uri = map { $_->{uri} => $_ } @{ $doc->{sessions} };
my ($talked, $quiet) = @by_uri{'/ws/2', '/ws/3'};
ok($talked && $talked->{upstream}{frames} >= 1, 'upstream sent a frame');
ok($talked && defined $talked->{upstream}{last_rx},
   'upstream last_rx set by a data frame alone');
cmp_ok($talked && $talked->{upstream}{last_rx_ms_ago} // -1, '>=', 0,
       'last_rx_ms_ago present');
cmp_ok($talked && $talked->{upstream}{last_rx_ms_ago} // 1e9, '<=',
       (time - $sent) * 1000 + 250, 'and no older than the echo');
ok($quiet && $quiet->{upstream}{frames} == 0
   && !defined $quiet->{upstream}{last_rx},
   'an upstream that sent nothing has no last_rx');
ok($quiet && defined $quiet->{client}{last_rx},
   'its client, which answered pings, has one');

# --- closes by reason -------------------------------------------------------

$_->send('close') for @c[0 .. 3];
ok($_->expect('close', 5), 'closed by client') for @c[0 .. 3];

$c[4]->stop;
ok($app->expect('close', 5, code => 1001), 'zombie closed');

my $idle = $t->ws_client("$url/idle/x");
ok($idle->expect('open', 5), 'idle client open');
ok($idle->expect('close', 5), 'idle client closed');

my $end = time + 5;
do { $doc = status(); sleep 0.1 }
    while open_count($doc) != 7 && time < $end;

is(open_count($doc), 7, '7 open after 4 closes, a zombie and an idle one');
is(scalar @{ $doc->{sessions} }, 7, '7 listed');
is($doc->{totals}{closed}{client_close}, 4, 'closed: client_close 4');
is($doc->{totals}{closed}{client_timeout}, 1, 'closed: client_timeout 1');
is($doc->{totals}{closed}{idle_timeout}, 1, 'closed: idle_timeout 1');
is($doc->{totals}{opened}, 13, 'opened 13');

# --- filters ------------------------------------------------------------------

$doc = status('?sessions=0');
is(scalar @{ $doc->{sessions} }, 0, 'sessions=0: counts only');
is(open_count($doc), 7, 'counts still there');

$doc = status('?sessions=2');
is(scalar @{ $doc->{sessions} }, 2, 'sessions=2 limits the list');

$doc = status('?upstream=127.0.0.1:' . $t->port('app'));
is(scalar @{ $doc->{sessions} }, 7, 'upstream filter: all');
$doc = status('?upstream=10.9.9.9:1');
is(scalar @{ $doc->{sessions} }, 0, 'upstream filter: none');
is($doc->{sessions_matching}, 0, 'sessions_matching 0');

$doc = status('?state=closing');
is(scalar @{ $doc->{sessions} }, 0, 'state filter: none closing');

# --- hostile host and URI -----------------------------------------------------------

my $evil_uri = "/raw/%22q\"x\\?a=\xff<\x{e9}>";
my $evil_host = "ev\\il\"host\xfe";
my $backend = serve_once($t->port('raw'), run => sub { sleep 3 });

# newer nginx (mainline 1.31) refuses such a Host itself with 400: then the
# module never sees it, and only the URI is checked

my ($raw) = eval { connect_ws($port, path => $evil_uri, host => $evil_host) };
my $host_refused = !$raw && $@ =~ /^not 101: HTTP\/1\.1 400/;
($raw) = connect_ws($port, path => $evil_uri) if $host_refused;

$doc = status();
my ($evil) = grep { $_->{uri} =~ /q/ } @{ $doc->{sessions} };
ok($evil, 'hostile session listed, JSON still valid');
(my $shown_uri = $evil_uri) =~ s/[\x80-\xff]/\x{fffd}/g;
is($evil && $evil->{uri}, $shown_uri,
   'URI round-trips through JSON, its bytes that are no UTF-8 as U+FFFD');

SKIP: {
    skip 'this nginx refuses the hostile Host header itself', 1
        if $host_refused;
    (my $shown_host = lc $evil_host) =~ s/[\x80-\xff]/\x{fffd}/g;
    is($evil && $evil->{host}, $shown_host, 'host round-trips');
}

close $raw;
waitpid $backend, 0;

# --- bad requests -------------------------------------------------------------

for my $q ('?format=xml', '?sessions=-1', '?sessions=abc',
           '?sessions=100001', '?state=zombie', '?bogus=1', '?upstream=')
{
    my $r = $t->get($port, "/status$q");
    is($r->{status}, 400, "400 for $q");
    like($r->{body}, qr/^[^\n]+\n\z/, 'with a one-line reason');
}

my $r = $t->http($port, "POST /status HTTP/1.0\r\nHost: x\r\n"
                 . "Content-Length: 3\r\n\r\nabc");
is($r->{status}, 405, 'POST: 405');
is($r->{headers}{allow}, 'GET, HEAD, DELETE', 'Allow header');

$r = $t->http($port, "HEAD /status HTTP/1.0\r\nHost: x\r\n\r\n");
is($r->{status}, 200, 'HEAD: 200');
is($r->{body}, '', 'HEAD: no body');
like($r->{headers}{'content-type'}, qr{^application/json},
     'content type json');

# --- tokens ---------------------------------------------------------------------

$r = $t->get($port, '/secure');
is($r->{status}, 401, 'no token: 401');
like($r->{headers}{'www-authenticate'}, qr/^Bearer realm=/,
     'WWW-Authenticate');

$r = $t->get($port, '/secure', 'Authorization: Bearer wrong');
is($r->{status}, 401, 'wrong token: 401');
like($r->{headers}{'www-authenticate'}, qr/invalid_token/, 'invalid_token');

$r = $t->get($port, '/secure', 'Authorization: Bearer s3cret');
is($r->{status}, 200, 'right token: 200');
ok(eval { decode_json($r->{body}) }, 'and JSON');

$r = $t->get($port, '/secure', 'Authorization: bearer other-token');
is($r->{status}, 200, 'second token, scheme case-insensitive: 200');

$r = $t->get($port, '/secure', 'Sec-WebSocket-Protocol: chat, bearer.s3cret');
is($r->{status}, 200, 'token as a subprotocol: 200');

$r = $t->get($port, '/secure', 'Sec-WebSocket-Protocol: bearer.s3cre');
is($r->{status}, 401, 'a prefix of the token: 401');

# --- a worker killed with its sessions is reaped ---------------------------------

$doc = status();
my %by_pid;
$by_pid{ $_->{pid} }++ for @{ $doc->{sessions} };
my ($victim) = sort { $by_pid{$b} <=> $by_pid{$a} } keys %by_pid;
my $left = open_count($doc) - $by_pid{$victim};

kill 'KILL', $victim;

$end = time + 5;
do { sleep 0.2; $doc = status() } while open_count($doc) != $left
    && time < $end;

is(open_count($doc), $left, "worker $victim killed: its sessions reaped");
is($doc->{totals}{reaped}, $by_pid{$victim}, 'reaped counter');
ok(!grep({ $_->{pid} == $victim } @{ $doc->{sessions} }),
   'none of its sessions listed');
my %names = map { ("$_->{host} $_->{uri}" => 1) } @{ $doc->{sessions} };
is($doc->{zone}{names}, scalar keys %names,
   'their hosts and URIs released, the shared ones kept');

$t->{no_log_check} = 1;    # the master logs the worker's death at alert
$t->finish;
ok($t->error_log =~ /worker process $victim exited on signal 9/,
   'the kill was seen by the master');
my @bad = grep { /\[(alert|crit|emerg)\]|runtime error:|Sanitizer/
                 && !/exited on signal 9/ }
    split /\n/, $t->error_log . $t->read_file('logs/stderr.log');
ok(!@bad, 'no other alert') or diag "@bad";

done_testing;
