#!/usr/bin/perl

# The Debian package against the system nginx: start Debian's nginx, install
# a previous version of the .deb and upgrade it to this one (it enables
# itself in /etc/nginx/modules-enabled), configure a WebSocket location
# with heartbeats, reload, proxy a real `ws` session and see nginx's pings,
# then purge the package and reload cleanly.  Needs
# root and an idle system nginx; WSHB_DEB names the package (make deb).
# It changes the host, so it runs only when asked: WSHB_SYSTEM_TESTS=1
# (which CI sets).

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;

my $deb = $ENV{WSHB_DEB} // '';
my $name = 'libnginx-mod-http-ws-heartbeat';
my $conf = '/etc/nginx/conf.d/zz-wshb-deb-test.conf';
my $link = '/etc/nginx/modules-enabled/50-mod-http-ws-heartbeat.conf';
my $so = '/usr/lib/nginx/modules/ngx_http_ws_heartbeat_module.so';

plan skip_all => 'changes the system nginx: set WSHB_SYSTEM_TESTS=1'
    unless $ENV{WSHB_SYSTEM_TESTS};
plan skip_all => 'needs root' if $>;
plan skip_all => 'the suite runs against another nginx than the system one'
    if ($ENV{NGINX_BIN} // '/usr/sbin/nginx') ne '/usr/sbin/nginx';
plan skip_all => 'no package: make -f Makefile.dev deb' unless -f $deb;
plan skip_all => 'no system nginx' unless -x '/usr/sbin/nginx'
                                       && -d '/etc/nginx/conf.d';
plan skip_all => 'the system nginx is running'
    if -f '/run/nginx.pid' && kill 0, (`cat /run/nginx.pid` =~ /(\d+)/)[0];
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
server {
    listen 127.0.0.1:$port;
    location / {
        proxy_pass http://127.0.0.1:$app_port;
        proxy_http_version 1.1;
        proxy_set_header Upgrade \$http_upgrade;
        proxy_set_header Connection "upgrade";
$heartbeat
    }
}
EOF
    close $fh;
}

my $started;

# the system nginx's worker processes, as the master's children

sub workers {
    my ($master) = `cat /run/nginx.pid 2>/dev/null` =~ /(\d+)/;
    return () unless $master;
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

END {
    my $status = $?;
    unlink $conf;
    system("nginx -s quit >/dev/null 2>&1") if $started;
    system("dpkg --purge $name >/dev/null 2>&1")
        if `dpkg-query -W -f='\${Status}' $name 2>/dev/null`
           =~ /installed|config-files/;
    $? = $status;
}

# the system nginx runs, without the module

write_site('');
my ($rc, $out) = sh('nginx');

# a machine whose own nginx setup cannot start (port 80 taken, no IPv6
# for the default site) says nothing about the package
if ($rc) {
    unlink $conf;
    plan skip_all => "the system nginx does not start here: $out";
}

$started = 1;
pass('the system nginx starts, without the module');

# a previous version first: this package with a lower version

my $prev = $t->prefix . '/prev';
my $prev_deb = $t->prefix . '/prev.deb';
sh("dpkg-deb -R $deb $prev");
sh("sed -i 's/^Version: .*/Version: 0.0.1-1/' $prev/DEBIAN/control");
($rc, $out) = sh("dpkg-deb --root-owner-group --build $prev $prev_deb");
is($rc, 0, 'a previous version, 0.0.1-1') or diag $out;

($rc, $out) = sh("dpkg -i $prev_deb");
is($rc, 0, 'installs') or diag $out;
ok(-l $link, 'and enables itself');

my $version = `dpkg-deb -f $deb Version`;
chomp $version;
($rc, $out) = sh("dpkg -i $deb");
is($rc, 0, "the package upgrades it to $version") or diag $out;
is(`dpkg-query -W -f='\${Version}' $name`, $version, 'dpkg says so');
ok(-f $so, "the module is in $so");
is(readlink($link), '/usr/share/nginx/modules-available/'
                    . 'mod-http-ws-heartbeat.conf',
   'and is enabled in modules-enabled');

($rc, $out) = sh("dpkg-deb -f $deb Depends");
chomp $out;
like($out, qr/nginx-abi-[\d.]+-\d+/, "it depends on the nginx ABI: $out");
my ($abi) = `dpkg-query -W -f='\${Provides}' nginx` =~ /(nginx-abi-[^ ,]+)/;
like($out, qr/\Q$abi\E/, 'the one the installed nginx provides');

# heartbeats on, reload

write_site("        ws_heartbeat on;\n        ws_heartbeat_interval 1s;\n");
($rc, $out) = sh('nginx -t');
is($rc, 0, 'nginx -t accepts the ws_heartbeat directives') or diag $out;
my @old = workers();
($rc, $out) = sh('nginx -s reload');
is($rc, 0, 'reload');
ok(reloaded(@old), 'the workers from before the reload are gone');

my $c;
my $end = time + 10;
while (time < $end) {
    $c = $t->ws_client("ws://127.0.0.1:$port/deb");
    last if $c->expect('open', 3);
    $c->kill;
    $c = undef;
    sleep 0.5;
}

ok($c, 'a WebSocket session through the system nginx');
my $ping = $c ? $c->expect('ping', 5) : undef;
like($ping ? $ping->{hex} : '', qr/^57534842/, "and nginx's pings arrive");
$c->send('send hello') if $c;
ok($c && $c->expect('message', 5, text => 'hello'), 'data passes');
$c->kill if $c;

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
