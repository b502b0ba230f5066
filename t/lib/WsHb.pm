package WsHb;

# The project's small test harness: writes an nginx.conf from a template,
# starts nginx with the module loaded on free loopback ports, starts
# backends, stops everything, and fails the test file if error.log has
# [alert], [crit] or [emerg] lines or a sanitizer report.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use Fcntl qw(O_WRONLY O_CREAT O_EXCL);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP ();
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);

our $TOP = abs_path(dirname(__FILE__) . '/../..');
our $NGINX = $ENV{NGINX_BIN} || '/usr/sbin/nginx';
our $MODULE = $ENV{WSHB_MODULE}
    || "$TOP/build/release/ngx_http_ws_heartbeat_module.so";
our $NODE_DIR = "$TOP/t/node";

my @all;

sub new {
    my ($class, %o) = @_;

    my $self = bless {
        prefix => tempdir('wshb-XXXXXX', TMPDIR => 1,
                          CLEANUP => !$ENV{WSHB_KEEP}),
        ports => {},
        children => [],
        owner => $$,
        %o,
    }, $class;

    chmod 0755, $self->{prefix};
    make_path("$self->{prefix}/logs", "$self->{prefix}/asan");
    chmod 0777, "$self->{prefix}/asan";

    push @all, $self;
    return $self;
}

sub prefix { $_[0]{prefix} }

# a free TCP port on 127.0.0.1, the same one for the same name.  Between
# this test and nginx binding it, nobody else may take it: ports come from
# below the kernel's ephemeral range (which outgoing connections use), and
# a lock file in $PORTS, made with O_EXCL and holding our pid, keeps other
# test files (prove -j) off it until this one ends.

our $PORTS = ($ENV{TMPDIR} // '/tmp') . '/wshb-ports';
my @locks;

sub port {
    my ($self, $name) = @_;

    return $self->{ports}{$name} //= do {
        mkdir $PORTS;
        my $port;

        for (1 .. 1000) {
            my $p = 20000 + int rand 12000;
            lock_port($p) or next;

            my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                          LocalPort => $p, Listen => 1,
                                          ReuseAddr => 1);
            if (!$s) {
                unlink "$PORTS/$p";
                next;
            }

            close $s;
            push @locks, "$PORTS/$p";
            $port = $p;
            last;
        }

        $port // die "no free port";
    };
}

# takes the lock of a port, or that of a test that is gone

sub lock_port {
    my ($p) = @_;
    my $file = "$PORTS/$p";

    for (1 .. 2) {
        if (sysopen my $fh, $file, O_WRONLY | O_CREAT | O_EXCL) {
            print $fh $$;
            close $fh;
            return 1;
        }

        open my $fh, '<', $file or next;
        my $pid = <$fh> // '';
        close $fh;

        return 0 if $pid =~ /^(\d+)$/ && kill 0, $1;
        unlink $file;
    }

    return 0;
}

# the programs a test needs, or it is skipped (before any test ran)

sub need {
    my ($self, @programs) = @_;

    for my $p (@programs) {
        my $have = $p eq 'ws' ? -d "$NODE_DIR/node_modules/ws"
                 : $p eq 'playwright-core'
                     ? -d "$NODE_DIR/node_modules/playwright-core"
                 : $p =~ m{^/} ? -x $p
                 : $self->which($p);
        next if $have;

        die "needs $p, which is missing\n"
            if Test::More->builder->current_test;
        $_->{skipped} = 1 for @all;
        plan(skip_all => "needs $p");
    }

    return $self;
}

# %%PORT_name%% become ports, %%PREFIX%% the prefix, and a line of its
# own %%WS_PROXY%% the proxy settings a WebSocket location needs (HTTP/1.1
# to the upstream, the Upgrade and Connection headers passed on); the
# template is the http {} block's contents unless it has its own "http {"

