#!/usr/bin/perl

# The session table at its limits: a full zone still proxies and
# heartbeats every session, counts the extra ones as untracked and warns
# once; a reload keeps the table and its counts exact.

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

$t->finish;
done_testing;
