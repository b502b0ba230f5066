#!/usr/bin/perl

# Scale: idle WebSocket sessions held through nginx with the module
# (ws_heartbeat on, upstream pings, 30 s interval) and, in the same run,
# through stock nginx (no module loaded), in steps up to SCALE_SESSIONS
# (default 100 000).  Prints, per step and contender: memory per session,
# the workers' CPU while idle (with the module at the last step, over
# SCALE_CPU_WINDOWS intervals, default 3: each, and the median one), the
# time to open the step's sessions; for
# the module, the status endpoint's timings, the p99 of paced probe
# echoes while nothing else happens, while the full JSON is fetched in a
# loop and while subscribers take snapshots, and the share of 30 % frozen
# clients closed in time.  PASS/FAIL per target; a plot in docs/img/.
#
# The probe's sessions are pinned, half to the worker that serves the
# JSON and the snapshots and half to one that serves neither: the
# difference of their p99s in the same window is the time the serving
# worker's event loop was held, whatever else keeps the machine busy.
#
#   SCALE_SESSIONS=100000 perl t/bench/scale.pl
#
# This machine allows 20 000 open files per process: nginx runs a worker
# per 8 000 sessions, and the generator and the upstream run as a process
# per 10 000, the generator bound to 127.0.0.2-11.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(ceil);
use Time::HiRes qw(sleep time);
use WsHb;
use WsHbFrames qw(connect_ws parse_frames);

BEGIN { $ENV{WSHB_QUIET} = 1 }
Test::More->builder->no_ending(1);

my $N = $ENV{SCALE_SESSIONS} // 100000;
my @steps = grep { $_ < $N } 10000, 25000, 50000;
push @steps, $N;

my $top = $WsHb::TOP;
my $bench = "$top/build/wsbench";
my $out_dir = "$top/build/bench";
my $per_proc = 10000;
my $interval = $ENV{SCALE_INTERVAL} // 30;
my $timeout = $ENV{SCALE_TIMEOUT} // 10;
my $windows = $ENV{SCALE_CPU_WINDOWS} // 3;
my $nprocs = ceil($N / $per_proc);
# two at least: one serves the documents, another serves nothing
my $workers = ceil($N / 8000) < 2 ? 2 : ceil($N / 8000);
# ten source addresses: 10 000 ports each to nginx's one, far from the
# 28 000 of the ephemeral range, where connect() slows down looking
my @srcs = map { "127.0.0.$_" } 2 .. 11;
my (@lines, %r);

system('mkdir', '-p', $out_dir);

sub say_line {
    my ($fmt, @args) = @_;
    my $l = sprintf $fmt, @args;
    print "$l\n";
    push @lines, $l;
}

