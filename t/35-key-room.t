#!/usr/bin/perl

# A limit per key in a zone without room for another key (as many keys
# hold sessions as the zone has records): the session cannot be counted
# and is refused with 503, or, with "uncounted=admit", admitted and not
# limited; counted as unkeyed either way, and the error log warns once,
# not once per session.  Keys that have their entry stay limited.

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

        location /open/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
            ws_heartbeat_max_sessions 1 key=$http_x_user uncounted=admit;
        }

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');

# a session of a user with a 60-byte name, where asked

sub user { sprintf '%s-%03d', 'u' x 56, $_[0] }

sub open_as {
    my ($n, $where) = @_;
    my ($s) = eval {
        connect_ws($port, path => '/' . ($where // 'ws') . '/',
                   headers => 'X-User: ' . user($n) . "\r\n")
    };
    return $s // ($@ =~ m{^not 101: HTTP/1\.\d (\d+)})[0];
}

my $max = $t->status('/status?sessions=0')->{zone}{max_records};
my @s = map { open_as($_) } 1 .. $max;

is(scalar(grep { ref } @s), $max, "$max sessions of distinct keys");
my $doc = $t->status('/status?sessions=0');
my ($limit) = @{ $doc->{limits} };
is($limit->{keys}, $max, 'the zone holds a key for each record');
is($limit->{sessions}, $max, 'the limit counts the sessions of its keys');

is(open_as($max + 1), 503, 'a new key that cannot be counted: 503');
is(open_as($max + 2), 503, 'and another');
my $admitted = open_as($max + 3, 'open');
ok(ref $admitted, 'admitted where uncounted=admit says so');

$doc = $t->status('/status?sessions=0');
is($doc->{totals}{unkeyed}, 3, 'all three counted as unkeyed');
is($doc->{totals}{rejected}, 2, 'the two refused as rejected');

is(open_as(1), 503, 'a key with its entry is still limited');

my @warned = $t->error_log =~ /has no room for a new key/g;
is(scalar @warned, 1, 'warned once, not once per session');

close $_ for grep { ref } @s, $admitted;

$t->finish;
done_testing;
