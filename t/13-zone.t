#!/usr/bin/perl

# The session table at its limits: a full zone still proxies and
# heartbeats every session, counts the extra ones as untracked (and as
# unjudged while open) and warns once; every record keeps its host and
# URI; a reload keeps the table and its counts exact, and one that needs
# more room per session than the zone was made with says so.

use strict;
use warnings;

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;
use WsHbFrames qw(connect_ws frame parse_frames);

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    ws_heartbeat_zone ws:32k;
    ws_heartbeat_drain 30s;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
        }

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');

sub status { $t->status('/status?sessions=0') }

my $max = status()->{zone}{max_records};
# the zone's fixed tables (64 limits, the workers and upstream peers that
# have records) take about 3 KB of the smallest zone; each record comes
# with an entry for its host and URI (112 bytes without tags)
cmp_ok($max, '>', 20, "a 32k zone holds $max records");

# --- zone full ------------------------------------------------------------------

my @s = map { (connect_ws($port, path => "/ws/$_"))[0] } 1 .. $max + 5;
is(scalar @s, $max + 5, 'all sessions upgraded');

my $doc = status();
is($doc->{zone}{used_records}, $max, 'every record used');
is($doc->{zone}{free_records}, 0, 'none free');
is($doc->{totals}{untracked}, 5, '5 sessions untracked');
is($doc->{sessions_unjudged}, 5, 'which no filter can judge while open');
is($doc->{totals}{opened}, $max + 5, 'all counted as opened');

my @warn = $t->error_log =~ /(zone "ws" is full)/g;
is(scalar @warn, 1, 'one warning, not one per session');

# an untracked session still works

my $last = $s[-1];
syswrite $last, frame(0x81, 'untracked but alive', 'abcd');
my ($buf, $end) = ('', time + 5);
while (time < $end && $buf !~ /alive/) {
    sysread($last, $buf, 4096, length $buf) or last;
}
like($buf, qr/untracked but alive/, 'an untracked session is proxied');

close $_ for @s;

$end = time + 5;
do { sleep 0.1; $doc = status() }
    while $doc->{zone}{used_records} && time < $end;

is($doc->{zone}{used_records}, 0, 'all records freed');
is($doc->{sessions_unjudged}, 0, 'none left unjudged');
is($doc->{totals}{closed}{client_close}, $max + 5,
   'every close counted, tracked or not');
is($doc->{totals}{frames}{client_to_upstream}, 1,
   'the untracked session\'s frame is in the totals once it ended');
is($doc->{totals}{frames}{upstream_to_client}, 1, 'and its echo');
is($doc->{totals}{bytes}{client_to_upstream}, 6 + length 'untracked but alive',
   'with its bytes');

# --- hosts and URIs -------------------------------------------------------------

# sessions to the same host and URI share one entry

sub sessions {
    my $r = $t->get($port, '/status');
    return eval { decode_json($r->{body}) } // {};
}

sub drained {
    my $end = time + 5;
    my $d;
    do { sleep 0.1; $d = status() }
        while ($d->{zone}{used_records} || $d->{zone}{names}) && time < $end;
    return $d;
}

is(status()->{zone}{names}, 0, 'no names left by the sessions that ended');
is(status()->{zone}{names_bytes}, 0, 'nor their bytes');

@s = map { (connect_ws($port, path => '/ws/same'))[0] } 1 .. 10;
$doc = sessions();
is($doc->{zone}{used_records}, 10, '10 sessions to one URI');
is($doc->{zone}{names}, 1, 'share one host and URI');
cmp_ok($doc->{zone}{names_bytes}, '>', 0, 'which takes some bytes');
cmp_ok($doc->{zone}{names_bytes}, '<=', 128, 'one entry');
is(scalar(grep { $_->{uri} eq '/ws/same' && $_->{host} eq "localhost" }
          @{$doc->{sessions}}), 10, 'each shows the host and URI');

my $other = (connect_ws($port, path => '/ws/other'))[0];
is(sessions()->{zone}{names}, 2, 'another URI is another entry');

close $_ for @s;
$doc = sessions();
$end = time + 5;
while ($doc->{zone}{used_records} != 1 && time < $end) {
    sleep 0.1;
    $doc = sessions();
}
is($doc->{zone}{names}, 1, 'the shared entry goes with its last session');
is($doc->{sessions}[0]{uri}, '/ws/other', 'the other one stays');
close $other;

$doc = drained();
is($doc->{zone}{names}, 0, 'no entry left');
is($doc->{zone}{names_bytes}, 0, 'no bytes left');

# distinct URIs as long as they can be: every record has an entry with
# room for the longest host and URI, so each session keeps its own (cut
# at 64 bytes), however many the others took

my $long = 'x' x 80;
my @uri = map { "/ws/l$_-$long" } 1 .. $max;
@s = map { (connect_ws($port, path => $_))[0] } @uri;
is(scalar @s, $max, "$max sessions with distinct URIs");

$doc = sessions();
my %want = map { substr($_, 0, 64) => 1 } @uri;
is($doc->{zone}{used_records}, $max, 'every session tracked');
is($doc->{zone}{unnamed}, 0, 'none without its names');
is($doc->{zone}{names}, $max, 'one entry each');
is(scalar(grep { $want{$_->{uri}} && $_->{host} eq 'localhost' }
          @{$doc->{sessions}}), $max,
   'each shows its own URI (cut at 64 bytes) and the host');
