#!/usr/bin/perl

# Scaling out (docs/scaling.md): two nginx instances, each with the module
# and its own zone, scraped by one real Prometheus with the recording rules
# from the docs; the Prometheus HTTP API must report the total of the
# sessions open on both nodes.

use strict;
use warnings;

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;
use WsHbFrames qw(connect_ws);

sub which {
    my ($cmd) = @_;
    -x "$_/$cmd" and return "$_/$cmd" for split /:/, $ENV{PATH};
    return undef;
}

my $prometheus = which('prometheus');
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
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
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

my $total = 0;

for my $t (@nodes) {
    my $doc = decode_json($t->get($t->port('http'), '/metrics?sessions=0')
                          ->{body});
    $total += $_ for values %{ $doc->{sessions_by_state} };
}

is($total, 5, 'the two nodes hold 5 sessions between them');

my $t = $nodes[0];
my $pport = $t->port('prom');
my $pdir = $t->prefix . '/prom';
mkdir $pdir;

my $targets = join ', ', map { "'127.0.0.1:" . $_->port('http') . "'" }
                         @nodes;

open my $fh, '>', "$pdir/prometheus.yml" or die;
print $fh <<"EOF";
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - rules.yml
scrape_configs:
  - job_name: nginx_ws
    metrics_path: /metrics
    params:
      format: [prometheus]
    static_configs:
      - targets: [$targets]
EOF
close $fh;

# the rules from docs/scaling.md

open $fh, '>', "$pdir/rules.yml" or die;
print $fh <<'EOF';
groups:
  - name: nginx_ws_cluster
    rules:
      - record: cluster:nginx_ws_sessions:sum
        expr: sum without (instance) (nginx_ws_sessions)
      - record: cluster:nginx_ws_sessions_all:sum
        expr: sum(nginx_ws_sessions)
EOF
close $fh;

$t->spawn('sh', '-c', "exec $prometheus --config.file=$pdir/prometheus.yml"
          . " --storage.tsdb.path=$pdir/data"
          . " --web.listen-address=127.0.0.1:$pport"
          . " 2>$pdir/prometheus.log");

sub query {
    my ($q) = @_;
    $q =~ s/([^A-Za-z0-9_])/sprintf '%%%02X', ord $1/ge;
    my $doc = eval { decode_json($t->get($pport, "/api/v1/query?query=$q")
                                 ->{body}) } // {};
    return $doc->{data}{result} // [];
}

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

close $_ for @open;
$_->finish for @nodes;
done_testing;
