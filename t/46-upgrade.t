#!/usr/bin/perl

# A new module file under a running nginx, as a package upgrade leaves it.
# A reload keeps the module already loaded (the master's dlopen() of the
# same path returns the mapped object): the status still names the old
# version, and nginx says at notice level that the file changed.  A binary
# upgrade (USR2 to the master, then QUIT to the old one) runs the new file:
# the new master has a zone of its own, so its table, limit counts and
# delta sequence start afresh, while the old workers drain their sessions
# with 1001.  Then a reload whose load_module names another file runs that
# file's build, with a zone of its own, and the master survives it.  The
# module that runs first is the previous version's build (make -f
# Makefile.dev prev), the new file this tree's.

use strict;
use warnings;

use File::Copy qw(copy);
use Test::More;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use WsHb;

my $prev = $ENV{WSHB_PREV_MODULE}
    || "$WsHb::TOP/build/prev/release/ngx_http_ws_heartbeat_module.so";

plan skip_all => "no previous version's module: make -f Makefile.dev prev"
    unless -f $prev;
plan skip_all => 'started here without memcheck, and the previous build is '
    . "not made for the valgrind pass's nginx (make test, test-asan run it)"
    if $ENV{WSHB_VALGRIND};

my $t = WsHb->new;
my $current = $WsHb::MODULE;
my $so = $t->prefix . '/ngx_http_ws_heartbeat_module.so';

sub version_of {
    my ($file) = @_;
    my ($v) = `strings $file` =~ /nginx_ws_build_info\{version="([^"]+)"/;
    return $v // '';
}

my $old_version = version_of($prev);
my $new_version = version_of($current);
isnt($old_version, $new_version,
     "the previous build reports $old_version, this one $new_version");

# what is installed: a file put in place by rename, as dpkg does

sub install_module {
    my ($from) = @_;
    copy($from, "$so.new") or die "$from: $!";
    rename("$so.new", $so) or die "$so: $!";
}

install_module($prev);
$WsHb::MODULE = $so;

# the new binary of a binary upgrade gets only the environment that env
# directives name: the sanitizer's, under test-asan

my %env = $t->env;

$t->write_conf(<<'EOF', main => join '', map { "env $_;\n" } sort keys %env);
    ws_heartbeat_zone ws:1m;
    ws_heartbeat_drain 2s;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%

            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_max_sessions 10;
        }

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF

# a binary upgrade needs a daemon: a master whose parent still runs
# takes itself for a new binary whose old one has not quit, and ignores
# USR2; so nginx is started here, not by the harness

my $conf = $t->prefix . '/nginx.conf';

sub edit_conf {
    my ($from, $to) = @_;
    my $text = $t->read_file('nginx.conf');
    $text =~ s/$from/$to/ or die "no $from in nginx.conf";
    open my $fh, '>', $conf or die "$conf: $!";
    print $fh $text;
    close $fh;
}

edit_conf(qr/^daemon off;$/m, 'daemon on;');

my ($master, $new);

END {
    kill 'KILL', $master, $new if $master;
}

my $app = $t->ws_server($t->port('app'));

{
    local @ENV{keys %env} = values %env;
    system("$WsHb::NGINX -p " . $t->prefix . " -c $conf"
           . ' 2>>' . $t->prefix . '/logs/stderr.log') == 0
        or BAIL_OUT('nginx does not start');
}

$t->wait_port($t->port('http'));
($master) = $t->read_file('nginx.pid') =~ /^(\d+)/;
ok($master, "nginx runs, master $master");

my $url = 'ws://127.0.0.1:' . $t->port('http') . '/ws/';

# a process that runs (one that exited may wait as a zombie for a parent
# that is not ours to reap it)

sub alive {
    my ($pid) = @_;
    my $stat = $t->read_abs("/proc/$pid/stat");
    return $stat =~ /^\d+ \(.*\) ([^Z])/s;
}

# the version nginx_ws_build_info names

sub build_info {
    my ($m) = $t->metrics('/status?format=prometheus');
    my ($v) = map { /^nginx_ws_build_info\{version="([^"]*)"/ } keys %$m;
    return $v // '';
}

sub session {
    my ($name) = @_;
    my $c = $t->ws_client("$url$name");
    ok($c->expect('open', 10), "session $name opens");
    return $c;
}

# the status once it is served by workers of the master given (the old
# master's workers stop accepting when it is told to quit)

sub status_of {
    my ($master) = @_;
    my %workers = map { $_ => 1 } $t->worker_pids_of($master);
    my $end = time + 10;

    while (time < $end) {
        my $s = $t->status;
        return $s if $s->{pid} && $workers{ $s->{pid} };
        sleep 0.1;
        %workers = map { $_ => 1 } $t->worker_pids_of($master);
    }

    return {};
}

my $s = status_of($master);
is($s->{version}, $old_version, "the status names $old_version");
unlike($t->error_log, qr/changed on disk/,
       'no notice at the first load');

# a reload, the file unchanged; then the new file, and a reload

