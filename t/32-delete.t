#!/usr/bin/perl

# Closing sessions from the status endpoint: DELETE with the filters of a
# GET closes every session they match, in whichever worker it lives, with
# a close frame to the client and, masked, to the upstream (real ws peers
# on both sides read its code and reason).  Only an admin token may; the
# answers are 401, 403 and 400 otherwise; each action is logged; nothing
# the filter did not match is touched.

use strict;
use warnings;

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;

my $t = WsHb->new;
$t->need('node');

$t->write_conf(<<'EOF', workers => 2);
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
            ws_heartbeat_tag user $arg_user;
        }

        location = /status {
            ws_heartbeat_status;
            ws_heartbeat_status_token reader-token;
            ws_heartbeat_status_token admin-token name=oncall admin;
        }

        location = /open {
            ws_heartbeat_status;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');
my $base = "ws://127.0.0.1:$port";
my $admin = 'Authorization: Bearer admin-token';

# a session per name: its client, and its id at the upstream

my (%client, %upstream);

sub open_session {
    my ($name, $user) = @_;
    my $c = $t->ws_client("$base/ws/$name?user=$user");
    return 0 unless $c->expect('open', 10);
    my $ev = $app->expect('open', 10, url => "/ws/$name?user=$user");
    $client{$name} = $c;
    $upstream{$name} = $ev ? $ev->{id} : -1;
    return 1;
}

# the close events of these sessions, each side, waiting up to $timeout

sub closes {
    my ($timeout, @names) = @_;
    my %want = map { $upstream{$_} => $_ } @names;
    my (%c, %u);
    my $end = time + $timeout;

    for my $n (@names) {
        my $ev = $client{$n}->expect('close', $end - time);
        $c{$n} = $ev ? "$ev->{code} $ev->{reason}" : 'none';
    }

    for my $ev ($app->seen('close')) {
        $u{ $want{ $ev->{id} } } = "$ev->{code} $ev->{reason}"
            if exists $want{ $ev->{id} };
    }

    while (keys %u < @names && time < $end) {
        my $ev = $app->expect('close', $end - time) or last;
        $u{ $want{ $ev->{id} } } = "$ev->{code} $ev->{reason}"
            if exists $want{ $ev->{id} };
    }

    return (\%c, \%u);
}

sub delete_req {
    my ($uri, @headers) = @_;
    my $r = $t->http($port, "DELETE $uri HTTP/1.0\r\nHost: localhost\r\n"
                     . join('', map { "$_\r\n" } @headers) . "\r\n");
    $r->{json} = eval { decode_json($r->{body}) };
    return $r;
}

sub live {
    my ($query) = @_;
    my $d = $t->status("/status?$query", $admin);
    return join ',', sort map { $_->{uri} =~ m{^/ws/([^?]+)} }
        @{$d->{sessions} // []};
}

my @bulk = map { "bulk$_" } 1 .. 12;

ok(open_session($_->[0], $_->[1]), "session $_->[0]")
    for [a1 => 'alice'], [a2 => 'alice'], [b1 => 'bob'], [c1 => 'carol'],
        [d1 => 'dave'], [e1 => 'erin'], map { [$_ => 'bulk'] } @bulk;

my $doc = $t->status('/status?sessions=1000', $admin);
my %pids = map { $_->{pid} => 1 } @{$doc->{sessions}};
is(scalar keys %pids, 2, 'the sessions live in both workers');
my %id = map { ($_->{uri} =~ m{^/ws/([^?]+)})[0] => $_->{id} }
             @{$doc->{sessions}};

# --- who may -----------------------------------------------------------------

my $r = delete_req("/status?id=$id{e1}");
is($r->{status}, 401, 'no token: 401');
$r = delete_req("/status?id=$id{e1}", 'Authorization: Bearer guess');
is($r->{status}, 401, 'a wrong token: 401');
$r = delete_req("/status?id=$id{e1}", 'Authorization: Bearer reader-token');
is($r->{status}, 403, 'a token without admin: 403');
like($r->{body}, qr/admin/, 'and why');
$r = delete_req("/open?id=$id{e1}");
is($r->{status}, 403, 'a status location without tokens: 403');
$r = delete_req('/status', $admin);
is($r->{status}, 400, 'no filter: 400');
like($r->{body}, qr/all=1/, 'which says all=1 would do');

for my $bad (['code=1006', qr/code must be/],
             ['code=3000', qr/code must be/],
             ['code=x', qr/code must be/],
             ['reason=' . ('r' x 124), qr/at most 123 bytes/],
             ['reason=%E9t%E9', qr/UTF-8/],
             ['tag.user=a&tag.user=b', qr/given twice/],
             ['all=yes', qr/all must be 1/])
{
    $r = delete_req("/status?id=$id{e1}&$bad->[0]", $admin);
    is($r->{status}, 400, "$bad->[0]: 400");
    like($r->{body}, $bad->[1], "$bad->[0]: the reason");
}

is(live('sessions=1000'), join(',', sort qw(a1 a2 b1 c1 d1 e1), @bulk),
   'none of that closed anything');

# --- by id: the default frame ------------------------------------------------

$r = delete_req("/status?id=$id{e1}", $admin);
is($r->{status}, 200, 'DELETE by id: 200');
is_deeply($r->{json}, { closed => 1, unjudged => 0, ids => [ $id{e1} ] },
          'the count and the id');
my ($c, $u) = closes(5, 'e1');
is($c->{e1}, '1001 closed by operator', 'the client got 1001');
is($u->{e1}, '1001 closed by operator', 'and so did the upstream');

# --- by tag, with a code and a reason ------------------------------------------

$r = delete_req('/status?tag.user=alice&code=4001&reason=token%20revoked',
                $admin);
is($r->{json}{closed}, 2, 'DELETE by tag: both of alice\'s sessions');
($c, $u) = closes(5, 'a1', 'a2');
is_deeply($c, { a1 => '4001 token revoked', a2 => '4001 token revoked' },
          'her clients got the code and the reason');
is_deeply($u, { a1 => '4001 token revoked', a2 => '4001 token revoked' },
          'and the upstream too');

# --- by tag across both workers ------------------------------------------------

$r = delete_req('/status?tag.user=bulk&code=1012&reason=%C3%A9t%C3%A9',
                $admin);
is($r->{json}{closed}, 12, 'twelve sessions in two workers');
is(scalar @{$r->{json}{ids}}, 12, 'each one listed');
($c, $u) = closes(5, @bulk);
is(scalar(grep { $_ eq "1012 \x{e9}t\x{e9}" } values %$c), 12,
   'every client got 1012 and the UTF-8 reason');
is(scalar(grep { $_ eq "1012 \x{e9}t\x{e9}" } values %$u), 12,
   'every upstream too');

# --- by uri and by upstream; then everything ---------------------------------

$r = delete_req('/status?uri=/ws/b', $admin);
is($r->{json}{closed}, 1, 'DELETE by uri prefix');
($c) = closes(5, 'b1');
is($c->{b1}, '1001 closed by operator', 'bob closed');

is(live('sessions=1000'), 'c1,d1', 'carol and dave are left');

$r = delete_req('/status?upstream=127.0.0.1:1', $admin);
is_deeply($r->{json}, { closed => 0, unjudged => 0, ids => [] },
          'no session to that peer');
$r = delete_req('/status?upstream=127.0.0.1:' . $t->port('app')
                . '&tag.user=carol', $admin);
is($r->{json}{closed}, 1, 'DELETE by upstream and tag');
($c) = closes(5, 'c1');
is($c->{c1}, '1001 closed by operator', 'carol closed');
is(live('sessions=1000'), 'd1', 'dave is left');

$r = delete_req('/status?all=1&code=1001', $admin);
is($r->{json}{closed}, 1, 'all=1');
($c) = closes(5, 'd1');
is($c->{d1}, '1001 closed by operator', 'dave closed');

my $end = time + 5;
sleep 0.1 while live('sessions=10') ne '' && time < $end;
$doc = $t->status('/status?sessions=0', $admin);
is($doc->{totals}{closed}{admin}, 18, 'each counted as closed by admin');
is($doc->{totals}{closed}{client_close}, 0, 'none as a client close');

# --- the audit log -------------------------------------------------------------

my @audit = $t->error_log =~
    /\[notice\].*ws_heartbeat: client 127\.0\.0\.1, token "(\w+)": DELETE "([^"]*)" closes (\d+) sessions/g;
my @lines;
push @lines, [ splice @audit, 0, 3 ] while @audit;
is(scalar @lines, 7, 'one notice per DELETE that ran');
is_deeply($lines[1], [ 'oncall', 'tag.user=alice&code=4001&reason=token%20revoked',
                       2 ], 'with the token\'s name, the filter, the count');

$app->kill;
$t->finish;

done_testing;
