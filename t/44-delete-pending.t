#!/usr/bin/perl

# A DELETE's close frame waits in the zone until the worker of each
# session it marked acts, and no later DELETE may overwrite it meanwhile.
# The owner is an old worker of a reload, stopped (SIGSTOP) before the
# reload so that it acts only once it is let go: a session marked with
# 4001 "revoked-A" then gets exactly that after eight DELETEs that match
# nothing, and sessions marked by seven different DELETEs get each its
# own.  Another frame while eight slots are held gets 503 and marks
# nothing; one that is the same as a pending one shares its slot.  An old
# worker that is already draining still acts on a DELETE within a second.

use strict;
use warnings;

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;

my $t = WsHb->new;
$t->need('node');

$t->write_conf(<<'EOF');
    ws_heartbeat_zone ws:1m;
    ws_heartbeat_drain 30s;

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
            ws_heartbeat_status_token admin-token name=oncall admin;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');
my $admin = 'Authorization: Bearer admin-token';

sub delete_req {
    my ($query) = @_;
    my $r = $t->http($port, "DELETE /status?$query HTTP/1.0\r\n"
                     . "Host: localhost\r\n$admin\r\n\r\n");
    $r->{json} = eval { decode_json($r->{body}) } // {};
    return $r;
}

# opens a session per user; returns their clients

sub open_sessions {
    my %c = map { $_ => $t->ws_client("ws://127.0.0.1:$port/ws/x?user=$_") }
            @_;
    return (scalar(grep { $c{$_}->expect('open', 10) } keys %c), %c);
}

# the worker that owns the sessions stops, then a reload makes it an old
# worker that no DELETE can wake: it acts at its watch, once let go.
# Returns its pid once a new worker serves the status.

sub stop_and_reload {
    my ($old) = $t->worker_pids;
    kill 'STOP', $old;
    $t->reload;

    my $end = time + 10;
    while (time < $end) {
        my ($new) = grep { $_ != $old } $t->worker_pids;
        return $old if $new && $t->status('/status', $admin)->{sessions};
        sleep 0.1;
    }

    return undef;
}

# the close each client got, as "code reason"

sub closes {
    my (%c) = @_;
    return { map { my $ev = $c{$_}->expect('close', 10);
                   ($_ => $ev ? "$ev->{code} $ev->{reason}" : 'none') }
             keys %c };
}

sub wait_exit {
    my ($pid) = @_;
    my $end = time + 10;
    sleep 0.1 while time < $end && kill 0, $pid;
    return !kill 0, $pid;
}

# --- a marked session, then eight other DELETEs ------------------------------

my ($opened, %c) = open_sessions('victim');
is($opened, 1, 'a session');

my $old = stop_and_reload();
ok($old, 'its worker stopped, a new one serves the status');

my $r = delete_req('tag.user=victim&code=4001&reason=revoked-A');
is($r->{json}{closed}, 1, 'the session is marked with 4001 revoked-A');

my $n = 0;
for my $k (1 .. 8) {
    $r = delete_req("tag.user=nobody&code=4002&reason=other-B$k");
    $n++ if $r->{status} == 200 && $r->{json}{closed} == 0;
}
is($n, 8, 'then eight DELETEs with other frames match nothing');

kill 'CONT', $old;
is(closes(%c)->{victim}, '4001 revoked-A',
   'once its old worker runs, the session gets its DELETE\'s frame');
ok(wait_exit($old), 'and the old worker exits');

# --- eight frames pending at once --------------------------------------------

($opened, %c) = open_sessions(map { "s$_" } 1 .. 9);
is($opened, 9, 'nine sessions in the new worker');

$old = stop_and_reload();
ok($old, 'which is stopped and reloaded in turn');

$n = 0;
for my $k (1 .. 7) {
    $r = delete_req("tag.user=s$k&code=" . (4010 + $k) . "&reason=r$k");
    $n++ if $r->{json}{closed} == 1;
}
$r = delete_req('tag.user=nobody&code=4000&reason=r0');
$n++ if $r->{json}{closed} == 0;
$r = delete_req('tag.user=s8&code=4018&reason=r8');
$n++ if $r->{json}{closed} == 1;
is($n, 9, 'eight sessions marked by eight DELETEs with their own frames, '
          . 'and one DELETE that matched nothing between them');

$r = delete_req('tag.user=s9&code=4019&reason=r9');
is($r->{status}, 503, 'a ninth frame while eight are pending: 503');
is($r->{headers}{'retry-after'}, 1, 'with Retry-After');
like($r->{body}, qr/^too many DELETEs with other close frames are pending/,
     'saying why');

$r = delete_req('tag.user=nobody&code=4019&reason=r9');
is_deeply($r->{json}, { closed => 0, unjudged => 0, ids => [] },
          'a DELETE that matches nothing needs no slot: 200');

$r = delete_req('tag.user=s9&code=4013&reason=r3');
is($r->{json}{closed}, 1, 'the frame of a pending DELETE is shared: 200');

kill 'CONT', $old;
is_deeply(closes(%c),
          { s9 => '4013 r3', map { ("s$_" => (4010 + $_) . " r$_") } 1 .. 8 },
          'each session gets the frame of the DELETE that marked it');
ok(wait_exit($old), 'and the old worker exits');

# --- a DELETE while an old worker drains ----------------------------------------

($opened, %c) = open_sessions('late');
is($opened, 1, 'a session in the new worker');

my ($owner) = $t->worker_pids;
$t->reload;
ok($t->wait_log(qr/\[notice\] $owner#\d+: ws_heartbeat: worker exiting, (?x)
                   draining \s 1 \s sessions/, 10),
   'a reload: its worker drains it over 30 s');

$r = delete_req('tag.user=late&code=4002&reason=late');
is($r->{json}{closed}, 1, 'then a DELETE marks it');
is(closes(%c)->{late}, '4002 late',
   'and the draining worker closes it with that frame, not at its drain');
ok(wait_exit($owner), 'and exits');

like($t->error_log,
     qr/token "oncall": DELETE "tag\.user=s9&code=4019&reason=r9" refused, (?x)
        8 \s other \s close \s frames \s are \s pending/,
     'the refusal is in the audit log');

$app->kill;
$t->finish;

done_testing;
