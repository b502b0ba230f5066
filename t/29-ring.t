#!/usr/bin/perl

# The delta ring's size: without ws_heartbeat_stream_ring a small zone
# takes what fits and says nothing; a size asked for and not kept is said
# once, when the zone is made; a reload that changes it says that the zone
# keeps its ring until it is made anew.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use WsHb;

sub conf {
    my ($t, $ring, $size) = @_;
    $size //= '32k';
    $t->write_conf(<<"EOF");
    ws_heartbeat_zone ws:$size;
    $ring

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF
}

my $quiet = WsHb->new;
conf($quiet, '');
$quiet->run('http');
is($quiet->get($quiet->port('http'), '/status')->{status}, 200,
   'a small zone with the default ring serves');
unlike($quiet->error_log, qr/holds a ring/, 'and says nothing of its ring');
$quiet->finish;

my $t = WsHb->new;
conf($t, 'ws_heartbeat_stream_ring 1024;');
$t->run('http');
is($t->get($t->port('http'), '/status')->{status}, 200, 'a ring asked for');

my @notice = $t->error_log
    =~ /\[notice\].*ws_heartbeat: zone "ws" holds a ring of (\d+) deltas, not 1024/g;
is(scalar @notice, 1, "the smaller ring kept ($notice[0]) is said once");

$t->finish;

# a zone that holds either size

my $r = WsHb->new;
conf($r, 'ws_heartbeat_stream_ring 256;', '1m');
$r->run('http');
unlike($r->error_log, qr/holds a ring/, 'a ring that fits is not told of');

is($r->get($r->port('http'), '/status?sessions=0')->{status}, 200,
   'a worker serves');
my ($old) = $r->worker_pids;
conf($r, 'ws_heartbeat_stream_ring 512;', '1m');
$r->reload;
ok($r->wait_log(qr/ $old#\d+: gracefully shutting down/,
                WsHb::patience(10)),
   'a reload with another ring size goes through');
like($r->error_log, qr/\[warn\].*"ws_heartbeat_stream_ring 512" waits for a new zone: zone "ws" keeps its ring of 256 deltas until a restart/,
     'and says that the zone keeps its ring');
is($r->get($r->port('http'), '/status?sessions=0')->{status}, 200,
   'the status still serves');

$r->finish;
done_testing;
