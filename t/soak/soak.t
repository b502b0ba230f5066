#!/usr/bin/perl

# Soak with faults: about 5 000 sessions through 2 workers for SOAK_SECONDS
# (600 by default; make -f Makefile.dev soak SOAK_SECONDS=60 for one
# cycle).  Every 60 s cycle: 4 200 idle sessions answering pings, 200
# echoing checksummed payloads lock-step, 600 that turn zombie; then one
# worker is SIGKILLed, nginx reloads, a new wave connects and one upstream
# restarts.  Checked every cycle: every zombie closed within interval +
# timeout + 1 s; no session closed by a heartbeat except the zombies; zero
# bytes corrupted; status counts equal the sessions open (ss) at each
# quiet point; shm back to zero and nginx RSS flat.  Prints a table.

use strict;
use warnings;

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;

my $seconds = $ENV{SOAK_SECONDS} // 600;
my $cycles = $seconds >= 60 ? int($seconds / 60) : 1;
my $bench = $ENV{WSHB_WSBENCH} // 'build/wsbench';
die "build $bench first (make -f Makefile.dev wsbench)\n" unless -x $bench;

my ($interval, $timeout) = (2, 2);

my $t = WsHb->new;
$t->{no_log_check} = 1;       # SIGKILL makes the master log an alert

my %up = map { $_ => $t->spawn($bench, 'server', $t->port("echo$_")) } 1, 2;
$_->expect('ready', 5) or die 'echo upstream' for values %up;

$t->write_conf(<<"EOF", workers => 2, connections => 16000,
    upstream echo {
        server 127.0.0.1:%%PORT_echo1%% max_fails=0;
        server 127.0.0.1:%%PORT_echo2%% max_fails=0;
    }
    ws_heartbeat_zone ws:16m;
    ws_heartbeat_drain 3s;
    server {
        listen 127.0.0.1:%%PORT_http%% reuseport backlog=4096;
        location / {
            proxy_pass http://echo;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            ws_heartbeat on;
            ws_heartbeat_upstream on;
            ws_heartbeat_interval ${interval}s;
            ws_heartbeat_timeout ${timeout}s;
        }
        location = /status { ws_heartbeat_status; }
    }
EOF
               main => "worker_rlimit_nofile 20000;\n");
$t->run('http');

my $port = $t->port('http');

sub status {
    return eval { decode_json($t->get($port, '/status?sessions=0')->{body}) }
        // {};
}