unlike($t->error_log, qr/tags of a session left out/, 'nothing to warn of');

close $_ for @s;
$doc = drained();
is($doc->{zone}{used_records}, 0, 'all records freed');
is($doc->{zone}{names}, 0, 'and every name');
is($doc->{zone}{names_bytes}, 0, 'and their bytes');

# --- reload keeps exact counts ---------------------------------------------------

@s = map { (connect_ws($port, path => "/ws/r$_"))[0] } 1 .. 5;
is(status()->{zone}{used_records}, 5, '5 sessions before the reload');

my ($old) = $t->worker_pids;
$t->reload;

$end = time + 10;
my $new;
while (time < $end) {
    ($new) = grep { $_ != $old } $t->worker_pids;
    last if $new;
    sleep 0.1;
}
ok($new, 'a new worker started');

$end = time + 10;
do { $doc = status(); sleep 0.1 } while $doc->{pid} != $new && time < $end;
is($doc->{pid}, $new, 'status now served by the new worker');
is($doc->{zone}{used_records}, 5,
   'the old worker\'s sessions are still counted, once');
is($doc->{totals}{opened}, 2 * $max + 21,
   'opened carried over the reload');

close $_ for @s;
$end = time + 5;
do { sleep 0.1; $doc = status() }
    while $doc->{zone}{used_records} && time < $end;
is($doc->{zone}{used_records}, 0, 'and freed when they end');

# --- the room per session is fixed when the zone is made ----------------------

# a reload adds four tags and a limit per key to the zone made without
# either: both are said to wait for a new zone; the tags that do not fit
# are left out of new sessions, which a filter by tag cannot judge, and
# the keys cannot be counted, so their sessions are refused

$t->write_conf(<<'EOF');
    ws_heartbeat_zone ws:32k;
    ws_heartbeat_drain 30s;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
            ws_heartbeat_tag user $arg_user;
            ws_heartbeat_tag tenant $arg_tenant;
            ws_heartbeat_tag plan $arg_plan;
            ws_heartbeat_tag region $arg_region;
        }

        location /keyed/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
            ws_heartbeat_max_sessions 5 key=$arg_user;
        }

        location = /status {
            ws_heartbeat_status;
            ws_heartbeat_status_token admin-token admin;
        }
    }
EOF

$old = $new;
$t->reload;
$end = time + 10;
do { $doc = status_as(); sleep 0.1 }
    while (!$doc->{pid} || $doc->{pid} == $old) && time < $end;
isnt($doc->{pid} // $old, $old, 'reloaded with tags and a limit per key');

sub status_as {
    my ($query) = @_;
    return $t->status('/status?' . ($query // 'sessions=0'),
                      'Authorization: Bearer admin-token');
}

like($t->error_log,
     qr/\[warn\].*tags of \d+ bytes wait for a new zone: zone "ws"/,
     'the tags are said to wait for a new zone');
like($t->error_log,
     qr/\[warn\].*limits per key wait for a new zone: zone "ws"/,
     'and so is the limit per key');

my ($zed) = connect_ws($port,
                       path => '/ws/z?user=zed&tenant=acme&plan=pro&region=eu');
ok($zed, 'a session with four tags');
$doc = status_as('tag.user=zed');
is($doc->{zone}{unnamed}, 1, 'counted as unnamed: its tags left out');
like($t->error_log,
     qr/\[warn\].*tags of a session left out: zone "ws" has room for \d+ bytes/,
     'and warned of');
is($doc->{sessions_matching}, 0, 'a filter by tag cannot find it');
is($doc->{sessions_unjudged}, 1, 'and says it could not judge one');
is(status_as('uri=/ws/z')->{sessions_unjudged}, 0,
   'a filter by URI judges it');
is(status_as('uri=/ws/z')->{sessions_matching}, 1, 'and finds it');

my $r = $t->http($port, "DELETE /status?tag.user=zed HTTP/1.0\r\n"
                        . "Host: localhost\r\n"
                        . "Authorization: Bearer admin-token\r\n\r\n");
is($r->{body}, qq({"closed":0,"unjudged":1,"ids":[]}\n),
   'a DELETE by tag says so too');

my $keyed = eval { connect_ws($port, path => '/keyed/k?user=zed') };
like($@, qr{^not 101: HTTP/1\.\d 503}, 'a key it cannot count: 503');
is(status_as()->{totals}{unkeyed}, 1, 'counted as unkeyed');

close $zed;
$end = time + 5;
do { sleep 0.1; $doc = status_as() }
    while $doc->{zone}{used_records} && time < $end;
is($doc->{sessions_unjudged}, 0, 'none unjudged once it ended');

# --- a worker killed with sessions the zone had no record for -----------------

@s = map { (connect_ws($port, path => "/ws/k$_"))[0] } 1 .. $max + 2;
is(status_as()->{sessions_unjudged}, 2, 'two sessions without a record');

$t->check_logs;
$t->{no_log_check} = 1;    # the master logs the worker's death at alert

($old) = $t->worker_pids;
kill 'KILL', $old;
$end = time + 10;
do { sleep 0.2; $doc = status_as() }
    while (!$doc->{pid} || $doc->{pid} == $old || $doc->{zone}{used_records})
          && time < $end;
is($doc->{zone}{used_records}, 0, 'its records are reaped');
is($doc->{sessions_unjudged}, 0,
   'and its sessions without a record no longer counted');
close $_ for @s;

$t->finish;
done_testing;