sub write_conf {
    my ($self, $body, %o) = @_;

    $body =~ s{^(\s*)%%WS_PROXY%%\n}{
        "$1proxy_http_version 1.1;\n"
        . "$1proxy_set_header Upgrade \$http_upgrade;\n"
        . "$1proxy_set_header Connection \"upgrade\";\n"
    }gme;
    $body =~ s/%%PORT_(\w+)%%/$self->port($1)/ge;
    $body =~ s/%%PREFIX%%/$self->{prefix}/g;

    my $workers = $o{workers} // 1;
    my $main = $o{main} // '';
    my $user = $> == 0 ? "user root;\n" : '';
    my $http = $body =~ /^\s*http\s*\{/m ? $body
        : "http {\n    access_log off;\n$body\n}\n";

    my $conf = ($o{no_module} ? '' : "load_module $MODULE;\n")
        . $user
        . "daemon off;\n"
        . 'master_process ' . (($o{master} // 1) ? 'on' : 'off') . ";\n"
        . "worker_processes $workers;\n"
        . "pid $self->{prefix}/nginx.pid;\n"
        . "error_log $self->{prefix}/logs/error.log " . ($ENV{WSHB_DEBUG} ? "debug" : "info") . ";\n"
        . $main
        . "events {\n    worker_connections "
        . ($o{connections} // 4096) . ";\n}\n"
        . $http;

    open my $fh, '>', "$self->{prefix}/nginx.conf" or die $!;
    print $fh $conf;
    close $fh;

    return $self;
}

sub env {
    my ($self) = @_;
    return () unless $ENV{WSHB_ASAN};

    chomp(my $asan = `gcc -print-file-name=libasan.so`);
    chomp(my $ubsan = `gcc -print-file-name=libubsan.so`);

    return (LD_PRELOAD => "$asan $ubsan",
            ASAN_OPTIONS => "detect_leaks=0:abort_on_error=0:"
                . "log_path=$self->{prefix}/asan/asan",
            UBSAN_OPTIONS => "print_stacktrace=1:halt_on_error=1:"
                . "log_path=$self->{prefix}/asan/ubsan");
}

# nginx -t; returns (exit status, output)

sub test_conf {
    my ($self) = @_;
    my %env = $self->env;
    local @ENV{keys %env} = values %env;
    my $out = `$NGINX -t -p $self->{prefix} -c $self->{prefix}/nginx.conf 2>&1`;
    return ($? >> 8, $out);
}

# starts nginx and waits until it listens on the named ports

sub run {
    my ($self, @listen) = @_;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        my %env = $self->env;
        @ENV{keys %env} = values %env;
        open STDERR, '>>', "$self->{prefix}/logs/stderr.log";

        # WSHB_VALGRIND: memcheck on the master and every worker
        my @vg = $ENV{WSHB_VALGRIND}
            ? ('valgrind', '--tool=memcheck', '--trace-children=yes',
               '--child-silent-after-fork=no', '--track-origins=yes',
               '--leak-check=full', '--show-leak-kinds=definite',
               '--errors-for-leak-kinds=definite',
               "--suppressions=$TOP/t/valgrind.supp",
               "--log-file=$self->{prefix}/asan/valgrind.%p")
            : ();

        exec @vg, $NGINX, '-p', $self->{prefix}, '-c',
             "$self->{prefix}/nginx.conf";
        die "exec: $!";
    }

    $self->{nginx} = $pid;

    $self->wait_port($self->port($_)) for @listen;

    if ($ENV{WSHB_ASAN} && !$self->{asan_checked}++) {
        my ($w) = $self->worker_pids;
        my $maps = $w ? $self->read_abs("/proc/$w/maps") : '';
        ok($maps =~ /libasan/ && $maps =~ /ngx_http_ws_heartbeat_module/,
           'the worker runs the module under AddressSanitizer');
    }

    return $self;
}

# a deadline for waiting on something nginx does: longer under valgrind,
# where the workers run many times slower (the assertion stays the same)

sub patience {
    my ($secs) = @_;
    return $ENV{WSHB_VALGRIND} ? 4 * $secs : $secs;
}

sub wait_port {
    my ($self, $port, $timeout) = @_;
    my $end = time + ($timeout // ($ENV{WSHB_VALGRIND} ? 60 : 10));

    while (time < $end) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
        return 1 if $s;
        sleep 0.02;
    }

    die "nothing listens on port $port";
}

sub master_pid { $_[0]{nginx} }

sub worker_pids {
    my ($self) = @_;
    return $self->worker_pids_of($self->{nginx});
}

sub worker_pids_of {
    my ($self, $master) = @_;
    return map { /^\s*(\d+)\s+(\d+)/ && $2 == $master ? $1 : () }
        `ps -o pid=,ppid= -e`;
}

sub reload {
    my ($self) = @_;
    kill 'HUP', $self->{nginx};
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{nginx} or return;

    kill 'QUIT', $pid;
    my $end = time + 15;

    while (time < $end) {
        return if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }

    my @workers = $self->worker_pids_of($pid);
    kill 'KILL', $pid, @workers;
    waitpid $pid, 0;
    fail('nginx did not exit on QUIT within 15 s');
}

sub read_file {
    my ($self, $name) = @_;
    open my $fh, '<', "$self->{prefix}/$name" or return '';
    local $/;
    return <$fh>;
}

sub error_log { $_[0]->read_file('logs/error.log') }

sub read_abs {
    my ($self, $path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return <$fh>;
}

# waits until the file matches; returns the match (or $1) or undef

sub wait_file {
    my ($self, $name, $re, $timeout) = @_;
    my $end = time + ($timeout // 10);

    while (time < $end) {
        my @m = $self->read_file($name) =~ $re;
        return $m[0] // 1 if @m;
        sleep 0.05;
    }

    return undef;
}

sub wait_log {
    my ($self, $re, $timeout) = @_;
    return $self->wait_file('logs/error.log', $re, $timeout);
}

sub spawn {
    my ($self, @cmd) = @_;
    $self->need($cmd[0] eq 'node' ? ('node', 'ws') : $cmd[0]);
    my $p = WsHb::Proc->spawn(@cmd);
    push @{ $self->{children} }, $p;
    return $p;
}

# a `ws` server, once it said it is ready

sub ws_server {
    my ($self, $port, @args) = @_;
    my $p = $self->spawn('node', "$NODE_DIR/server.js", '--port', $port,
                         @args);
    $p->expect('ready', 20) or die 'ws server did not start';
    return $p;
}

sub ws_client {
    my ($self, $url, @args) = @_;
    return $self->spawn('node', "$NODE_DIR/client.js", '--url', $url, @args);
}

# a plain HTTP/1.0 request; returns { status, headers (lower-case keys),
# body }

sub http {
    my ($self, $port, $request) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5)
        or die "connect: $!";
    $request =~ s/%%PORT_(\w+)%%/$self->port($1)/ge;
    print $s $request;

    local $/;
    my $raw = <$s> // '';
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($status) = ($head // '') =~ m{^HTTP/\d\.\d (\d+)};
    my %h;

    for (split /\r\n/, $head // '') {
        $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }

    return { status => $status // 0, headers => \%h, body => $body // '' };
}

sub get {
    my ($self, $port, $uri, @headers) = @_;
    return $self->http($port, "GET $uri HTTP/1.0\r\nHost: localhost\r\n"
        . join('', map { "$_\r\n" } @headers) . "\r\n");
}

# the status location's JSON document (default /status on the port named
# http), decoded, or {} when the answer is none

sub status {
    my ($self, $uri, @headers) = @_;
    my $r = $self->get($self->port('http'), $uri // '/status', @headers);
    return eval { JSON::PP::decode_json($r->{body}) } // {};
}

# the status location's Prometheus text as { series => value }, and the
# text itself

sub metrics {
    my ($self, $uri) = @_;
    my $r = $self->get($self->port('http'), $uri);
    my %m;

    for (split /\n/, $r->{body}) {
        next if /^#/;
        $m{$1} = $2 if /^(\S+) (\S+)$/;
    }

    return wantarray ? (\%m, $r->{body}) : \%m;
}

# a program on PATH, or undef

sub which {
    my ($self, $name) = @_;
    my ($dir) = grep { -x "$_/$name" } split /:/, $ENV{PATH};
    return $dir ? "$dir/$name" : undef;
}

# a real Prometheus (Debian's package) on a free loopback port, scraping
# the status location of @$targets (ports) every second with $rules (the
# groups of a rules file, YAML); returns its port

sub prometheus {
    my ($self, %o) = @_;
    my $port = $self->port('prometheus');
    my $dir = "$self->{prefix}/prometheus";
    my $targets = join ', ', map { "'127.0.0.1:$_'" } @{ $o{targets} };

    mkdir $dir;

    open my $fh, '>', "$dir/prometheus.yml" or die $!;
    print $fh "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        . "rule_files:\n  - rules.yml\n"
        . "scrape_configs:\n  - job_name: nginx_ws\n"
        . "    metrics_path: $o{path}\n"
        . "    params:\n      format: [prometheus]\n"
        . "    static_configs:\n      - targets: [$targets]\n";
    close $fh;

    open $fh, '>', "$dir/rules.yml" or die $!;
    print $fh $o{rules};
    close $fh;

    $self->spawn('sh', '-c', 'exec ' . $self->which('prometheus')
                 . " --config.file=$dir/prometheus.yml"
                 . " --storage.tsdb.path=$dir/data"
                 . " --web.listen-address=127.0.0.1:$port"
                 . " 2>$dir/prometheus.log");

    # Prometheus takes seconds to start on a loaded machine (the valgrind
    # pass runs the suite in parallel): its queries begin once it listens
    $self->wait_port($port, 60);

    return $port;
}

# an instant query to that Prometheus: its result list (empty until ready)

sub prom_query {
    my ($self, $query) = @_;
    (my $q = $query) =~ s/([^A-Za-z0-9_])/sprintf '%%%02X', ord $1/ge;
    my $r = eval {
        $self->get($self->port('prometheus'), "/api/v1/query?query=$q")
    } // { body => '' };
    my $doc = eval { JSON::PP::decode_json($r->{body}) } // {};
    return $doc->{data}{result} // [];
}

sub check_logs {
    my ($self) = @_;

    if ($ENV{WSHB_QUIET}) {
        my @bad = grep { /\[(alert|crit|emerg)\]|runtime error:|Sanitizer/ }
            split /\n/, $self->error_log . $self->read_file('logs/stderr.log');
        warn "nginx logged:\n", join("\n", @bad), "\n" if @bad;
        return;
    }

    my @bad = grep { /\[(alert|crit|emerg)\]|runtime error:|Sanitizer/ }
        split /\n/, $self->error_log . $self->read_file('logs/stderr.log');

    ok(!@bad, 'no alert, crit, emerg or sanitizer report in the logs')
        or diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);

    opendir my $dh, "$self->{prefix}/asan" or return;
    my @reports = grep { !/^\./ } readdir $dh;

    # valgrind writes a log per process: only those with errors count; a
    # process still running (a check in the middle of a test) or killed
    # has no summary yet, and counts if anything follows the log's header
    @reports = grep {
        !/^valgrind/ || valgrind_errors($self->read_file("asan/$_"))
    } @reports;

    my $text = join '', map { $self->read_file("asan/$_") } @reports;

    ok(!@reports, 'no sanitizer reports') or diag(substr $text, 0, 6000);
}

# a self-signed certificate for localhost in the prefix: cert.pem and
# key.pem, which configurations name as %%PREFIX%%/cert.pem and key.pem

sub certificate {
    my ($self) = @_;
    my $p = $self->{prefix};

    system("openssl req -x509 -newkey rsa:2048 -nodes -days 2"
           . " -subj /CN=localhost -keyout $p/key.pem -out $p/cert.pem"
           . " >/dev/null 2>&1") == 0
        or BAIL_OUT('openssl could not make a certificate');

    return ("$p/cert.pem", "$p/key.pem");
}

sub valgrind_errors {
    my ($log) = @_;

    return $log !~ /ERROR SUMMARY: 0 errors/ if $log =~ /ERROR SUMMARY/;

    return grep {
        !/^==\d+== (Memcheck, |Copyright |Using Valgrind|Command: |Parent PID: |$)/
    } split /\n/, $log;
}

sub finish {
    my ($self) = @_;
    return if $self->{finished}++;
    $_->kill for @{ $self->{children} };
    $self->stop;

    # a test skipped before it started nginx has no logs to look at
    $self->check_logs unless $self->{no_log_check} || $self->{skipped};
}

END {
    my $status = $?;
    $_->finish for grep { $_->{owner} == $$ } @all;
    unlink @locks if grep { $_->{owner} == $$ } @all;
    $? = $status;
}


package WsHb::Proc;

# a child process whose stdout is read as JSON lines and whose stdin takes
# commands

use strict;
use warnings;

use IO::Handle;
use IO::Select;
use JSON::PP;
use Time::HiRes qw(time);

sub spawn {
    my ($class, @cmd) = @_;

    pipe(my $out_r, my $out_w) or die $!;
    pipe(my $in_r, my $in_w) or die $!;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        close $out_r;
        close $in_w;
        open STDOUT, '>&', $out_w or die $!;
        open STDIN, '<&', $in_r or die $!;
        exec @cmd;
        die "exec @cmd: $!";
    }

    close $out_w;
    close $in_r;
    $in_w->autoflush(1);

    return bless { pid => $pid, out => $out_r, in => $in_w, buf => '',
                   events => [] }, $class;
}

sub pid { $_[0]{pid} }

sub send {
    my ($self, $line) = @_;
    local $SIG{PIPE} = 'IGNORE';
    print { $self->{in} } "$line\n";
}

# the next event (decoded JSON line), or undef after the timeout

sub event {
    my ($self, $timeout) = @_;
    my $end = time + ($timeout // 10);

    for (;;) {
        if ($self->{buf} =~ s/^(.*)\n//) {
            my $line = $1;
            my $ev = eval { decode_json($line) }
                // { event => 'text', text => $line };
            $ev->{at} = $ev->{t} // time;
            push @{ $self->{events} }, $ev;
            return $ev;
        }

        my $left = $end - time;
        return undef if $left <= 0;

        next unless IO::Select->new($self->{out})->can_read($left);

        my $n = sysread $self->{out}, my $chunk, 65536;
        return undef unless $n;
        $self->{buf} .= $chunk;
    }
}

# waits for an event of that name whose fields match; returns it

sub expect {
    my ($self, $name, $timeout, %match) = @_;
    my $end = time + ($timeout // 10);

    while ((my $left = $end - time) > 0) {
        my $ev = $self->event($left) or return undef;
        next unless $ev->{event} eq $name;
        next if grep { ($ev->{$_} // '') ne $match{$_} } keys %match;
        return $ev;
    }

    return undef;
}

# the events of that name read so far

sub seen {
    my ($self, $name) = @_;
    return grep { $_->{event} eq $name } @{ $self->{events} };
}

# reads whatever arrives for $seconds

sub drain {
    my ($self, $seconds) = @_;
    my $end = time + ($seconds // 0.1);

    while ((my $left = $end - time) > 0) {
        $self->event($left);
    }
}

sub stop { kill 'STOP', $_[0]{pid} }
sub cont { kill 'CONT', $_[0]{pid} }

sub kill {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'CONT', $self->{pid};
    kill 'KILL', $self->{pid};
    waitpid $self->{pid}, 0;
    $self->{pid} = 0;
}

1;
