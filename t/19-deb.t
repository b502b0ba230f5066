#!/usr/bin/perl

# The Debian package against the system nginx: start Debian's nginx, install
# the previous version's package (make -f Makefile.dev prev: this tree's
# module reporting another version), configure a WebSocket location with
# heartbeats and a status location, reload, then upgrade and downgrade
# between the two packages with sessions open.  A reload cannot bring a new
# module into service, so the postinst does a binary upgrade of the running
# nginx through invoke-rc.d where policy-rc.d allows it, and says in one
# line what to run where it does not.  Each way, the status endpoint must
# name the version the package installed once the upgrade is done, and the
# session opened before it must be closed by the old workers' drain (1001
# "server shutting down"), not cut.  The policy-rc.d the postinst sees is
# one of the test's own, in a mount namespace of dpkg's own (an overlay on
# /usr/sbin): the host's is neither read nor changed.  Then purge the
# package and reload cleanly.  Needs root and an idle system nginx;
# WSHB_DEB names the package (make deb), WSHB_PREV_DEB the previous one.
# It changes the host, so it runs only when asked: WSHB_SYSTEM_TESTS=1
# (which CI sets).

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Path qw(make_path);
use JSON::PP ();
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;

my $deb = $ENV{WSHB_DEB} // '';
my $name = 'libnginx-mod-http-ws-heartbeat';
my ($prev_deb) = $ENV{WSHB_PREV_DEB}
    // glob(dirname($deb) . "/prev/${name}_*~prev-1_*.deb");
my $conf = '/etc/nginx/conf.d/zz-wshb-deb-test.conf';
my $link = '/etc/nginx/modules-enabled/50-mod-http-ws-heartbeat.conf';
my $so = '/usr/lib/nginx/modules/ngx_http_ws_heartbeat_module.so';
my $pidfile = '/run/nginx.pid';

plan skip_all => 'changes the system nginx: set WSHB_SYSTEM_TESTS=1'
    unless $ENV{WSHB_SYSTEM_TESTS};
