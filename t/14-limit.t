#!/usr/bin/perl

# The seeds' incident: zombies fill the session limit and new users are
# refused.  With ws_heartbeat_max_sessions, an upgrade beyond the limit
# gets 503 with Retry-After before reaching the upstream, and near the
# limit every silent session is probed at once, so the zombies' slots are
# freed within about one timeout, long before their next regular ping.

use strict;
use warnings;

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;

my $t = WsHb->new;

$t->write_conf(<<'EOF', workers => 2);
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;

        location /term/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%

            ws_heartbeat on;
            ws_heartbeat_interval 30s;
            ws_heartbeat_timeout 1s;
            ws_heartbeat_max_sessions 8;
        }

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');
my $url = "ws://127.0.0.1:$port/term/";

my @c = map { $t->ws_client("$url$_") } 1 .. 8;
ok($_->expect('open', 10), 'session open') for @c;

# half of them become zombies

$_->stop for @c[0 .. 3];
my $stopped = time;

# the ninth user is refused with 503 and Retry-After, before the upstream

my $r = $t->get($port, '/term/9', 'Upgrade: websocket', 'Connection: Upgrade',
                'Sec-WebSocket-Version: 13',
                'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==');
is($r->{status}, 503, 'beyond the limit: 503');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, 'with Retry-After');
$app->drain(0.2);
ok(!grep({ $_->{url} eq '/term/9' } $app->seen('open')),
   'the refused upgrade never reached the upstream');

# new users get in as soon as the probes find the zombies

my ($in, $admitted_at) = (0);
my $end = time + WsHb::patience(10);
my @new;

while (time < $end && $in < 4) {
    my $c = $t->ws_client("$url/new$in");
    my $ev = $c->event(5);

    if ($ev && $ev->{event} eq 'open') {
        push @new, $c;
        $in++;
        $admitted_at //= time;
    } else {
        $c->kill;
        sleep 0.3;
    }
}

is($in, 4, 'four new users got in');
my $wait = ($admitted_at // 99) - $stopped;
# under valgrind everything is slower, still far from the 30 s interval
cmp_ok($wait, '<', WsHb::patience(4),
       sprintf('the first within about one timeout (%.2f s), not the 30 s '
               . 'interval', $wait));
diag(sprintf 'first new user admitted %.2f s after the zombies stopped', $wait);

my @closes = grep { $_->{code} == 1001 } $app->seen('close');
$app->drain(0.5);
@closes = grep { $_->{code} == 1001 } $app->seen('close');
is(scalar @closes, 4, 'the four zombies were closed with 1001');

my $doc = decode_json($t->get($port, '/status?sessions=0')->{body});
cmp_ok($doc->{totals}{rejected}, '>=', 1, 'rejections counted');
is($doc->{totals}{closed}{client_timeout}, 4, 'closed as client_timeout');
is($doc->{zone}{used_records}, 8, 'eight sessions open again');

my $m = $t->get($port, '/status?format=prometheus')->{body};
like($m, qr/^nginx_ws_sessions_rejected_total\{server="",location="\/term\/",
              key=""\}\ [1-9]/mx,
     'rejected in the metrics, by limit');

$_->kill for @c[0 .. 3];

$t->finish;
done_testing;
