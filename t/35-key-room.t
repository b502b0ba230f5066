#!/usr/bin/perl

# A limit per key in a zone without room for another key: the session is
# admitted and not limited, counted as unkeyed, and the error log warns
# once, not once per session.  Keys that have their entry stay limited.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use WsHb;
use WsHbFrames qw(connect_ws);

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    ws_heartbeat_zone ws:32k;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
            ws_heartbeat_max_sessions 1 key=$http_x_user;
        }

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');

# a session of a user with a 100-byte name: a 128-byte chunk of the zone

sub user { sprintf '%s-%03d', 'u' x 96, $_[0] }

sub open_as {
    my ($n) = @_;
    my ($s) = eval {
        connect_ws($port, path => '/ws/', headers => 'X-User: ' . user($n)
                                                     . "\r\n")
    };
    return $s;
}

my $max = $t->status('/status?sessions=0')->{zone}{max_records};
my (@s, $doc);

for my $n (1 .. $max - 5) {
    push @s, open_as($n) // last;
    $doc = $t->status('/status?sessions=0');
    last if $doc->{totals}{unkeyed} >= 3;
}

my ($limit) = @{ $doc->{limits} };
cmp_ok($limit->{keys}, '>', 0, "the zone holds $limit->{keys} keys");
is($doc->{totals}{unkeyed}, 3, 'the next sessions are admitted, unkeyed');
is($limit->{sessions}, $limit->{keys},
   'the limit counts the sessions of its keys');

ok(!open_as(1), 'a key with its entry is still limited');
my $again = open_as(scalar @s);
ok($again, 'an unkeyed one is not');

my @warned = $t->error_log =~ /has no room for a new key/g;
is(scalar @warned, 1, 'warned once, not once per session');

close $_ for @s, grep { $_ } $again;

$t->finish;
done_testing;