sub reload {
    my @before = $t->worker_pids_of($master);
    kill 'HUP', $master;

    my $end = time + 10;
    sleep 0.1 while time < $end && grep { alive($_) } @before;
    return !grep { alive($_) } @before;
}

ok(reload(), 'a reload with the same file');
unlike($t->error_log, qr/changed on disk/, 'says nothing');

install_module($current);
my $reloaded = reload();

my $notice = "ws_heartbeat: \"$so\" changed on disk, but nginx goes on "
    . "running version $old_version of the module loaded from it: a reload "
    . 'cannot load the new file, a binary upgrade or a restart can';
ok($t->wait_log(qr/\[notice\] \d+#\d+: \Q$notice\E$/m, 10),
   "the reload logs a notice naming the running version, $old_version");

ok($reloaded, 'the workers from before the reload left');

$s = status_of($master);
is($s->{version}, $old_version,
   "after the reload the status still names $old_version");
is(build_info(), $old_version, 'so does nginx_ws_build_info');

my $c = session('before-upgrade');
my $opened = $c->expect('ping', 5);
ok($opened, 'and pings it');

$s = status_of($master);
is($s->{zone}{used_records}, 1, 'the old zone holds the session');
my ($limit) = @{ $s->{limits} // [] };
is($limit && $limit->{sessions}, 1, 'and its limit counts it');
my $old_seq = $s->{stream}{seq};
cmp_ok($old_seq, '>=', 1, "its delta sequence is at $old_seq");

# a binary upgrade: a new master on the new file next to the old one

my $pidfile = $t->prefix . '/nginx.pid';
kill 'USR2', $master;

my $end = time + 10;

while (time < $end) {
    ($new) = $t->read_file('nginx.pid') =~ /^(\d+)/;
    last if $new && $new != $master && $t->worker_pids_of($new);
    $new = undef;
    sleep 0.1;
}

ok($new, 'USR2 starts a new master, with workers');
ok(-f "$pidfile.oldbin", 'the old master moved its pid file aside');
kill 'QUIT', $master;
my $quit = time;

my $close = $c->expect('close', 2 + 1 + 3);
is($close && $close->{code}, 1001,
   'the session of the old master is closed with 1001');
is($close && $close->{reason}, 'server shutting down',
   'as a drain ("server shutting down")');
cmp_ok($close ? $close->{at} - $quit : 99, '<', 2 + 1 + 2,
       'within the drain window + 1 s (+ slack)');

$end = time + 10;
sleep 0.1 while time < $end && alive($master);
ok(!alive($master), 'the old master exits');

$s = status_of($new);
is($s->{version}, $new_version, "the new master runs $new_version");
is(build_info(), $new_version, 'nginx_ws_build_info names it');
is($s->{zone}{used_records}, 0,
   'its zone is its own: none of the old sessions');
is($s->{totals}{opened}, 0, 'its totals start at zero');
($limit) = @{ $s->{limits} // [] };
is($limit && $limit->{sessions}, 0, 'so does the limit count');
is($s->{stream}{seq}, 0, 'and the delta sequence');

my $c2 = session('after-upgrade');
ok($c2->expect('ping', 5), 'a new session gets pings');
$s = status_of($new);
is($s->{zone}{used_records}, 1, 'and a record in the new zone');
$c2->send('send hello');
ok($c2->expect('message', 5, text => 'hello'), 'data passes');
$c2->kill;

my @notices = $t->error_log =~ /changed on disk/g;
is(scalar @notices, 1,
   'the new master, whose file is the one it loaded, says nothing');

# a reload whose load_module names another file: the master maps that
# build next to the first while it reads the configuration, each calls
# its own functions (the module is linked with -Bsymbolic; without, the
# second's directives ran the first's code, and the master crashed), so
# the other file's version serves, with a zone of its own (the zone's tag,
# which a reload needs to reuse it, is the module, another one), and the
# first is unmapped

$master = $new;
my $c3 = session('before-other-file');
ok($c3->expect('ping', 5), 'and gets pings');
$s = status_of($new);
is($s->{zone}{used_records}, 1, 'the zone holds the session');

my $other = $t->prefix . '/other.so';
copy($prev, $other) or die "$other: $!";
edit_conf(qr/^load_module \S+;$/m, "load_module $other;");

ok(reload(), 'a reload with load_module naming another file');
ok(alive($new), 'the master lives on');
$s = status_of($new);
is($s->{version}, $old_version, "that file's version, $old_version, serves");
is($s->{zone}{used_records}, 0, 'its zone holds none of the sessions');
is($s->{stream}{seq}, 0, 'and its delta sequence starts at zero');
$close = $c3->expect('close', 2 + 1 + 3);
is($close && $close->{code}, 1001,
   'the session of the first build is drained with 1001');
unlike($t->read_abs("/proc/$new/maps"), qr/\Q$so\E/,
       'the first file is no longer mapped in the master');

kill 'QUIT', $new;
$end = time + 15;
sleep 0.1 while time < $end && alive($new);
ok(!alive($new), 'the new master exits on QUIT');
$master = undef;

$t->finish;
done_testing;
