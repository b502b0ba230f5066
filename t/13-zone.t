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
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
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

sub status {
    my $r = $t->get($port, '/status?sessions=0');
    return eval { decode_json($r->{body}) } // {};
}

my $max = status()->{zone}{max_records};
cmp_ok($max, '>', 50, "a 32k zone holds $max records");

# --- zone full ------------------------------------------------------------------

my @s = map { (connect_ws($port, path => "/ws/$_"))[0] } 1 .. $max + 5;
is(scalar @s, $max + 5, 'all sessions upgraded');

my $doc = status();
is($doc->{zone}{used_records}, $max, 'every record used');
is($doc->{zone}{free_records}, 0, 'none free');
is($doc->{totals}{untracked}, 5, '5 sessions untracked');
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
is($doc->{totals}{closed}{client_close}, $max + 5,
   'every close counted, tracked or not');

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
is($doc->{totals}{opened}, $max + 10, 'opened carried over the reload');

close $_ for @s;
$end = time + 5;
do { sleep 0.1; $doc = status() }
    while $doc->{zone}{used_records} && time < $end;
is($doc->{zone}{used_records}, 0, 'and freed when they end');

$t->finish;
done_testing;
