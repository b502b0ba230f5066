#!/usr/bin/perl

# How long a session may live.  ws_heartbeat_max_age closes it at its age,
# less a random share of up to its jitter (the spread measured over 50
# sessions), with its close code to both sides; ws_heartbeat_expires
# closes it at the Unix time the request hands over: one in the future at
# that time, one in the past right after the upgrade, an empty or
# malformed one never (with a line at info), nor one beyond 24 days, up to
# 2^63 - 1 s, whose milliseconds overflow 64 bits.  The JSON shows when
# and why.

use strict;
use warnings;

use IO::Select;
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;
use WsHbFrames qw(connect_ws parse_frames);

my $t = WsHb->new;
$t->need('node');

$t->write_conf(<<'EOF');
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        %%WS_PROXY%%
        ws_heartbeat on;

        location /age/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            ws_heartbeat_max_age 1s jitter=0 code=4000;
        }

        location /jitter/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            ws_heartbeat_max_age 2s jitter=50%;
        }

        location /exact/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            ws_heartbeat_max_age 2s jitter=0;
        }

        location /exp/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            ws_heartbeat_expires $arg_exp;
        }

        location /both/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            ws_heartbeat_max_age 1h;
            ws_heartbeat_expires $arg_exp code=4001;
        }

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');
my $base = "ws://127.0.0.1:$port";

# --- max age: both sides told, with the code -------------------------------

my $t0 = time;
my $c = $t->ws_client("$base/age/a");
ok($c->expect('open', 10), 'a session with a max age of 1 s');
my $open = $app->expect('open', 5, url => '/age/a');
my $ev = $c->expect('close', 5);
my $age = time - $t0;
is($ev && "$ev->{code} $ev->{reason}", '4000 max age',
   'the client gets the code and "max age"');
cmp_ok($age, '>=', 0.9, 'not before its age');
cmp_ok($age, '<', 3, 'nor long after');
$ev = $app->expect('close', 5, id => $open ? $open->{id} : 0);
is($ev && "$ev->{code} $ev->{reason}", '4000 max age', 'and the upstream');

# --- the spread of 50 sessions, with and without jitter ---------------------

# close frames of raw sessions: when each arrived, after the first opened

sub close_times {
    my ($path, $n) = @_;
    my $start = time;
    my @s = map { (connect_ws($port, path => "$path$_"))[0] } 1 .. $n;
    my %buf;
    my %at;
    my $end = time + 6;
    my $sel = IO::Select->new(@s);

    while (keys %at < $n && time < $end) {
        for my $s ($sel->can_read(0.5)) {
            my $got = sysread($s, $buf{$s}, 65536, length($buf{$s} // ''));
            if (!$got) { $sel->remove($s); next; }
            for my $f (parse_frames(\$buf{$s})) {
                next unless $f->{opcode} == 8;
                $at{$s} = time - $start;
                $sel->remove($s);
            }
        }
    }

    close $_ for @s;
    return sort { $a <=> $b } values %at;
}

my @j = close_times('/jitter/s', 50);
is(scalar @j, 50, 'all 50 sessions with 50 % jitter are closed');
cmp_ok($j[0], '>=', 0.95, 'none before max age less 50 %');
cmp_ok($j[-1], '<', 3, 'none long after max age');
cmp_ok($j[-1] - $j[0], '>=', 0.4,
       sprintf('their closes spread over %.2f s', $j[-1] - $j[0]));

my @e = close_times('/exact/s', 50);
is(scalar @e, 50, 'all 50 sessions without jitter are closed');
cmp_ok($e[0], '>=', 1.95, 'none before max age');
cmp_ok($e[-1] - $e[0], '<', $j[-1] - $j[0],
       sprintf('without jitter they close together (%.2f s)',
               $e[-1] - $e[0]));

# --- expiry -----------------------------------------------------------------

my $exp = int(time) + 3;
$t0 = time;
$c = $t->ws_client("$base/exp/future?exp=$exp");
ok($c->expect('open', 10), 'a session that expires in about 2 to 3 s');
my $doc = $t->status('/status');
my ($rec) = grep { $_->{uri} =~ m{^/exp/future} } @{$doc->{sessions}};
is($rec && $rec->{expires_by}, 'expired', 'the JSON says why it will end');
like($rec && $rec->{expires} // '', qr/^\d{4}-\d\d-\d\dT[\d:]+\.\d{3}Z$/,
     'and when');
$ev = $c->expect('close', 6);
is($ev && "$ev->{code} $ev->{reason}", '1008 expired',
   'at its expiry: 1008 "expired"');
cmp_ok(time, '>=', $exp - 0.05, 'not before the expiry');
cmp_ok(time - $exp, '<', 1.5, 'nor long after');

$c = $t->ws_client("$base/exp/past?exp=" . (int(time) - 60));
ok($c->expect('open', 10), 'a session whose token expired a minute ago');
$t0 = time;
$ev = $c->expect('close', 5);
is($ev && "$ev->{code} $ev->{reason}", '1008 expired',
   'is closed right after the upgrade');
cmp_ok(time - $t0, '<', 1, 'at once');

$c = $t->ws_client("$base/both/x?exp=" . (int(time) + 2));
ok($c->expect('open', 10), 'max age 1 h and an expiry in 2 s');
$ev = $c->expect('close', 6);
is($ev && "$ev->{code} $ev->{reason}", '4001 expired',
   'the earlier one closes it, with its code');

# beyond the horizon: also values whose milliseconds overflow 64 bits,
# up to the largest ngx_atotm() takes, and one that wraps to an hour

my $wrap = int(time) + 18446744073709551 + 3600;    # 2^64 / 1000 s + 1 h
my @far = ('99999999999999', '9999999999999999', '9223372036854775807',
           $wrap);

my @alive;
for my $v ('', 'soon', '12x', @far) {
    my $k = $t->ws_client("$base/exp/keep?exp=$v");
    $k->expect('open', 10);
    push @alive, [$v, $k];
}
$doc = $t->status('/status');
for my $v (@far) {
    my ($s) = grep { $_->{uri} eq "/exp/keep?exp=$v" } @{$doc->{sessions}};
    ok($s && !defined $s->{expires} && !defined $s->{expires_by},
       "exp=\"$v\": the JSON shows no expiry");
}
sleep 1.5;
for (@alive) {
    my ($v, $k) = @$_;
    $k->send('send alive');
    ok($k->expect('message', 5, text => 'alive'),
       "exp=\"$v\": no expiry, the session lives on");
}
my $log = $t->error_log;
is(scalar(() = $log =~ /expiry "(|soon|12x)" is not a Unix time/g), 3,
   'one info line for each empty or malformed value');
is(scalar(() = $log =~ /expiry "(\d+)" is more than 24 days away/g),
   scalar @far, 'and for each one too far away');

$doc = $t->status('/status?sessions=0');
is($doc->{totals}{closed}{max_age}, 101, 'closes counted as max_age');
is($doc->{totals}{closed}{expired}, 3, 'and as expired');

$_->[1]->kill for @alive;
$app->kill;
$t->finish;

done_testing;
