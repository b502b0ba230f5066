#!/usr/bin/perl

# Prometheus text exposition: passes promtool, is chosen by the Accept
# header Prometheus sends, and a real Prometheus server scraping the
# endpoint reports the sessions that are open.

use strict;
use warnings;

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;

my $promtool = WsHb->which('promtool');
my $prometheus = WsHb->which('prometheus');

plan skip_all => 'promtool and prometheus not installed (apt-get install '
    . 'prometheus)' unless $promtool && $prometheus;

my $t = WsHb->new;

$t->write_conf(<<'EOF', workers => 2);
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 1s;
            ws_heartbeat_upstream on;
        }

        location = /metrics {
            ws_heartbeat_status;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');
my @c = map { $t->ws_client("ws://127.0.0.1:$port/ws/$_") } 1 .. 4;
ok($_->expect('open', 10), 'client open') for @c;
$c[0]->send('close');
ok($c[0]->expect('close', 5), 'one closed');
$c[1]->drain(2.5);

my $r = $t->get($port, '/metrics?format=prometheus');
is($r->{status}, 200, 'prometheus format');
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4},
     'content type of the text exposition format');

my $text = $r->{body};
my $file = $t->prefix . '/metrics.txt';
open my $fh, '>', $file or die;
print $fh $text;
close $fh;

my $out = `$promtool check metrics < $file 2>&1`;
is($?, 0, 'promtool check metrics passes') or diag $out;
is($out, '', 'with no lint warnings') or diag $out;

my %m;
for (split /\n/, $text) {
    next if /^#/;
    $m{$1} = $2 if /^(\S+) (\S+)$/;
}

my $open = 0;
$open += $m{qq(nginx_ws_sessions{state="$_"})} // 0
    for qw(healthy awaiting_pong closing passthrough);
is($open, 3, 'sessions gauge: 3 open');
is($m{'nginx_ws_sessions_opened_total'}, 4, 'opened 4');
is($m{'nginx_ws_sessions_closed_total{reason="client_close"}'}, 1,
   'closed by client 1');
cmp_ok($m{'nginx_ws_pings_total{peer="upstream"}'}, '>=', 3,
       'upstream pings counted');
is($m{'nginx_ws_upstream_sessions{upstream="127.0.0.1:'
      . $t->port('app') . '"}'}, 3, 'per-upstream gauge');
ok(defined $m{'nginx_ws_rtt_seconds_bucket{peer="client",le="+Inf"}'},
   'rtt histogram');

# the session closed right after it opened: under a second

my $d = 'nginx_ws_session_duration_seconds';
is($m{qq(${d}_count{reason="client_close"})}, 1,
   'session duration: one session closed by its client');
is($m{qq(${d}_bucket{reason="client_close",le="1"})}, 1,
   'which lasted a second at most');
cmp_ok($m{qq(${d}_sum{reason="client_close"})}, '<', 1, 'the sum says so');
is($m{qq(${d}_bucket{reason="client_timeout",le="+Inf"})}, 0,
   'no zombie closed');
my $json = decode_json($t->get($port, '/metrics?sessions=0')->{body});
is($json->{totals}{session_duration}{client_close}{buckets_s}{1}, 1,
   'and the JSON has it too');
like($text, qr/^nginx_ws_build_info\{version="[\d.]+",nginx_version="1\.\d+\.\d+"\} 1$/m,
     'build info');

# Prometheus's own Accept header selects the format without ?format=

$r = $t->get($port, '/metrics', 'Accept: application/openmetrics-text;'
    . 'version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1');
like($r->{body}, qr/^# HELP nginx_ws_/m, 'Accept header selects it');
$r = $t->get($port, '/metrics', 'Accept: text/plain; version=0.0.4');
like($r->{body}, qr/^# HELP nginx_ws_/m, 'text/plain version=0.0.4 too');
$r = $t->get($port, '/metrics', 'Accept: */*');
ok(eval { decode_json($r->{body}) }, 'anything else gets JSON');

# --- a real Prometheus scrapes it -------------------------------------------------

$t->prometheus(targets => [$port], path => '/metrics', rules => <<'EOF');
groups:
  - name: nginx_ws
    rules:
      - record: nginx_ws:sessions:sum
        expr: sum(nginx_ws_sessions)
EOF

my ($value, $end) = (undef, time + 30);

while (time < $end) {
    sleep 0.5;
    my $res = $t->prom_query('nginx_ws:sessions:sum');
    next unless @$res;
    $value = $res->[0]{value}[1];
    last if $value == 3;
}

is($value, 3, 'Prometheus API: the recording rule sums 3 open sessions');

$t->finish;
done_testing;
