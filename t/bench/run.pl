#!/usr/bin/perl

# The benchmark suite: throughput and latency against stock nginx and
# HAProxy, instruction counts, memory per session, idle CPU and zombie
# close latency.  Prints PASS/FAIL per target; it is not a test.
#
#   perl t/bench/run.pl quick          ratio lines only, under 60 s
#   perl t/bench/run.pl [all]          everything, with a results table
#   perl t/bench/run.pl echo|callgrind|memory|idle|zombie|delete

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use JSON::PP;
use POSIX qw(ceil);
use Time::HiRes qw(sleep time);
use WsHb;
use WsHbFrames qw(connect_ws);

my $what = shift // 'all';

BEGIN { $ENV{WSHB_QUIET} = 1 }
my $quick = $what eq 'quick';
my $top = $WsHb::TOP;
my $bench = "$top/build/wsbench";
my $out_dir = "$top/build/bench";
my @lines;

system('mkdir', '-p', $out_dir);
Test::More->builder->no_ending(1);

sub say_line {
    my ($fmt, @args) = @_;
    my $l = sprintf $fmt, @args;
    print "$l\n";
    push @lines, $l;
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return @v ? $v[int(@v / 2)] : 0;
}

sub run_client {
    my (@args) = @_;
    my $json = `$bench client @args`;
    return eval { decode_json($json) } // { error => $json };
}

sub target {
    my ($name, $value, $op, $limit) = @_;
    my $ok = $op eq '>=' ? $value >= $limit : $value <= $limit;
    say_line('%-52s %8.3f %s %-6s %s', $name, $value, $op, $limit,
             $ok ? 'PASS' : 'FAIL');
}

# --- contenders ----------------------------------------------------------------

my $proxy_conf = <<'EOF';
            proxy_pass http://127.0.0.1:%%PORT_echo%%;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 1h;
EOF

sub nginx_contender {
    my ($name, $directives, %o) = @_;
    my $t = WsHb->new(%o);
    $t->{ports}{echo} = $o{echo_port};
    $t->write_conf(<<"EOF", no_module => $o{no_module});
    server {
        listen 127.0.0.1:%%PORT_http%%;
        location / {
$proxy_conf
$directives
        }
    }
EOF
    $t->run('http');
    return { name => $name, port => $t->port('http'), t => $t,
             pids => [ $t->worker_pids ] };
}

sub contenders {
    my ($echo_port) = @_;
    my @c = (
        nginx_contender('stock', '', no_module => 1, echo_port => $echo_port),
        nginx_contender('module_off', 'ws_heartbeat off;',
                        echo_port => $echo_port),
        nginx_contender('module_on',
                        "ws_heartbeat on; ws_heartbeat_interval 1s;\n"
                        . 'ws_heartbeat_upstream on;',
                        echo_port => $echo_port),
    );

    if (-x '/usr/sbin/haproxy') {
        my $t = WsHb->new;
        my $port = $t->port('http');
        open my $fh, '>', $t->prefix . '/haproxy.cfg' or die;
        print $fh <<"EOF";
global
    nbthread 1
    maxconn 9000
defaults
    mode http
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
frontend fe
    bind 127.0.0.1:$port
    default_backend be
backend be
    server echo 127.0.0.1:$echo_port
EOF
        close $fh;
        my $p = $t->spawn('sh', '-c', 'exec /usr/sbin/haproxy -db -f '
                          . $t->prefix . '/haproxy.cfg 2>' . $t->prefix
                          . '/haproxy.log');
        $t->wait_port($port);
        push @c, { name => 'haproxy', port => $port, t => $t,
                   pids => [ $p->pid ] };
    }

    return @c;
}

# one round against a contender, with the proxy's own CPU time per message

