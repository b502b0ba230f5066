#!/usr/bin/perl

# One client floods the zone with sessions whose host, URI, tags and key
# are each as long and as distinct as the configuration lets them be.
# A victim's sessions that start afterwards still have their tags and
# their key: a GET by tag finds them, a DELETE by tag closes them with its
# code and reason, and their limit per key counts them.  Once the zone has
# no record or key entry left, a limit per key refuses what it cannot
# count (503), unless "uncounted=admit" says to admit it; GET and DELETE
# then say how many open sessions they could not judge.

use strict;
use warnings;

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use IO::Select;
use lib 't/lib';
use WsHb;
use WsHbFrames qw(connect_ws parse_frames);

my $t = WsHb->new;
$t->need('node');

my $tags = <<'EOF';
            ws_heartbeat_tag user $http_x_user;
            ws_heartbeat_tag a $http_x_a;
            ws_heartbeat_tag b $http_x_b;
            ws_heartbeat_tag c $http_x_c;
EOF

$t->write_conf(<<"EOF");
    ws_heartbeat_zone ws:128k;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
$tags
            ws_heartbeat_max_sessions 2 key=\$http_x_user;
        }

        location /open/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
$tags
            ws_heartbeat_max_sessions 2 key=\$http_x_user uncounted=admit;
        }

        location = /status {
            ws_heartbeat_status;
            ws_heartbeat_status_token admin-token admin;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');
my $admin = 'Authorization: Bearer admin-token';

sub status { $t->status($_[0], $admin) }

# the longest of everything: a 32-byte host, a URI cut at 64 bytes and
# four tags of 64 bytes, all distinct; keys of 8 and 64 bytes, so that
# short keys find no room either where room is shared

sub long { my ($c, $n) = @_; sprintf '%s%05d%s', $c, $n, $c x 58 }
sub key { substr long('u', $_[0]), 0, (8, 8, 8, 64)[$_[0] % 4] }

sub hostile {
    my ($n, $where) = @_;
    my ($s) = eval {
        connect_ws($port, path => sprintf('/%s/%s', $where // 'ws',
                                          long('p', $n) . 'xxxxxxxx'),
                   host => sprintf('h%05d%s', $n, 'h' x 26),
                   headers => join '', map { "$_\r\n" }
                       'X-User: ' . key($n), 'X-A: ' . long('a', $n),
                       'X-B: ' . long('b', $n), 'X-C: ' . long('c', $n))
    };
    return $s;
}

# a victim's session, or the status line it got instead of a 101

sub victim {
    my ($user, $where) = @_;
    my ($s) = eval {
        connect_ws($port, path => '/' . ($where // 'ws') . '/app',
                   headers => "X-User: $user\r\nX-A: web\r\n")
    };
    return $s if $s;
    return ($@ =~ m{^not 101: HTTP/1\.\d (\d+)})[0] // $@;
}

my $doc = status('/status?sessions=0');
my $max = $doc->{zone}{max_records};
cmp_ok($max, '>', 20, "the zone holds $max records");

# --- the flood ---------------------------------------------------------------

my @flood;
for my $n (1 .. $max - 4) {
    push @flood, hostile($n) // last;
}
is(scalar @flood, $max - 4, 'the flood holds all but 4 records');

$doc = status('/status?sessions=10000');
is($doc->{zone}{unnamed}, 0, 'every flooding session has its names');
is(scalar(grep { length $_->{host} == 32 && length $_->{uri} == 64
                 && length($_->{tags}{c} // '') == 64 }
          @{$doc->{sessions}}), $max - 4, 'each whole, as long as allowed');
is($doc->{limits}[0]{keys}, $max - 4, 'and a key each');

# --- the victim --------------------------------------------------------------

my @eve = (victim('eve'), victim('eve'));
is(scalar(grep { ref } @eve), 2, 'eve opens two sessions');
is(victim('eve'), 503, 'her third is refused: her limit counts her');

$doc = status('/status?tag.user=eve');
is($doc->{sessions_matching}, 2, 'a GET by her tag finds both');
is(scalar(grep { $_->{tags}{user} eq 'eve' && $_->{tags}{a} eq 'web' }
          @{$doc->{sessions}}), 2, 'with their tags');
is($doc->{sessions_unjudged}, 0, 'none left unjudged');

# --- no record and no key entry left -----------------------------------------

push @flood, hostile($max - 3), hostile($max - 2);
is(status('/status?sessions=0')->{zone}{free_records}, 0, 'the zone is full');

my $untracked = hostile($max - 1);
ok($untracked, 'one more session, without a record, takes the last key');
$doc = status('/status?sessions=0');
is($doc->{totals}{untracked}, 1, 'it is untracked');
is($doc->{sessions_unjudged}, 1, 'and cannot be judged');

my $r = eval { connect_ws($port, path => '/ws/x',
                          headers => 'X-User: ' . long('u', $max) . "\r\n") };
like($@, qr{^not 101: HTTP/1\.\d 503}, 'a key that cannot be counted: 503');
is(status('/status?sessions=0')->{totals}{unkeyed}, 1,
   'counted as unkeyed');

my $admitted = hostile($max, 'open');
ok($admitted, 'admitted where uncounted=admit says so');
is(status('/status?sessions=0')->{totals}{unkeyed}, 2, 'counted too');

like($t->error_log,
     qr/\[warn\].*has no room for a new key, its sessions are refused/,
     'the error log says why');

# --- eve's sessions are still found and closed -------------------------------

$doc = status('/status?tag.user=eve');
is($doc->{sessions_matching}, 2, 'GET still finds eve\'s two sessions');
is($doc->{sessions_unjudged}, 2, 'and says two sessions were not judged');

$r = $t->http($port, "DELETE /status?tag.user=eve&code=4001&reason=revoked "
                     . "HTTP/1.0\r\nHost: localhost\r\n$admin\r\n\r\n");
my $answer = eval { decode_json($r->{body}) } // {};
is($r->{status}, 200, 'DELETE by her tag');
is($answer->{closed}, 2, 'closes both');
is($answer->{unjudged}, 2, 'and says what it could not judge');

# each of her clients gets the close frame the DELETE asked for

for my $i (0, 1) {
    my ($s, $buf, $close) = ($eve[$i], '');
    my $end = time + 5;

    while (!$close && time < $end) {
        IO::Select->new($s)->can_read(0.5) or next;
        sysread($s, $buf, 4096, length $buf) or last;
        ($close) = grep { $_->{opcode} == 8 } parse_frames(\$buf);
    }

    is($close ? join(' ', unpack 'na*', $close->{payload}) : 'none',
       '4001 revoked', "eve's session $i closed with 4001 revoked");
}

# --- the end -----------------------------------------------------------------

close $_ for @flood, @eve, $untracked, $admitted;

my $end = time + 10;
do { sleep 0.2; $doc = status('/status?sessions=0') }
    while ($doc->{zone}{used_records} || $doc->{sessions_unjudged})
          && time < $end;

is($doc->{zone}{used_records}, 0, 'every record freed');
is($doc->{sessions_unjudged}, 0, 'no session left unjudged once all ended');
is($doc->{limits}[0]{keys}, 0, 'nor any key');

$t->finish;
done_testing;
