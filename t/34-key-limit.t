#!/usr/bin/perl

# ws_heartbeat_max_sessions with key=: each user's sessions are limited
# separately, counted across both workers.  Beyond the limit an upgrade
# gets 503 with Retry-After before it reaches the upstream, once that
# user's silent sessions have been probed, so a user's own zombies never
# lock the user out; with evict, the user's oldest session gets a close
# frame (1008 "replaced", to both real ws peers) and the new one is let
# in.  The JSON lists the keys holding most sessions, Prometheus counts
# refusals and evictions by limit, and a reload keeps every count.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;

my $t = WsHb->new;
$t->need('node');

$t->write_conf(<<'EOF', workers => 2);
    ws_heartbeat_zone ws:1m;
    ws_heartbeat_drain 60s;

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;

        ws_heartbeat on;
        ws_heartbeat_interval 30s;
        ws_heartbeat_timeout 1s;

        location /term/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat_max_sessions 100;
            ws_heartbeat_max_sessions 2 key=$arg_user;
        }

        location /chat/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat_max_sessions 2 key=$arg_user evict;
        }

        location /wide/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat_max_sessions 12 key=$arg_user;
        }

        location /addr/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat_max_sessions 5 key=$binary_remote_addr;
        }

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');
my $base = "ws://127.0.0.1:$port";

# a session, or undef and the client's error (the answer's status)