sub contender_round {
    my ($c, $secs, $args) = @_;
    my $cpu = cpu_seconds($c->{t}, @{ $c->{pids} });
    my $res = run_client("-p $c->{port} -d $secs $args");

    $cpu = cpu_seconds($c->{t}, @{ $c->{pids} }) - $cpu;
    $res->{cpu_us} = 1e6 * $cpu / (($res->{msgs_per_s} // 0) * $secs || 1);

    return $res;
}

# --- echo and stream throughput, interleaved ------------------------------------------

sub echo_bench {
    my $probe = WsHb->new;
    my $echo_port = $probe->port('echo');
    my $sink_port = $probe->port('sink');
    my $echo = $probe->spawn($bench, 'server', $echo_port);
    $echo->expect('ready', 5) or die 'echo server did not start';
    my $sink = $probe->spawn($bench, 'server', $sink_port, 'sink');
    $sink->expect('ready', 5) or die 'sink server did not start';

    my @c = contenders($echo_port);
    my ($rounds, $secs) = $quick ? (2, 2) : (5, 5);

    my @scen = (
        [ 'echo 64 B x100',   "-c 100 -s 64 -m echo" ],
        [ 'echo 16 KB x100',  "-c 100 -s 16384 -m echo" ],
    );

    my %r;

    for my $round (1 .. $rounds) {
        for my $s (@scen) {
            for my $c (@c) {
                my $res = contender_round($c, $secs, $s->[1]);
                warn "$c->{name}: mismatches $res->{mismatches}\n"
                    if $res->{mismatches};
                push @{ $r{$s->[0]}{$c->{name}} }, $res;
            }
        }
    }

    # one-way 1 MB frames to a sink: a second set of contenders

    my @cs = $quick ? () : contenders($sink_port);

    for my $round (1 .. ($quick ? 0 : $rounds)) {
        for my $c (@cs) {
            my $res = contender_round($c, $secs,
                                      '-c 4 -s 1000000 -m stream');
            push @{ $r{'stream 1 MB x4'}{$c->{name}} }, $res;
        }
    }

    unless ($quick) {
        say_line('%-18s %-11s %12s %12s %10s %10s %10s', 'scenario',
                 'contender', 'msgs/s', 'MB/s', 'p50 us', 'p99 us',
                 'p99.9 us');

        for my $s (sort keys %r) {
            for my $name (map { $_->{name} } @c) {
                my $v = $r{$s}{$name} or next;
                my @m = map { $_->{msgs_per_s} } @$v;
                say_line('%-18s %-11s %12.0f %12.1f %10.0f %10.0f %10.0f'
                         . '   (msgs/s %0.f..%0.f; proxy CPU %.1f us/msg)',
                         $s, $name, median(@m),
                         median(map { $_->{mb_per_s} } @$v),
                         median(map { $_->{p50_us} } @$v),
                         median(map { $_->{p99_us} } @$v),
                         median(map { $_->{p999_us} } @$v),
                         (sort { $a <=> $b } @m)[0], (sort { $b <=> $a } @m)[0],
                         median(map { $_->{cpu_us} // 0 } @$v));
            }
        }
    }

    my $ratio = sub {
        my ($s, $name, $key) = @_;
        my $base = median(map { $_->{$key} } @{ $r{$s}{stock} });
        return $base ? median(map { $_->{$key} } @{ $r{$s}{$name} }) / $base
                     : 0;
    };

    for my $name (grep { $_ ne 'stock' } map { $_->{name} } @c) {
        say_line('ratio %-10s echo 64 B msgs/s    / stock: %.3f', $name,
                 $ratio->('echo 64 B x100', $name, 'msgs_per_s'));
        say_line('ratio %-10s echo 16 KB msgs/s   / stock: %.3f', $name,
                 $ratio->('echo 16 KB x100', $name, 'msgs_per_s'));
        say_line('ratio %-10s echo 64 B p99       / stock: %.3f', $name,
                 $ratio->('echo 64 B x100', $name, 'p99_us'));
    }

    # the proxy's own CPU time per message moves far less with the
    # scheduling of the shared cores than messages per second do

    for my $name (grep { $_ ne 'stock' } map { $_->{name} } @c) {
        say_line('ratio %-10s proxy CPU per msg   / stock: %.3f at 64 B, '
                 . '%.3f at 16 KB', $name,
                 $ratio->('echo 64 B x100', $name, 'cpu_us'),
                 $ratio->('echo 16 KB x100', $name, 'cpu_us'));
    }

    target('echo 64 B msgs/s, module on / stock', 
           $ratio->('echo 64 B x100', 'module_on', 'msgs_per_s'), '>=', 0.97);
    target('echo 16 KB msgs/s, module on / stock',
           $ratio->('echo 16 KB x100', 'module_on', 'msgs_per_s'), '>=', 0.99);
    target('echo 64 B p99 latency, module on / stock',
           $ratio->('echo 64 B x100', 'module_on', 'p99_us'), '<=', 1.05);

    unless ($quick) {
        for my $name (map { $_->{name} } @cs) {
            say_line('ratio %-10s stream 1 MB MB/s    / stock: %.3f', $name,
                     median(map { $_->{mb_per_s} }
                            @{ $r{'stream 1 MB x4'}{$name} })
                     / (median(map { $_->{mb_per_s} }
                               @{ $r{'stream 1 MB x4'}{stock} }) || 1));
        }
    }

    unless ($quick) {
        open my $fh, '>', "$out_dir/echo.json" or die;
        print $fh encode_json({ results => \%r,
                                names => [ map { $_->{name} } @c ] });
        close $fh;
        plot(\%r, [ map { $_->{name} } @c ]);
    }

    $_->{t}->finish for @c, @cs;
    $probe->finish;

    return \%r;
}

# throughput and p99 per contender, as a PNG (gnuplot)

sub plot {
    my ($r, $names) = @_;

    return unless -x '/usr/bin/gnuplot';

    open my $fh, '>', "$out_dir/echo.dat" or die;
    print $fh "# contender msgs64 msgs16k p99_64 p99_16k\n";

    for my $name (@$names) {
        my $a = $r->{'echo 64 B x100'}{$name};
        my $b = $r->{'echo 16 KB x100'}{$name};
        printf $fh "%s %.0f %.0f %.0f %.0f\n", $name,
            median(map { $_->{msgs_per_s} } @$a),
            median(map { $_->{msgs_per_s} } @$b),
            median(map { $_->{p99_us} } @$a),
            median(map { $_->{p99_us} } @$b);
    }

    close $fh;

    my $gp = join "\n",
        'set terminal png size 1000,420 noenhanced',
        "set output '$out_dir/echo.png'",
        'set multiplot layout 1,2 title "WebSocket echo, 100 connections, '
            . 'medians"',
        'set style data histogram',
        'set style histogram clustered gap 1',
        'set style fill solid 0.8 border -1',
        'set key below',
        'set grid ytics',
        'set ylabel "messages/s"',
        'set title "throughput"',
        "plot '$out_dir/echo.dat' using 2:xtic(1) title '64 B', "
            . "'' using 3 title '16 KB'",
        'set ylabel "microseconds"',
        'set title "p99 latency"',
        "plot '$out_dir/echo.dat' using 4:xtic(1) title '64 B', "
            . "'' using 5 title '16 KB'",
        'unset multiplot', '';

    open $fh, '|-', '/usr/bin/gnuplot' or return;
    print $fh $gp;
    close $fh;

    say_line('plot: %s/echo.png', $out_dir);
}

# --- instructions per forwarded frame -----------------------------------------------

sub callgrind_bench {
    my $probe = WsHb->new;
    my $echo_port = $probe->port('echo');
    my $echo = $probe->spawn($bench, 'server', $echo_port);
    $echo->expect('ready', 5) or die;

    my $n = $ENV{WSHB_CALLGRIND_N} // 20000;
    my %ir;

    for my $c ([ 'stock', '', 1 ],
               [ 'module_on', "ws_heartbeat on; ws_heartbeat_upstream on;", 0 ])
    {
        my $t = WsHb->new;
        $t->{ports}{echo} = $echo_port;
        $t->write_conf(<<"EOF", no_module => $c->[2], master => 0);
    server {
        listen 127.0.0.1:%%PORT_http%%;
        location / {
$proxy_conf
$c->[1]
        }
    }
EOF
        my $prefix = $t->prefix;
        my $vg = $t->spawn('sh', '-c', 'exec valgrind --tool=callgrind '
            . '--collect-atstart=no '
            . '--toggle-collect=ngx_process_events_and_timers '
            . ($ENV{WSHB_CALLGRIND_OPTS} // '') . ' '
            . "--callgrind-out-file=$prefix/callgrind.out "
            . "$WsHb::NGINX -p $prefix -c $prefix/nginx.conf "
            . "2>$prefix/valgrind.log");
        $t->wait_port($t->port('http'), 60);

        my $res = run_client('-p', $t->port('http'), '-c 1 -s 64 -m echo',
                             "-n $n -d 120");
        # valgrind sometimes misses the first signal: insist

        for (1 .. 30) {
            kill 'TERM', $vg->pid;
            last if waitpid($vg->pid, POSIX::WNOHANG()) == $vg->pid;
            sleep 1;
        }

        $vg->{pid} = 0;

        my ($total) = `cat $prefix/callgrind.out` =~ /^(?:summary|totals): (\d+)/m;
        $ir{$c->[0]} = ($total // 0) / (2 * $res->{messages} || 1);
        system("cp $prefix/callgrind.out $out_dir/callgrind.$c->[0].out");
        say_line('instructions per forwarded frame, %-10s %10.0f '
                 . '(%d round trips)', $c->[0], $ir{$c->[0]},
                 $res->{messages});
        $t->finish;
    }

    target('instructions per frame, module on / stock',
           $ir{module_on} / ($ir{stock} || 1), '<=', 1.05);
    $probe->finish;
}

# --- memory per session, idle CPU, zombie close latency ----------------------------

# resident memory of the workers; with $private, without the pages of
# shared memory they touched (the zone is counted once, as used records)

sub nginx_rss {
    my ($t, $private) = @_;
    my $kb = 0;

    for my $pid ($t->worker_pids) {
        my $st = $t->read_abs("/proc/$pid/status");
        my ($rss) = $st =~ /VmRSS:\s+(\d+)/;
        my ($shm) = $st =~ /RssShmem:\s+(\d+)/;
        $kb += ($rss // 0) - ($private ? $shm // 0 : 0);
    }

    return $kb * 1024;
}

# CPU time (user + system) of nginx's workers, or of the processes given

sub cpu_seconds {
    my ($t, @pids) = @_;
    my $ticks = 0;

    for my $pid (@pids ? @pids : $t->worker_pids) {
        my @f = split ' ', $t->read_abs("/proc/$pid/stat");
        $ticks += $f[13] + $f[14];
    }

    return $ticks / 100;
}

sub memory_bench {
    my $n = $quick ? 1000 : 4000;
    my $rounds = $quick ? 1 : 3;
    my %per;

    # rounds interleaved (off, on, off, on ...), medians reported; the
    # target is for the module with its session table (the zone), the
    # heartbeats alone are shown for comparison

    for my $round (1 .. $rounds) {
        for my $c ([ 'module_off', 'ws_heartbeat off;', 1 ],
                   [ 'module_on',
                     'ws_heartbeat on; ws_heartbeat_upstream on;', 1 ],
                   [ 'no_zone',
                     'ws_heartbeat on; ws_heartbeat_upstream on;', 0 ])
        {
            my $t = WsHb->new;
            my $echo = $t->spawn($bench, 'server', $t->port('echo'));
            $echo->expect('ready', 5) or die;

            my $zone = $c->[2] ? 'ws_heartbeat_zone ws:10m;' : '';
            my $status = $c->[2]
                ? 'location = /status { ws_heartbeat_status; }' : '';

            $t->write_conf(<<"EOF", connections => 19000,
    $zone
    server {
        listen 127.0.0.1:%%PORT_http%%;
        location / {
$proxy_conf
$c->[1]
        }
        $status
    }
EOF
                           main => "worker_rlimit_nofile 20000;\n");
            $t->run('http');

            # warm up: one session, so that lazily allocated memory is there

            my ($warm) = connect_ws($t->port('http'), path => '/w');
            sleep 0.5;
            my $rss0 = nginx_rss($t, 1);

            my $gen = $t->spawn('sh', '-c', "exec $bench client -p "
                                . $t->port('http') . " -c $n -m idle -d 60");

            # every session established through to the upstream, then a
            # second for nginx to settle

            my $port = $t->port('echo');
            for (1 .. 100) {
                my $up = `ss -Htn state established '( dport = :$port )'`
                         =~ tr/\n//;
                last if $up >= $n + 1;
                select undef, undef, undef, 0.2;
            }
            sleep 1;

            my $rss1 = nginx_rss($t, 1);
            my $shm = 0;

            if ($c->[0] eq 'module_on') {
                my $st = decode_json($t->get($t->port('http'),
                                             '/status?sessions=0')->{body});
                $shm = $st->{zone}{used_records} * $st->{zone}{record_size}
                       + $st->{zone}{names_bytes};
            }

            my $per = ($rss1 - $rss0 + $shm) / $n;
            push @{ $per{$c->[0]} }, $per;
            say_line('memory per session, %-10s %8.0f B (RSS %+.1f MB, '
                     . 'shm %d B, %d sessions, round %d)', $c->[0], $per,
                     ($rss1 - $rss0) / 1e6, $shm, $n, $round);

            $gen->kill;
            close $warm;
            $t->finish;
        }
    }

    $per{$_} = median(@{ $per{$_} }) for keys %per;

    say_line('memory per session added by the heartbeats alone (no '
             . 'ws_heartbeat_zone): %.0f B', $per{no_zone} - $per{module_off});
    target('memory per session added by the module, bytes',
           $per{module_on} - $per{module_off}, '<=', 512);
}

sub idle_bench {
    my $n = $quick ? 4000 : 20000;
    my $t = WsHb->new;

    my @echo = map {
        my $p = $t->spawn($bench, 'server', $t->port("echo$_"));
        $p->expect('ready', 5) or die;
        $p;
    } 1 .. 2;

    $t->write_conf(<<"EOF", workers => 4, connections => 16000,
    upstream echo {
        server 127.0.0.1:%%PORT_echo1%%;
        server 127.0.0.1:%%PORT_echo2%%;
    }
    ws_heartbeat_zone ws:16m;
    server {
        listen 127.0.0.1:%%PORT_http%% reuseport backlog=4096;
        location / {
            proxy_pass http://echo;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 2s;
        }
        location = /status { ws_heartbeat_status; }
    }
EOF
                   main => "worker_rlimit_nofile 20000;\n");
    $t->run('http');

    my $per = ceil($n / 4);
    my @gens = map {
        $t->spawn('sh', '-c', "exec $bench client -p " . $t->port('http')
                  . " -c $per -m idle -d 120 -b 127.0.0.$_")
    } 2 .. 5;

    # all sessions up, or as many as came up if a few connects failed:
    # the measurement must end well before the generators do

    my $end = time + 60;
    my ($open, $prev) = (0, -1);
    while (time < $end) {
        sleep 1;
        my $st = eval { decode_json($t->get($t->port('http'),
                                            '/status?sessions=0')->{body}) };
        ($prev, $open) = ($open, $st ? $st->{zone}{used_records} : 0);
        last if $open >= $per * 4 || ($open == $prev && $open > $n * 0.99);
    }

    # the generators answer the same pings with one read and one write
    # each and nothing else: the floor of a ping on this machine

    my @gpids = map { $_->pid } @gens;
    my $st0 = decode_json($t->get($t->port('http'), '/status?sessions=0')
                          ->{body});
    my ($c0, $g0, $t0) = (cpu_seconds($t), cpu_seconds($t, @gpids), time);
    my @perf = (syscalls_start($t->worker_pids), syscalls_start(@gpids));
    sleep 10;
    my ($c1, $g1, $t1) = (cpu_seconds($t), cpu_seconds($t, @gpids), time);
    my ($sys_nginx, $sys_clients) = map { syscalls_stop($_) } @perf;
    my $st = decode_json($t->get($t->port('http'), '/status?sessions=0')
                         ->{body});

    my $cpu = 100 * ($c1 - $c0) / ($t1 - $t0);
    my $gcpu = 100 * ($g1 - $g0) / ($t1 - $t0);
    my $rate = ($st->{totals}{pongs}{client} - $st0->{totals}{pongs}{client})
               / ($t1 - $t0);
    say_line('idle sessions pinged every second: %d open, %.0f pongs/s, '
             . 'nginx CPU %.1f %% of one core, RSS %.0f MB, shm %.1f MB '
             . 'in records and names; the clients answering them %.1f %%',
             $open, $rate, $cpu, nginx_rss($t) / 1e6,
             ($st->{zone}{used_records} * $st->{zone}{record_size}
              + $st->{zone}{names_bytes}) / 1e6,
             $gcpu);
    if (defined $sys_nginx && defined $sys_clients) {
        my $pings = $rate * ($t1 - $t0);
        say_line('system calls per ping: nginx %.2f, the clients answering '
                 . 'them %.2f (perf stat, raw_syscalls:sys_enter)',
                 $sys_nginx / $pings, $sys_clients / $pings);
    }

    # the clients' share is the same work on any day: how fast this
    # machine makes system calls moves both, their ratio stays

    say_line('ratio nginx CPU / the clients answering the pings: %.2f',
             $cpu / ($gcpu || 1));
    target("nginx CPU with $open idle sessions at 1 s pings, % of a core",
           $cpu, '<=', 25);

    $_->kill for @gens;
    $t->finish;
}

# system calls made by groups of processes over a window, counted by
# perf(1) where it can read tracepoints: the CPU of a syscall varies from
# run to run on a virtual machine, their number does not

sub syscalls_start {
    my (@pids) = @_;
    my $perf = WsHb->which('perf') or return undef;
    my $file = "$out_dir/perf-$pids[0].txt";
    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDERR, '>', '/dev/null';
        exec $perf, 'stat', '-x,', '-o', $file, '-e',
             'raw_syscalls:sys_enter', '-p', join(',', @pids);
        exit 1;
    }

    return { pid => $pid, file => $file };
}

# the count, or undef where perf could not read the tracepoint

sub syscalls_stop {
    my ($h) = @_;
    return undef unless $h;

    kill 'INT', $h->{pid};
    waitpid $h->{pid}, 0;

    my ($n) = WsHb->read_abs($h->{file}) =~ /^(\d+),/m;
    unlink $h->{file};

    return $n;
}

# 1000 zombies (clients that stop reading and answering at once), with
# nothing sent to them, then with the upstream pushing 64 B every 250 ms to
# every session; alongside them healthy (idle) and slow-reading sessions,
# each set in a client process of its own, which must all still be open
# at the end

sub zombie_bench {
    my $n = $quick ? 200 : 1000;
    my $m = $quick ? 50 : 200;

    for my $run ([ 'nothing sent', [] ],
                 [ '64 B / 250 ms', [ 'push', 64, 250 ] ])
    {
        my ($name, $push) = @$run;
        my $t = WsHb->new;
        my $echo = $t->spawn($bench, 'server', $t->port('echo'), @$push);
        $echo->expect('ready', 5) or die;

        $t->write_conf(<<"EOF", connections => 8192,
    server {
        listen 127.0.0.1:%%PORT_http%%;
        location / {
$proxy_conf
            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 1s;
        }
    }
EOF
                       main => "worker_rlimit_nofile 20000;\n");
        $t->run('http');

        # the healthy and slow sessions answer a few pings before the
        # zombies come, and outlive them

        my $port = $t->port('http');
        my %keep = map {
            $_->[0] => $t->spawn('sh', '-c', "exec $bench client -p $port "
                                 . "-c $m -d 10 $_->[1]")
        } [ healthy => '-m idle' ], [ slow => '-m slow -i 600 -r 10' ];

        sleep 2;
        my $res = run_client('-p', $port, "-c $n -m zombie -z 1 -d 6");
        my ($p50, $p99, $max) = map { ($res->{$_} // 99) - 2 }
            qw(close_p50_s close_p99_s close_max_s);
        my %kept = map { $_ => $keep{$_}->event(15) // {} } keys %keep;
        my %lost = map { $_ => $m - ($kept{$_}{still_open} // 0) } keys %kept;

        # a zombie still open at the end counts as closed then: the
        # figures are then lower bounds

        say_line('zombie close latency - (interval + timeout), %d zombies, '
                 . '%s: p50 %+.3f s, p99 %+.3f s, max %+.3f s (%d closed, '
                 . '%d still open 5 s after they stopped%s)', $n, $name,
                 $p50, $p99, $max, $res->{zombies_closed} // 0,
                 $res->{zombies_open} // $n,
                 ($res->{zombies_open} // $n) ? ', counted as closed then'
                                              : '');
        say_line('alongside them, %s: healthy sessions closed %d of %d '
                 . '(%d frames received), slow-reading (10 ms every '
                 . '600 ms) closed %d of %d (%d frames received)', $name,
                 $lost{healthy}, $m, $kept{healthy}{frames_in} // 0,
                 $lost{slow}, $m, $kept{slow}{frames_in} // 0);
        target("zombie p99 - (interval + timeout), $name, s", $p99, '<=',
               0.2);
        target("healthy and slow sessions closed, $name",
               $lost{healthy} + $lost{slow}, '<=', 0);
        $t->finish;
    }
}

# A DELETE by id for each of $n sessions spread over two workers: the time
# from sending the DELETE to the close frame's arrival at the client (an
# upper bound of the time from its answer: the frame mostly arrives first),
# for the sessions of the worker that did not serve the DELETE (it wakes
# the owner through its pipe).  The serving worker is the pid of each audit
# line in the error log.

sub delete_bench {
    my $n = $quick ? 100 : 400;
    my $t = WsHb->new;
    my $echo = $t->spawn($bench, 'server', $t->port('echo'));
    $echo->expect('ready', 5) or die;

    $t->write_conf(<<"EOF", workers => 2);
    ws_heartbeat_zone ws:10m;

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;

        location / {
$proxy_conf
            ws_heartbeat on;
        }

        location = /status {
            ws_heartbeat_status;
            ws_heartbeat_status_token bench admin;
        }
    }
EOF
    $t->run('http');

    my $port = $t->port('http');
    my @s = map { (connect_ws($port, path => "/s$_"))[0] } 0 .. $n - 1;
    my $doc = decode_json($t->get($port, "/status?sessions=$n",
                                  'Authorization: Bearer bench')->{body});
    my %by_uri = map { $_->{uri} => $_ } @{$doc->{sessions}};
    my @delay;

    for my $i (0 .. $n - 1) {
        my $rec = $by_uri{"/s$i"} or next;
        my $sent = time;
        $t->http($port, "DELETE /status?id=$rec->{id} HTTP/1.0\r\n"
                 . "Host: x\r\nAuthorization: Bearer bench\r\n\r\n");
        IO::Select->new($s[$i])->can_read(5) or next;
        push @delay, [ $rec->{pid}, time - $sent ];
    }

    my @pid = $t->error_log =~ /\[notice\] (\d+)#\d+: .*closes 1 sessions/g;

    my @cross = sort { $a <=> $b }
                map { $delay[$_][1] }
                grep { defined $pid[$_] && $pid[$_] != $delay[$_][0] }
                0 .. $#delay;
    my $p = sub { @cross ? $cross[int($_[0] * $#cross)] : 99 };

    say_line('DELETE to close frame, sessions of the other worker (%d of '
             . '%d): p50 %.1f ms, p99 %.1f ms, max %.1f ms',
             scalar @cross, scalar @delay, 1000 * $p->(0.5),
             1000 * $p->(0.99), 1000 * $p->(1));
    target('DELETE to close frame in another worker p99, ms',
           1000 * $p->(0.99), '<=', 100);

    close $_ for @s;
    $t->finish;
}

# -------------------------------------------------------------------------------

system('make', '-s', '-f', "$top/Makefile.dev", '-C', $top, 'wsbench') == 0
    or die 'cannot build wsbench';

if ($quick) {
    echo_bench();
    exit 0;
}

if ($what eq 'plot') {
    my $d = decode_json(`cat $out_dir/echo.json`);
    plot($d->{results}, $d->{names});
    exit 0;
}

echo_bench() if $what =~ /^(all|echo)$/;
callgrind_bench() if $what =~ /^(all|callgrind)$/;
memory_bench() if $what =~ /^(all|memory)$/;
idle_bench() if $what =~ /^(all|idle)$/;
zombie_bench() if $what =~ /^(all|zombie)$/;
delete_bench() if $what =~ /^(all|delete)$/;

open my $fh, '>', "$out_dir/results.txt" or die;
print $fh "$_\n" for @lines;
close $fh;
print "results in $out_dir/results.txt\n";
