#!/usr/bin/perl

# Measures how long the status endpoint takes to render with 10 000
# tracked sessions: counts only (?sessions=0) and the full list.
#
#   perl t/bench/status-10k.pl [sessions]

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use Time::HiRes qw(time);
use WsHb;
use WsHbFrames qw(connect_ws);

my $n = shift // 10000;

my $t = WsHb->new;

my %big = (workers => 2, connections => 19000,
           main => "worker_rlimit_nofile 20000;\n");

$t->write_conf(<<'EOF', %big);
    ws_heartbeat_zone ws:10m;

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            ws_heartbeat on;
        }

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF

$t->ws_server($t->port('app'), '--mode', 'none');
$t->run('http');

my $port = $t->port('http');
my @s;
my $t0 = time;

push @s, (connect_ws($port, path => "/ws/$_"))[0] for 1 .. $n;

printf "opened %d sessions in %.1f s\n", scalar @s, time - $t0;

for my $q ('?sessions=0', '?sessions=100', "?sessions=$n") {
    my @d;
    my $len;

    for (1 .. 30) {
        my $start = time;
        my $r = $t->get($port, "/status$q");
        push @d, time - $start;
        $len = length $r->{body};
    }

    @d = sort { $a <=> $b } @d;
    printf "GET /status%-16s %8d bytes  median %7.2f ms  max %7.2f ms\n",
        $q, $len, 1000 * $d[@d / 2], 1000 * $d[-1];
}

close $_ for @s;
$t->finish;
Test::More::done_testing();