sub session {
    my ($path) = @_;
    my $c = $t->ws_client("$base$path");
    my $ev = $c->event(10);
    return $c if $ev && $ev->{event} eq 'open';
    $c->kill;
    return (undef, $ev ? ($ev->{message} // $ev->{event}) : 'nothing');
}

sub refused {
    my ($path) = @_;
    my ($c, $why) = session($path);
    $c->kill if $c;
    return !$c && ($why // '') =~ /\b503\b/;
}

# the limit per key of a location

sub limit_of {
    my ($doc, $location) = @_;
    my ($l) = grep { $_->{location} eq $location && defined $_->{key} }
                   @{ $doc->{limits} };
    return $l // {};
}

# --- per key, and the answer beyond it -----------------------------------

my @alice = map { scalar session("/term/a$_?user=alice") } 1 .. 2;
is(scalar(grep { defined } @alice), 2, 'alice opens two sessions');

my $r = $t->get($port, '/term/a3?user=alice', 'Upgrade: websocket',
                'Connection: Upgrade', 'Sec-WebSocket-Version: 13',
                'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==');
is($r->{status}, 503, 'her third: 503');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, 'with Retry-After');
$app->drain(0.2);
ok(!grep({ $_->{url} eq '/term/a3?user=alice' } $app->seen('open')),
   'the refused upgrade never reached the upstream');

my @bob = map { scalar session("/term/b$_?user=bob") } 1 .. 2;
is(scalar(grep { defined } @bob), 2, 'bob is limited apart from her');

my @anon = map { scalar session("/term/n$_") } 1 .. 3;
is(scalar(grep { defined } @anon), 3, 'an empty key is not limited');

# --- a user's zombies are probed before a refusal -------------------------

my @carol = map { scalar session("/term/c$_?user=carol") } 1 .. 2;
is(scalar(grep { defined } @carol), 2, 'carol opens two sessions');
$carol[0]->stop;
my $stopped = time;

ok(refused('/term/c3?user=carol'), 'her third is refused at first');

my ($in, $at);
my $end = time + WsHb::patience(10);

while (time < $end) {
    ($in) = session('/term/c3?user=carol');
    last if $in;
    sleep 0.2;
}

ok($in, 'and let in once her zombie is found');
my $wait = (defined $in ? time : 99) - $stopped;
cmp_ok($wait, '<', WsHb::patience(5),
       sprintf('within a few timeouts (%.2f s), not the 30 s interval',
               $wait));
ok($carol[1]->expect('ping', 1) || grep({ $_->{event} eq 'ping' }
                                        @{ $carol[1]{events} }),
   'her live session was probed too, and answered');
$carol[1]->drain(0.3);
ok(!$carol[1]->seen('close'), 'and stays open');

# --- evict: the newest wins -----------------------------------------------

my ($d1) = session('/chat/d1?user=dave');
my ($d2) = session('/chat/d2?user=dave');
my ($d3) = session('/chat/d3?user=dave');
ok($d1 && $d2 && $d3, 'dave opens a third session in /chat/');

my $ev = $d1 && $d1->expect('close', 5);
is($ev && "$ev->{code} $ev->{reason}", '1008 replaced',
   'his oldest gets 1008 "replaced"');

my $up;
$end = time + 5;
while (!$up && time < $end) {
    ($up) = grep { $_->{code} == 1008 } $app->seen('close');
    $app->event(0.2) unless $up;
}
is($up && $up->{reason}, 'replaced', 'and so does its upstream');
ok(!$d2->seen('close') && !$d3->seen('close'), 'the other two stay');

my $doc = $t->status('/status?sessions=0');
is($doc->{totals}{closed}{evicted}, 1, 'closed as evicted');
is($doc->{totals}{evicted}, 1, 'one eviction in the totals');
is(limit_of($doc, '/chat/')->{evicted}, 1, 'and in its limit');
is(limit_of($doc, '/chat/')->{sessions}, 2, 'which counts two sessions');

# --- keys across two workers ---------------------------------------------

# each of the twelve connections lands on either worker (reuseport); all
# on one, a chance of 1 in 2048, proves nothing, and they are opened again

my (@erin, %pids);

for my $try (1 .. 3) {
    @erin = map { scalar session("/wide/e$_?user=erin") } 1 .. 12;
    $doc = $t->status('/status?sessions=100&uri=/wide/');
    %pids = map { $_->{pid} => 1 } @{ $doc->{sessions} };
    last if keys %pids == 2 || $try == 3;

    $_->kill for grep { defined } @erin;
    $end = time + 10;
    while (time < $end) {
        $doc = $t->status('/status?sessions=100&uri=/wide/');
        last unless @{ $doc->{sessions} };
        sleep 0.1;
    }
}

is(scalar(grep { defined } @erin), 12, 'erin opens twelve sessions');
is(scalar keys %pids, 2, 'in both workers');
ok(refused('/wide/e13?user=erin'), 'her thirteenth is refused');

$erin[0]->send('close');
ok($erin[0]->expect('close', 5), 'she closes one');
$end = time + 5;
my $e13;
while (!$e13 && time < $end) {
    ($e13) = session('/wide/e13?user=erin');
    sleep 0.1 unless $e13;
}
ok($e13, 'and may open another');

# --- the JSON and the metrics ----------------------------------------------

$doc = $t->status('/status?sessions=0');
my $term = limit_of($doc, '/term/');
is($term->{key}, '$arg_user', 'a limit per key names its key');
is($term->{max}, 2, 'and its number');
is($term->{keys}, 3, '/term/ has three keys with sessions');
is_deeply([ map { $_->{sessions} } @{ $term->{top} } ], [2, 2, 2],
          'each with two');
cmp_ok($term->{rejected}, '>=', 2, 'refusals counted by limit');
my ($all) = grep { $_->{location} eq '/term/' && !defined $_->{key} }
                 @{ $doc->{limits} };
is($all && $all->{sessions}, 9, 'its limit of all sessions counts nine');
is(limit_of($doc, '/wide/')->{top}[0]{key}, 'erin', 'erin holds /wide/');
is(limit_of($doc, '/wide/')->{top}[0]{sessions}, 12, 'with twelve');

my ($a1) = session('/addr/x1');
$doc = $t->status('/status?sessions=0');
is(limit_of($doc, '/addr/')->{top}[0]{key_hex}, '7f000001',
   'a binary key is shown in hex');
$a1->kill if $a1;

my ($m, $text) = $t->metrics('/status?format=prometheus');
my $labels = '{server="",location="/chat/",key="$arg_user"}';
is($m->{"nginx_ws_sessions_evicted_total$labels"}, 1,
   'evictions by limit in Prometheus');
cmp_ok($m->{'nginx_ws_sessions_rejected_total{server="",location="/term/",'
            . 'key="$arg_user"}'} // 0, '>=', 2, 'refusals by limit');
is($m->{'nginx_ws_limit_keys{server="",location="/term/",'
        . 'key="$arg_user"}'}, 3, 'keys by limit');
is($m->{'nginx_ws_limit_max_sessions{server="",location="/term/",key=""}'},
   100, 'a limit of all sessions has its own series');

SKIP: {
    my $promtool = $t->which('promtool')
        or skip 'promtool is not installed', 1;
    open my $fh, '|-', "$promtool check metrics >/dev/null 2>&1" or die $!;
    print $fh $text;
    ok(close($fh), 'promtool accepts the metrics');
}

# --- a reload keeps every key's count --------------------------------------

my @old = $t->worker_pids;
$t->reload;

my @new;
$end = time + 10;
while (time < $end) {
    my %old = map { $_ => 1 } @old;
    @new = grep { !$old{$_} } $t->worker_pids;
    last if @new == 2;
    sleep 0.05;
}
is(scalar @new, 2, 'two new workers');
ok($t->wait_log(qr/ $old[0]#\d+: gracefully shutting down/,
                WsHb::patience(10)),
   'and the old ones take no more');

ok(refused('/term/a9?user=alice'), 'alice is still at her limit');
ok(refused('/wide/e14?user=erin'), 'and so is erin');
$doc = $t->status('/status?sessions=0');
is(limit_of($doc, '/wide/')->{top}[0]{sessions}, 12,
   'erin still holds twelve');

$alice[0]->send('close');
ok($alice[0]->expect('close', 5), 'alice closes a session of the old '
                                   . 'workers');
$end = time + 5;
my $a3;
while (!$a3 && time < $end) {
    ($a3) = session('/term/a3?user=alice');
    sleep 0.1 unless $a3;
}
ok($a3, 'and the new workers let her open one');
ok(refused('/term/a4?user=alice'), 'one, and no more');

# the counts the zone keeps as records change are those of the records:
# by state and by upstream peer, over evictions, zombies and a reload

$doc = $t->status('/status?sessions=1000');
my (%states, %peers);
$states{ $_->{state} }++ for @{ $doc->{sessions} };
$peers{ $_->{upstream_addr} }++ for @{ $doc->{sessions} };
is_deeply({ map { $_ => $doc->{sessions_by_state}{$_} }
            grep { $doc->{sessions_by_state}{$_} }
            keys %{ $doc->{sessions_by_state} } },
          \%states, 'sessions by state: as the records say');
is_deeply({ map { $_->{peer} => $_->{sessions} } @{ $doc->{upstreams} } },
          \%peers, 'sessions by upstream: as the records say');
is($doc->{sessions_matching}, scalar @{ $doc->{sessions} },
   'and every session is listed');

$_->kill for grep { defined } @alice, @bob, @anon, @carol, @erin, $in, $d1,
                                $d2, $d3, $e13, $a3;

$t->finish;
done_testing;
