#!/usr/bin/perl

# The state a session shows is true: awaiting_pong while either peer owes a
# pong (the other's pong does not make it healthy), and closing from the
# moment a close frame is seen, in the JSON and in the deltas.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use lib 't/lib';
use WsHb;

$SIG{PIPE} = 'IGNORE';

my $t = WsHb->new->need('node', 'ws');

$t->write_conf(<<'EOF');
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location /app/ {
            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 3s;
            ws_heartbeat_upstream on;

            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
        }

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'), '--mode', 'silent', '--quiet');
$t->run('http');

my $base = 'ws://127.0.0.1:' . $t->port('http');

sub session {
    my ($uri) = @_;
    my ($s) = grep { $_->{uri} =~ /^\Q$uri\E(\?|$)/ }
        @{ $t->status->{sessions} // [] };
    return $s;
}

# --- a client that owes a pong while the upstream answers its own ----------

my $c = $t->ws_client("$base/app/owes", '--quiet');
ok($c->expect('open', 10), 'client connected');
ok($c->expect('ping', 10), 'and answered a ping');
$c->stop;

# for 2.5 s (the client's 3 s timeout has not run out), every look at the
# session while the client owes a pong shows awaiting_pong, also just
# after the upstream's pong to the same round of pings

my ($owed, $both, @wrong) = (0, 0);
my $end = time + 2.5;

while (time < $end) {
    my $s = session('/app/owes') or last;

    if ($s->{client}{pings} > $s->{client}{pongs}) {
        $owed++;
        $both++ if $s->{upstream}{pings} >= $s->{client}{pings}
                   && $s->{upstream}{pongs} == $s->{upstream}{pings};
        push @wrong, $s->{state} if $s->{state} ne 'awaiting_pong';
    }

    sleep 0.02;
}

cmp_ok($owed, '>', 10, "the client owed a pong in $owed looks");
cmp_ok($both, '>', 5,
       "in $both of them the upstream had answered the same round");
is_deeply(\@wrong, [], 'all of them awaiting_pong');

$c->kill;

# --- the application's close frame toward a frozen client --------------------

# a subscriber to the deltas, over SSE

my $sse = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port('http'))
    or die "connect: $!";
print $sse "GET /status?format=sse HTTP/1.1\r\nHost: x\r\n\r\n";

$c = $t->ws_client("$base/app/bye?close=1500", '--quiet');
ok($c->expect('open', 10), 'second client connected');
ok($c->expect('ping', 10), 'and answered a ping');
$c->stop;

ok($app->expect('closing', 10), 'the application sent its close frame');
my $at = time;
my $s;

# the upstream's ws waits 30 s for the frozen client's answer: meanwhile
# the session is closing, not healthy

do { $s = session('/app/bye') } until ($s && $s->{state} eq 'closing')
    || time > $at + 1 || !sleep 0.02;

is($s && $s->{state}, 'closing',
   'closing once the application sent its close frame');
ok($s && $s->{close_reason}, 'with a close reason') or diag explain $s;

sleep 1.5;
$s = session('/app/bye');
is($s && $s->{state}, 'closing', 'and still closing 1.5 s later');

# the delta that says so

my ($buf, $delta) = ('');
my $until = time + 5;

while (!$delta && time < $until) {
    last unless IO::Select->new($sse)->can_read($until - time);
    sysread($sse, $buf, 65536, length $buf) or last;

    while ($buf =~ s/^data: (.*)\n//m) {
        my $ev = eval { decode_json($1) } or next;
        next unless ($ev->{type} // '') eq 'updated';
        next unless ($ev->{after}{uri} // '') =~ m{^/app/bye\?};
        $delta = $ev if $ev->{after}{state} eq 'closing';
    }
}

ok($delta, 'a delta says the session is closing')
    or diag $buf;

$c->kill;
close $sse;

$t->finish;
done_testing;