plan skip_all => 'needs root' if $>;
plan skip_all => 'the suite runs against another nginx than the system one'
    if ($ENV{NGINX_BIN} // '/usr/sbin/nginx') ne '/usr/sbin/nginx';
plan skip_all => 'no package: make -f Makefile.dev deb' unless -f $deb;
plan skip_all => "no previous version's package: make -f Makefile.dev prev"
    unless $prev_deb && -f $prev_deb;
plan skip_all => 'no system nginx' unless -x '/usr/sbin/nginx'
                                       && -d '/etc/nginx/conf.d';
plan skip_all => 'the system nginx is running'
    if -f $pidfile && kill 0, (`cat $pidfile` =~ /(\d+)/)[0];
plan skip_all => "$name is installed already"
    if `dpkg-query -W -f='\${Status}' $name 2>/dev/null` =~ /installed/;

my $t = WsHb->new;
$t->{no_log_check} = 1;      # not our prefix: the system nginx logs elsewhere

my $app = $t->ws_server($t->port('app'));
my $port = $t->port('http');
my ($app_port) = $t->port('app');

sub sh {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

sub write_site {
    my ($heartbeat) = @_;
    open my $fh, '>', $conf or die "$conf: $!";
    print $fh <<"EOF";
# written by t/19-deb.t, removed at its end
$heartbeat->[0]
server {
    listen 127.0.0.1:$port;
    location / {
        proxy_pass http://127.0.0.1:$app_port;
        proxy_http_version 1.1;
        proxy_set_header Upgrade \$http_upgrade;
        proxy_set_header Connection "upgrade";
$heartbeat->[1]
    }
$heartbeat->[2]
}
EOF
    close $fh;
}

# a command (dpkg) that sees a policy-rc.d that answers $rc (0: allowed, 101:
# denied), in a mount namespace of its own with an overlay on /usr/sbin

sub with_policy {
    my ($rc, $args) = @_;
    my $dir = $t->prefix . "/policy-$rc-" . int(time * 1000);

    make_path("$dir/upper", "$dir/work");
    open my $fh, '>', "$dir/policy-rc.d" or die $!;
    print $fh "#!/bin/sh\nexit $rc\n";
    close $fh;
    chmod 0755, "$dir/policy-rc.d";

    return sh("unshare --mount --propagation private sh -c '"
              . 'mount -t overlay overlay -o lowerdir=/usr/sbin,'
              . "upperdir=$dir/upper,workdir=$dir/work /usr/sbin"
              . " && cp $dir/policy-rc.d /usr/sbin/policy-rc.d"
              . " && exec $args'");
}

plan skip_all => 'no mount namespace with an overlay on /usr/sbin here'
    unless (with_policy(0, '/usr/sbin/policy-rc.d'))[0] == 0
        && (with_policy(101, '/usr/sbin/policy-rc.d'))[0] == 101;

my $started;

sub master { (`cat $pidfile 2>/dev/null` =~ /(\d+)/)[0] }

# the system nginx's worker processes, as the master's children

sub workers {
    my $master = master() or return ();
    return map { /^\s*(\d+)\s+(\d+)/ && $2 == $master ? $1 : () }
        `ps -o pid=,ppid= -e`;
}

# a reload has taken effect once none of the workers from before it is
# left (idle old workers exit at once) and new ones run

sub reloaded {
    my (@old) = @_;
    my %old = map { $_ => 1 } @old;
    my $end = time + 10;

    while (time < $end) {
        my @now = workers();
        return 1 if @now && !grep { $old{$_} } @now;
        sleep 0.05;
    }

    return 0;
}

# the version the status endpoint names once it names the one wanted
# (during a binary upgrade both masters' workers answer for a while), or
# the last one it named after 10 s

sub status_version {
    my ($want) = @_;
    my ($v, $end) = ('', time + 10);

    while (time < $end) {
        my $r = $t->get($port, '/wshb-status');
        my $s = eval { JSON::PP::decode_json($r->{body}) } // {};
        $v = $s->{version} // '';
        return $v if $v eq $want;
        sleep 0.2;
    }

    return $v;
}

END {
    my $status = $?;
    unlink $conf;

    if ($started) {
        system("kill -QUIT \$(cat $pidfile.oldbin) >/dev/null 2>&1")
            if -f "$pidfile.oldbin";
        system("nginx -s quit >/dev/null 2>&1");
    }

    system("dpkg --purge $name >/dev/null 2>&1")
        if `dpkg-query -W -f='\${Status}' $name 2>/dev/null`
           =~ /installed|config-files/;
    $? = $status;
}

# the system nginx runs, without the module

# by its full name, as its init script and systemd unit start it: a binary
# upgrade executes the name the master was started by

write_site(['', '', '']);
my ($rc, $out) = sh('/usr/sbin/nginx');

# a machine whose own nginx setup cannot start (port 80 taken, no IPv6
# for the default site) says nothing about the package
if ($rc) {
    unlink $conf;
    plan skip_all => "the system nginx does not start here: $out";
}

$started = 1;
pass('the system nginx starts, without the module');

my $version = `dpkg-deb -f $deb Version`;
my $prev_version = `dpkg-deb -f $prev_deb Version`;
chomp($version, $prev_version);
(my $module_version = $version) =~ s/-[^-]+$//;
(my $prev_module_version = $prev_version) =~ s/-[^-]+$//;
ok(system("dpkg --compare-versions $prev_version lt $version") == 0,
   "the previous package, $prev_version, is older than $version");

# a first install: enabled, and nginx reloaded through its trigger

($rc, $out) = with_policy(101, "dpkg -i $prev_deb");
is($rc, 0, "$prev_version installs") or diag $out;
ok(-l $link, 'and enables itself');
unlike($out, qr/^$name: /m, 'a first install has nothing to say')
    or diag $out;

write_site(["ws_heartbeat_zone wshb_deb_test:1m;\nws_heartbeat_drain 2s;",
            "        ws_heartbeat on;\n        ws_heartbeat_interval 1s;",
            "    location = /wshb-status {\n"
            . "        ws_heartbeat_status;\n    }"]);
($rc, $out) = sh('nginx -t');
is($rc, 0, 'nginx -t accepts the ws_heartbeat directives') or diag $out;
my @old = workers();
($rc, $out) = sh('nginx -s reload');
is($rc, 0, 'reload');
ok(reloaded(@old), 'the workers from before the reload are gone');
is(status_version($prev_module_version), $prev_module_version,
   "the status names $prev_module_version");

sub session {
    my ($tag) = @_;
    my $c;
    my $end = time + 10;

    while (time < $end) {
        $c = $t->ws_client("ws://127.0.0.1:$port/deb/$tag");
        last if $c->expect('open', 3);
        $c->kill;
        $c = undef;
        sleep 0.5;
    }

    ok($c, "a WebSocket session through the system nginx ($tag)");
    my $ping = $c ? $c->expect('ping', 5) : undef;
    like($ping ? $ping->{hex} : '', qr/^57534842/, "and nginx's pings arrive");
    return $c;
}

sub echoes {
    my ($c, $what) = @_;
    $c->send("send $what") if $c;
    return $c && $c->expect('message', 5, text => $what);
}

# the session opened before an upgrade: closed by the drain of the old
# master's workers (ws_heartbeat_drain 2s), with 1001, not cut (1006)

sub drained {
    my ($c, $what) = @_;
    my $close = $c ? $c->expect('close', 2 + 1 + 5) : undef;
    is($close && $close->{code}, 1001,
       "$what: the session from before it is closed with 1001");
    is($close && $close->{reason}, 'server shutting down',
       'by the old workers\' drain');
    $c->kill if $c;
}

# an upgrade where policy-rc.d denies it: one line says what to run, and
# nginx goes on running the module it has

my $c = session('before-denied');
my $master = master();
($rc, $out) = with_policy(101, "dpkg -i $deb");
is($rc, 0, "the package upgrades to $version") or diag $out;
is(`dpkg-query -W -f='\${Version}' $name`, $version, 'dpkg says so');
my @lines = grep { /^$name: / } split /\n/, $out;
is(scalar @lines, 1, 'the postinst says one thing') or diag $out;
my $says = 'nginx still runs the module it loaded before this upgrade, '
    . 'which a reload cannot replace: run "/etc/init.d/nginx upgrade"';
like($lines[0] // '', qr/\Q$says\E/,
     'that a binary upgrade is needed, and why');
is(master(), $master, 'nginx was left alone');
is(status_version($module_version), $prev_module_version,
   "and still serves $prev_module_version");
ok(echoes($c, 'still here'), 'the open session goes on');

($rc, $out) = sh('/etc/init.d/nginx upgrade');
is($rc, 0, 'what it says to run: /etc/init.d/nginx upgrade') or diag $out;
isnt(master(), $master, 'a new master runs');
is(status_version($module_version), $module_version,
   "and serves $module_version");
drained($c, 'the upgrade by hand');

# where policy-rc.d allows it, the postinst upgrades nginx itself: a
# downgrade and an upgrade again

for my $to ([$prev_deb, $prev_version, $prev_module_version],
            [$deb, $version, $module_version])
{
    my ($file, $pkg, $mod) = @$to;

    $c = session("before-$pkg");
    $master = master();
    ($rc, $out) = with_policy(0, "dpkg -i $file");
    is($rc, 0, "$pkg installs over the other, policy-rc.d allowing")
        or diag $out;
    like($out, qr/^$name: nginx was upgraded in place/m,
         'the postinst says it upgraded nginx') or diag $out;
    isnt(master(), $master, 'a new master runs');
    is(status_version($mod), $mod, "the status names $mod");
    drained($c, "the upgrade to $pkg");

    my $end = time + 5;
    sleep 0.1 while time < $end && -e "$pidfile.oldbin";
    ok(!-e "$pidfile.oldbin", 'the old master exits, drained');
}

$c = session('after');
ok(echoes($c, 'hello'), 'data passes');
$c->kill if $c;

($rc, $out) = sh("dpkg-deb -f $deb Depends");
chomp $out;
like($out, qr/nginx-abi-[\d.]+-\d+/, "it depends on the nginx ABI: $out");
my ($abi) = `dpkg-query -W -f='\${Provides}' nginx` =~ /(nginx-abi-[^ ,]+)/;
like($out, qr/\Q$abi\E/, 'the one the installed nginx provides');
ok(-f $so, "the module is in $so");
is(readlink($link), '/usr/share/nginx/modules-available/'
                    . 'mod-http-ws-heartbeat.conf',
   'and is enabled in modules-enabled');

# purge it: the site first, then the package, then reload

unlink $conf;
($rc, $out) = sh("dpkg --purge $name");
is($rc, 0, 'the package purges') or diag $out;
ok(!-e $so, 'the module is gone');
ok(!-e $link && !-l $link, 'and no longer enabled');
ok(!-e "/usr/share/doc/$name", 'its documentation and rules are gone');
unlike(`dpkg-query -W -f='\${Status}' $name 2>&1`,
       qr/(?<!not-)installed|config-files/,
       'and dpkg keeps nothing of it');
($rc, $out) = sh('nginx -t && nginx -s reload');
is($rc, 0, 'nginx reloads without it') or diag $out;

done_testing;