sub tracked {
    my ($st) = @_;
    my $n = 0;
    $n += $_ for values %{ $st->{sessions_by_state} // {} };
    return $n;
}

# client-side sockets connected to nginx: the sessions actually open

sub open_sockets {
    # (filtered by state, ss prints no state column)
    my @l = grep { /\S/ } `ss -Htn state established '( dport = :$port )'`;
    return scalar @l;
}

sub rss {
    my $kb = 0;
    for my $pid ($t->worker_pids) {
        my ($r) = ($t->read_abs("/proc/$pid/status") // '')
            =~ /VmRSS:\s+(\d+)/;
        $kb += $r // 0;
    }
    return $kb / 1024;
}

sub client {
    my ($conns, $mode, $secs, $src, @more) = @_;
    return $t->spawn('sh', '-c', "exec $bench client -p $port -c $conns "
                     . "-m $mode -d $secs -b $src @more");
}

sub result {
    my ($p, $wait) = @_;
    my $end = time + $wait;
    while (time < $end) {
        my $e = $p->event($end - time) or last;
        return $e if exists $e->{mode};
    }
    return {};
}

# quiet point: counts settle, then status must equal what is open

sub settle {
    my ($what) = @_;
    my ($st, $open);
    my $end = time + 10;
    do {
        sleep 0.5;
        $st = status();
        $open = open_sockets();
    } until (tracked($st) == $open || time > $end);
    is(tracked($st), $open, "cycle: status counts equal open sessions "
                            . "($open) $what");
    return $open;
}

my @rows;
my $closed0 = status()->{totals}{closed};

for my $cycle (1 .. $cycles) {
    my $t0 = time;
    my %row = (cycle => $cycle);

    my @idle = map { client(1400, 'idle', 40, "127.0.0.$_") } 2 .. 4;
    my $echo = client(200, 'echo', 40, '127.0.0.1', '-s 256');
    my $zomb = client(600, 'zombie', 20, '127.0.0.5', '-z 8');

    my $end = time + 20;
    my $peak = 0;
    while (time < $end) {
        sleep 0.5;
        $peak = tracked(status());
        last if $peak >= 5000;
    }
    $row{peak} = $peak;
    cmp_ok($peak, '>=', 4900, "cycle $cycle: about 5 000 sessions open");

    # the zombies stopped at 8 s; their generator reports at 20 s

    my $z = result($zomb, 30);
    $row{zombies} = $z->{zombies_closed} // 0;
    $row{zombie_max} = $z->{close_max_s} // 99;
    is($row{zombies}, 600, "cycle $cycle: every zombie closed");
    cmp_ok($row{zombie_max}, '<=', $interval + $timeout + 1,
           "cycle $cycle: within interval + timeout + 1 s");

    $row{open1} = settle('after the zombies');
    $row{rss} = rss();
    $row{shm} = status()->{zone}{used_records};

    # SIGKILL one worker: its sessions die with it, its records are reaped

    my @w = $t->worker_pids;
    kill 'KILL', $w[0];
    sleep 1;
    $row{open2} = settle('after SIGKILL of a worker');

    # reload: the old workers drain what is left over 3 s

    $t->reload;
    sleep 5;
    $row{open3} = settle('after a reload');

    # a new wave, then one upstream restarts under it

    my $wave = client(1000, 'idle', 12, '127.0.0.6');
    sleep 3;
    $up{1}->kill;
    $up{1} = $t->spawn($bench, 'server', $t->port('echo1'));
    $up{1}->expect('ready', 5);
    sleep 1;
    $row{open4} = settle('after an upstream restart');

    my $e = result($echo, 40);
    $row{echoes} = $e->{messages} // 0;
    $row{mismatches} = $e->{mismatches} // -1;
    is($row{mismatches}, 0, "cycle $cycle: zero bytes corrupted in "
                            . "$row{echoes} checksummed echoes");

    result($_, 30) for @idle, $wave;
    settle('at the end');
    my $st = status();
    is($st->{zone}{used_records}, 0, "cycle $cycle: no record left in shm");
    is($st->{zone}{names_bytes}, 0,
       "cycle $cycle: no host or URI left in shm");

    # only the zombies were closed by heartbeats

    my $c = $st->{totals}{closed};
    is($c->{client_timeout} - $closed0->{client_timeout}, 600 * $cycle,
       "cycle $cycle: client_timeout closes are exactly the zombies");
    is($c->{upstream_timeout}, 0, "cycle $cycle: no upstream_timeout");
    is($c->{idle_timeout}, 0, "cycle $cycle: no idle_timeout");

    $row{seconds} = time - $t0;
    push @rows, \%row;
    sleep 60 - (time - $t0) if $cycles > 1 && time - $t0 < 60;
}

if (@rows > 1) {
    cmp_ok($rows[-1]{rss}, '<=', $rows[0]{rss} * 1.2 + 8,
           'nginx RSS flat across the run (within 20 %)');
}

my @cols = qw(cycle peak zombies zombie_max open1 open2 open3 open4 echoes
              mismatches rss shm seconds);
diag(join ' ', map { sprintf '%10s', $_ } @cols);
for my $r (@rows) {
    diag(join ' ', map { sprintf(/\./ ? '%10.2f' : '%10s', $_) }
                   map { $r->{$_} // '' } @cols);
}

$t->finish;

my @bad = grep { /\[(alert|crit|emerg)\]|Sanitizer/
                 && !/exited on signal 9/ }
    split /\n/, $t->error_log . $t->read_file('logs/stderr.log');
ok(!@bad, 'no alert other than the SIGKILLed worker') or diag "@bad[0..9]";

done_testing;