sub target {
    my ($name, $value, $op, $limit, $unit) = @_;
    my $ok = $op eq '>=' ? $value >= $limit : $value <= $limit;
    say_line('%-58s %10.3f %s %-8s %s', $name, $value, $op,
             $limit . ($unit // ''), $ok ? 'PASS' : 'FAIL');
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return @v ? $v[int(@v / 2)] : 0;
}

# resident memory of the workers without the shared pages they touched

sub rss {
    my ($t) = @_;
    my $kb = 0;

    for my $pid ($t->worker_pids) {
        my $st = $t->read_abs("/proc/$pid/status");
        my ($rss) = $st =~ /VmRSS:\s+(\d+)/;
        my ($shm) = $st =~ /RssShmem:\s+(\d+)/;
        $kb += ($rss // 0) - ($shm // 0);
    }

    return $kb * 1024;
}

sub cpu {
    my ($t, @pids) = @_;
    my $ticks = 0;

    for my $pid (@pids) {
        my $stat = eval { $t->read_abs("/proc/$pid/stat") } // next;
        my @f = split ' ', $stat;
        $ticks += $f[13] + $f[14];
    }

    return $ticks / 100;
}

# sessions through to the upstream, from the kernel's count of TCP sockets
# in use (ss would take seconds at this size): four per session, the two
# ends of each connection

sub sockets {
    open my $fh, '<', '/proc/net/sockstat' or die $!;
    my ($n) = do { local $/; <$fh> } =~ /^TCP: inuse (\d+)/m;
    return $n // 0;
}

sub fetch {
    my ($port, $uri, $pid) = @_;
    my $t0 = time;
    my $s = $pid ? pinned($port, $pid)
                 : IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
    return (0, 0) unless $s;
    print $s "GET $uri HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    my ($len, $buf) = (0, '');
    $len += length $buf while sysread $s, $buf, 1 << 20;
    return (time - $t0, $len);
}

# a keep-alive connection to the worker $pid: nginx has no listen per
# worker, and with reuseport the kernel picks one per connection, so
# connect until /pid, the first request, answers $pid

sub pinned {
    my ($port, $pid) = @_;

    for (1 .. 1000) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
            or return;
        print $s "GET /pid HTTP/1.1\r\nHost: x\r\n\r\n";
        my $buf = '';
        while ($buf !~ /\r\n\r\n\d+\n/) {
            sysread($s, $buf, 4096, length $buf) or last;
        }
        my ($got) = $buf =~ /\r\n\r\n(\d+)\n/;
        return $s if defined $got && $got == $pid;
        close $s;
    }

    return;
}

# the workers' and the peers' CPU over one interval, as % of a core, and
# the pings sent a second

sub window {
    my ($t, $port, $module, $wp, $peers) = @_;
    my $pings0 = 0;

    if ($module) {
        my $st = decode_json($t->get($port, '/status?sessions=0')->{body});
        $pings0 = $st->{totals}{pings}{client}
                  + $st->{totals}{pings}{upstream};
    }

    my ($c0, $p0, $w0) = (cpu($t, @$wp), cpu($t, @$peers), time);
    sleep $interval;
    my ($c1, $p1, $w1) = (cpu($t, @$wp), cpu($t, @$peers), time);
    my $pings = 0;

    if ($module) {
        my $st = decode_json($t->get($port, '/status?sessions=0')->{body});
        $pings = $st->{totals}{pings}{client}
                 + $st->{totals}{pings}{upstream} - $pings0;
    }

    return { cpu => ($c1 - $c0) / ($w1 - $w0) * 100,
             peer_cpu => ($p1 - $p0) / ($w1 - $w0) * 100,
             pings => $pings / ($w1 - $w0) };
}

# a process that runs $code in a loop until killed

sub looper {
    my ($code) = @_;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    $code->() for 1 .. 1e9;
    exit 0;
}

# 24 paced echo sessions, 12 in the worker $serving and 12 in $idle, in
# the same window: the p99 of each half, ms

sub probe {
    my ($port, $secs, $serving, $idle) = @_;
    my $cmd = "$bench client -p $port -c 24 -m echo -i 20 -s 64 -d $secs "
              . "-W $serving,$idle";
    my $json = `$cmd`;
    my $r = eval { decode_json($json) } // {};
    my $w = $r->{workers} // {};
    return map { ($w->{$_}{p99_us} // 0) / 1000 } $serving, $idle;
}

sub contender {
    my ($name) = @_;
    my $module = $name eq 'module';
    my $t = WsHb->new;

    my @ups = map { $t->port("up$_") } 1 .. $nprocs;
    my @upstreams = map {
        my $p = $t->spawn($bench, 'server', $_);
        $p->expect('ready', 5) or die 'upstream did not start';
        $p
    } @ups;

    my $servers = join '', map { "        server 127.0.0.1:$_;\n" } @ups;
    my ($zone, $hb, $status) = ('', '', '');

    if ($module) {
        # 216 bytes a record with its share of names, the ring aside
        my $mb = ceil($N * 216 * 1.2 / 1048576) + 2;
        $zone = "ws_heartbeat_zone ws:${mb}m;";
        $hb = "ws_heartbeat on; ws_heartbeat_upstream on;\n"
              . "            ws_heartbeat_interval ${interval}s;\n"
              . "            ws_heartbeat_timeout ${timeout}s;";
        $status = 'location = /status { ws_heartbeat_status; }';
    }

    $t->write_conf(<<"EOF", workers => $workers, connections => 19000,
    $zone
    upstream app {
$servers    }

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport backlog=4096;

        # which worker took the connection: for the pinned probes and
        # readers
        add_header X-Worker \$pid always;
        location = /pid { return 200 "\$pid\\n"; }

        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 1h;
            $hb
        }

        $status
    }
EOF
                   no_module => !$module,
                   main => "worker_rlimit_nofile 20000;\n");
    $t->run('http');

    my $port = $t->port('http');
    my (@gens, @counts);
    my $open = 0;

    # a session in each worker, so that lazily allocated memory is there;
    # they answer pings, as the others do

    my $warm = $t->spawn('sh', '-c', "exec $bench client -p $port "
                         . "-c $workers -m idle -d 3600");
    sleep 2;
    my $rss0 = rss($t);
    my $base = sockets();

    for my $step (@steps) {
        my $t0 = time;

        while ($open < $step) {
            my $c = ($step - $open > $per_proc) ? $per_proc : $step - $open;
            push @gens, $t->spawn('sh', '-c', "exec $bench client -p $port "
                                  . "-c $c -m idle -d 3600 -b "
                                  . join(',', @srcs));
            push @counts, $c;
            $open += $c;
        }

        my $up = 0;
        for (1 .. 1200) {
            $up = int((sockets() - $base) / 4);
            last if $up >= $step;
            sleep 0.25;
        }

        my $opened = time - $t0;
        sleep 2;

        my $shm = 0;
        my $st = {};

        if ($module) {
            $st = decode_json($t->get($port, '/status?sessions=0')->{body});
            $shm = $st->{zone}{used_records} * $st->{zone}{record_size}
                   + $st->{zone}{names_bytes};
        }

        my $mem = (rss($t) - $rss0 + $shm) / $step;
        my @wp = $t->worker_pids;
        my @peers = map { $_->pid } @gens, @upstreams;

        # at the last step, several windows: how far one reading is from
        # the next on this machine shows in the range printed

        my @w = map { window($t, $port, $module, \@wp, \@peers) }
                1 .. ($module && $step == $N ? $windows : 1);
        my $mid = (sort { $a->{cpu} <=> $b->{cpu} } @w)[int(@w / 2)];

        my %s = (sessions => $up, opened => $opened, mem => $mem,
                 cpu => $mid->{cpu}, peer_cpu => $mid->{peer_cpu},
                 pings => $mid->{pings}, windows => \@w);

        say_line('%-7s %6d sessions: opened in %5.1f s, %6.0f B each, '
                 . 'workers %5.2f %% of a core, peers %5.2f %%, %6.0f '
                 . 'pings/s', $name, $up, $opened, $mem, $s{cpu},
                 $s{peer_cpu}, $s{pings});

        if ($module) {
            my (@c, @p, @f, $len);
            push @c, (fetch($port, '/status?sessions=0'))[0] for 1 .. 20;
            push @p, (fetch($port, '/status?format=prometheus'))[0]
                for 1 .. 20;
            for (1 .. 3) {
                my ($secs, $l) = fetch($port, "/status?sessions=$N");
                push @f, $secs;
                $len = $l;
            }
            $s{counts_ms} = median(@c) * 1000;
            $s{prom_ms} = median(@p) * 1000;
            $s{full_ms} = median(@f) * 1000;
            say_line('module  %6d sessions: status counts only %.2f ms, '
                     . 'Prometheus %.2f ms, full JSON %.0f ms (%.1f MB)',
                     $up, $s{counts_ms}, $s{prom_ms}, $s{full_ms},
                     $len / 1e6);
        }

        $r{$name}{$step} = \%s;
    }

    if ($module) {
        data_path($t, $port);
        frozen($t, $port, \@gens, \@counts);
    }

    $_->kill for @gens, $warm;

    my $crashes = () = $t->error_log =~ /exited on signal/g;
    $r{$name}{crashes} = $crashes;
    $t->finish;
}

# the probes' p99, in the worker that serves and in one that does not:
# alone, under the full JSON, under snapshots; both readers are pinned to
# the first worker

sub data_path {
    my ($t, $port) = @_;
    my ($serving, $idle) = ($t->worker_pids)[0, 1];
    my %p;

    $p{idle} = [ probe($port, 10, $serving, $idle) ];

    my @json = map {
        looper(sub { fetch($port, "/status?sessions=$N", $serving) })
    } 1 .. 2;
    $p{json} = [ probe($port, 10, $serving, $idle) ];
    kill 'KILL', @json;
    waitpid $_, 0 for @json;

    my @snap = map {
        looper(sub {
            my $s = pinned($port, $serving) or return;
            syswrite $s, "GET /status HTTP/1.1\r\nHost: x\r\n"
                . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                . "Sec-WebSocket-Version: 13\r\n\r\n";
            my $buf = '';
            my $end = time + 30;
            while ($buf !~ /\r\n\r\n/ && time < $end) {
                IO::Select->new($s)->can_read(1) or next;
                sysread($s, $buf, 65536, length $buf) or return;
            }
            $buf =~ s{^HTTP/1\.1 101[^\r]*\r\n.*?\r\n\r\n}{}s or return;
            while (time < $end) {
                last if grep { $_->{b0} & 0x80 && $_->{opcode} != 9 }
                             parse_frames(\$buf);
                IO::Select->new($s)->can_read(1) or next;
                sysread($s, $buf, 1 << 20, length $buf) or last;
            }
            close $s;
        })
    } 1 .. 2;
    $p{snap} = [ probe($port, 10, $serving, $idle) ];
    kill 'KILL', @snap;
    waitpid $_, 0 for @snap;

    for (['idle', 'alone'], ['json', 'under the full JSON'],
         ['snap', 'under snapshots'])
    {
        my ($k, $what) = @$_;
        say_line('probe p99 at %d sessions %-19s: serving worker %7.2f ms, '
                 . 'idle worker %7.2f ms, held %+7.2f ms', $N, $what,
                 $p{$k}[0], $p{$k}[1], $p{$k}[0] - $p{$k}[1]);
    }

    $r{probe} = \%p;
}

# 30 % of the clients frozen at once: closed within interval + timeout +
# 1 s, and no other session

sub frozen {
    my ($t, $port, $gens, $counts) = @_;
    my $doc = decode_json($t->get($port, '/status?sessions=0')->{body});
    my $used0 = $doc->{zone}{used_records};
    my $closed0 = $doc->{totals}{closed}{client_timeout};

    # a probe's session that ends meanwhile, closed by its client, is not
    # a healthy session the module closed
    my $left0 = $doc->{totals}{closed}{client_close};
    my ($frozen, @stop) = (0);

    # generators from the last one back, until 30 % of the sessions

    for (my $k = $#$gens; $k >= 0 && $frozen < 0.3 * $N; $k--) {
        push @stop, $gens->[$k];
        $frozen += $counts->[$k];
    }

    $_->stop for @stop;
    my $t0 = time;
    my ($closed, $used);

    while (time - $t0 < $interval + $timeout + 1) {
        sleep 1;
        $doc = decode_json($t->get($port, '/status?sessions=0')->{body});
        $closed = $doc->{totals}{closed}{client_timeout} - $closed0;
        $used = $doc->{zone}{used_records};
        last if $closed >= $frozen;
    }

    my $secs = time - $t0;
    my $left = $doc->{totals}{closed}{client_close} - $left0;

    say_line('frozen: %d of %d sessions stopped; %d closed as '
             . 'client_timeout in %.1f s, %d by their clients, %d left '
             . 'open', $frozen, $used0, $closed, $secs, $left, $used);

    $r{frozen} = { share => $closed / $frozen,
                   others => $used0 - $frozen - $used - $left };
    $_->kill for @stop;
}

contender($_) for qw(stock module);

# --- targets ------------------------------------------------------------------

my ($s, $m) = ($r{stock}{$N}, $r{module}{$N});

target("module memory per session at $N, bytes", $m->{mem} - $s->{mem},
       '<=', 512);
target("nginx memory per session at $N, module on / stock",
       $m->{mem} / $s->{mem}, '<=', 1.03);

# each window's ratio and the median one's; the target line reads the
# window of median worker CPU, as the table does

for my $w (@{ $m->{windows} }) {
    my $peers = $w->{peer_cpu} - $s->{peer_cpu};
    say_line('module  %6d sessions: window: workers %5.2f %%, peers %5.2f '
             . '%%, ratio %s', $N, $w->{cpu} - $s->{cpu}, $peers,
             $peers > 0 ? sprintf('%.2f', ($w->{cpu} - $s->{cpu}) / $peers)
                        : '-');
}

if ($m->{pings} > 0 && $m->{peer_cpu} - $s->{peer_cpu} > 0) {
    target('worker CPU per ping / the peers\' CPU answering it',
           ($m->{cpu} - $s->{cpu}) / ($m->{peer_cpu} - $s->{peer_cpu}),
           '<=', 1.1);
}

target("worker CPU at $N idle sessions above stock, % of a core",
       $m->{cpu} - $s->{cpu}, '<=', 5);
target("status, counts only, at $N sessions, ms", $m->{counts_ms}, '<=', 2);

# the raw figures above move with the machine (the reader, the renderer
# and the sessions' pings share its cores); the held loop is the serving
# worker's probe p99 less the idle worker's, in the same window
target('held loop under the full JSON: serving - idle worker p99, ms',
       $r{probe}{json}[0] - $r{probe}{json}[1], '<=', 10);
target('held loop under snapshots: serving - idle worker p99, ms',
       $r{probe}{snap}[0] - $r{probe}{snap}[1], '<=', 10);
target('frozen 30 %: share closed within interval + timeout + 1 s',
       $r{frozen}{share}, '>=', 1);
target('frozen 30 %: healthy sessions closed', $r{frozen}{others}, '<=', 0);
target('worker processes that crashed', $r{module}{crashes}, '<=', 0);

# --- the plot -----------------------------------------------------------------

open my $fh, '>', "$out_dir/scale.dat" or die;
print $fh "# sessions stock_mem module_mem stock_cpu module_cpu\n";
printf $fh "%d %.0f %.0f %.3f %.3f\n", $_, $r{stock}{$_}{mem},
    $r{module}{$_}{mem}, $r{stock}{$_}{cpu}, $r{module}{$_}{cpu}
    for @steps;
close $fh;

if (-x '/usr/bin/gnuplot') {
    open my $gp, '|-', '/usr/bin/gnuplot' or die;
    print $gp join "\n",
        'set terminal png size 1000,420 noenhanced',
        "set output '$top/docs/img/scale.png'",
        'set multiplot layout 1,2 title "idle WebSocket sessions, '
            . "${interval} s pings to both peers\"",
        'set key top left', 'set grid', 'set xlabel "sessions"',
        'set format x "%.0s%c"',
        'set ylabel "bytes per session"', 'set title "memory"',
        "plot '$out_dir/scale.dat' using 1:2 with linespoints title 'stock', "
            . "'' using 1:3 with linespoints title 'module'",
        'set ylabel "% of a core"', 'set title "worker CPU"',
        "plot '$out_dir/scale.dat' using 1:4 with linespoints title 'stock', "
            . "'' using 1:5 with linespoints title 'module'",
        'unset multiplot', '';
    close $gp;
    say_line('plot: docs/img/scale.png');
}

open $fh, '>', "$out_dir/scale.txt" or die;
print $fh "$_\n" for @lines;
close $fh;
