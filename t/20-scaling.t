#!/usr/bin/perl

# Scaling out (docs/scaling.md): two nginx instances, each with the module
# and its own zone, scraped by one real Prometheus with the rules shipped
# in pkg/prometheus/; the Prometheus HTTP API must report the total of the
# sessions open on both nodes, and no alert firing.

use strict;
use warnings;

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;
use WsHbFrames qw(connect_ws);

my $prometheus = WsHb->which('prometheus');
plan skip_all => 'prometheus not installed (apt-get install prometheus)'
    unless $prometheus;

my (@nodes, @open);

for my $n (1, 2) {
    my $t = WsHb->new;
    $t->write_conf(<<'EOF', workers => 2);
    ws_heartbeat_zone ws:1m;
    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;
        location / {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
        }
        location = /metrics {
            ws_heartbeat_status;
        }
    }
EOF
    $t->ws_server($t->port('app'));
    $t->run('http');
    push @nodes, $t;
}

# 2 sessions on the first node, 3 on the second

for my $i (0, 1) {
    push @open, (connect_ws($nodes[$i]->port('http'), path => "/n$i/$_"))[0]
        for 1 .. 2 + $i;
}

# and one on each that its client closed: the duration histogram has them

for my $t (@nodes) {
    my ($s) = connect_ws($t->port('http'), path => '/brief');
    close $s;

    my ($ended, $end) = (0, time + 10);
    while (!$ended && time < $end) {
        my $doc = decode_json($t->get($t->port('http'), '/metrics?sessions=0')
                              ->{body});
        $ended += $_ for values %{ $doc->{totals}{closed} };
        sleep 0.05 unless $ended;
    }
}

my $total = 0;

for my $t (@nodes) {
    my $doc = decode_json($t->get($t->port('http'), '/metrics?sessions=0')
                          ->{body});
    $total += $_ for values %{ $doc->{sessions_by_state} };
}

is($total, 5, 'the two nodes hold 5 sessions between them');

# one Prometheus scrapes both, with the rules of pkg/prometheus/

my $t = $nodes[0];

open my $rfh, '<', "$WsHb::TOP/pkg/prometheus/nginx_ws.rules.yml" or die $!;
my $rules = do { local $/; <$rfh> };
close $rfh;

$t->prometheus(targets => [map { $_->port('http') } @nodes],
               path => '/metrics', rules => $rules);

sub query { $t->prom_query(@_) }

my ($value, $end) = (undef, time + 40);

while (time < $end) {
    sleep 0.5;
    my $res = query('cluster:nginx_ws_sessions_all:sum');
    next unless @$res;
    $value = $res->[0]{value}[1];
    last if $value == $total;
}

is($value, $total, 'Prometheus sums the sessions open on both nodes');

my $by_state = query('cluster:nginx_ws_sessions:sum');
my $sum = 0;
$sum += $_->{value}[1] for @$by_state;
is($sum, $total, 'and per state, without the instance label');

is(scalar(grep { $_->{value}[1] == 1 } @{ query('up{job="nginx_ws"}') }), 2,
   'both nodes are scraped');

my $api = eval {
    decode_json($t->get($t->port('prometheus'), '/api/v1/rules')->{body})
} // {};
my @loaded = map { $_->{name} }
             grep { $_->{type} eq 'alerting' }
             map { @{ $_->{rules} } } @{ $api->{data}{groups} // [] };
cmp_ok(scalar @loaded, '>=', 7, 'Prometheus loaded the shipped alerts');
is_deeply(query('ALERTS{alertstate="firing"}'), [],
          'and none fires for two healthy nodes');

my $ended = query('sum(nginx_ws_session_duration_seconds_count)');
is(@$ended && $ended->[0]{value}[1], 2,
   'the session duration histogram: the two sessions that ended');
my $brief = query('sum(nginx_ws_session_duration_seconds_bucket{le="1"})');
is(@$brief && $brief->[0]{value}[1], 2, 'both within a second');

close $_ for @open;
$_->finish for @nodes;
done_testing;
