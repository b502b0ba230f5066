#!/usr/bin/perl

# Liveness whatever is sent toward a peer: a matrix of the data toward the
# judged side (nothing, about 100 B/s, about 2.5 KB/s, 64 KB/s, as fast as
# the link goes) against a stopped peer (SIGSTOP: its kernel still takes
# data), a slow reader (reads for 10 ms every 600 ms) and a healthy peer,
# with the client judged and with the upstream judged, plus a row over TLS
# and a headless Chromium stopped as a whole.  A stopped peer is closed
# within interval + timeout + 1 s of its freeze, with 1001 to the live
# side; the others are kept, and every byte pushed reaches them.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use WsHb;

# a peer that ends its session closes its pipe: a command to it is dropped
$SIG{PIPE} = 'IGNORE';

my $t = WsHb->new->need('openssl', 'node', 'ws');
my $p = $t->prefix;

$t->certificate;

my @rates = (
    { name => 'nothing' },
    { name => '100 B/s', push => [25, 250] },
    { name => '2.5 KB/s', push => [625, 250] },
    { name => '64 KB/s', push => [16384, 250] },
    { name => 'link speed', flood => 1 },
    { name => '2.5 KB/s over TLS', push => [625, 250], tls => 1 },
);

my $stopped = join '', map {
    my $s = $rates[$_]{tls} ? 'https' : 'http';
    "        location /up$_/ {\n"
    . "            proxy_pass $s://127.0.0.1:%%PORT_up$_%%;\n"
    . "        }\n"
} 0 .. $#rates;

$t->write_conf(<<"EOF");
    server {
        listen 127.0.0.1:%%PORT_http%%;
        listen 127.0.0.1:%%PORT_https%% ssl;
        ssl_certificate %%PREFIX%%/cert.pem;
        ssl_certificate_key %%PREFIX%%/key.pem;

        ws_heartbeat on;
        ws_heartbeat_interval 1s;
        ws_heartbeat_timeout 1s;
        ws_heartbeat_upstream on;

        proxy_ssl_verify off;
        %%WS_PROXY%%

        location /app/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
        }

        location /tapp/ {
            proxy_pass https://127.0.0.1:%%PORT_tapp%%;
        }

$stopped
        location = /page {
            return 200 "<html><body>frozen</body></html>";
            default_type text/html;
        }
    }
EOF

# the upstreams that are never stopped: they push toward judged clients and
# are the slow and healthy judged upstreams

my $app = $t->ws_server($t->port('app'), '--mode', 'silent', '--quiet');
my $tapp = $t->ws_server($t->port('tapp'), '--mode', 'silent', '--quiet',
                         '--tls', "$p/cert.pem,$p/key.pem");
$t->run('http', 'https');

# interval + timeout + the documented slack of 1 s, measured from the
# freeze, which follows an answered ping; and a margin for a loaded machine

my $bound = 1 + 1 + 1;
my $limit = WsHb::patience($bound + 0.5);
my %took;

# WSHB_ROWS=3,4 runs only those rows (and no browser): for a closer look

for my $k (0 .. $#rates) {
    next if $ENV{WSHB_ROWS} && !grep { $_ == $k } split /,/, $ENV{WSHB_ROWS};
    cells($k, $rates[$k]);
}

browser() unless $ENV{WSHB_ROWS};

diag(sprintf '%-22s %s', $_, $took{$_}) for sort keys %took;

$t->finish;
done_testing;

# --- one row of the matrix ------------------------------------------------------

sub cells {
    my ($k, $rate) = @_;
    my $r = $rate->{name};
    my $base = $rate->{tls} ? 'wss://127.0.0.1:' . $t->port('https')
                            : 'ws://127.0.0.1:' . $t->port('http');
    my $srv = $rate->{tls} ? $tapp : $app;
    my $loc = $rate->{tls} ? 'tapp' : 'app';
    my $q = $rate->{flood} ? '?push=flood'
          : $rate->{push} ? '?push=' . join(',', @{ $rate->{push} })
          : '';
    my @tls = $rate->{tls} ? ('--insecure') : ();

    my $up = $t->ws_server($t->port("up$k"), '--mode', 'silent', '--quiet',
                           $rate->{tls} ? ('--tls', "$p/cert.pem,$p/key.pem")
                                        : ());
    my %c;

    # judged clients, the upstream pushing toward them
    for my $kind (qw(stopped slow healthy)) {
        $c{"client $kind"} = {
            judged => 'client', kind => $kind, srv => $srv,
            url => "/$loc/c-$kind-$k$q",
            proc => $t->ws_client("$base/$loc/c-$kind-$k$q", '--quiet',
                                  @tls),
        };
    }

    # judged upstreams, the client pushing toward them
    for my $kind (qw(stopped slow healthy)) {
        my $path = $kind eq 'stopped' ? "/up$k/u-$kind-$k"
                 : $kind eq 'slow' ? "/$loc/u-$kind-$k?slow=600,10"
                 : "/$loc/u-$kind-$k";
        $c{"upstream $kind"} = {
            judged => 'upstream', kind => $kind,
            srv => $kind eq 'stopped' ? $up : $srv, url => $path,
            proc => $t->ws_client("$base$path", '--quiet', @tls),
        };
    }

    for my $name (sort keys %c) {
        my $c = $c{$name};
        ok($c->{proc}->expect('open', 20), "$r, $name: connected");
        my $ev = event_of($c->{srv}, 'open', 10, url => $c->{url});
        $c->{id} = $ev && $ev->{id};
        ok($c->{id}, "$r, $name: the upstream has the session");
    }

    $c{'client slow'}{proc}->send('slow 600 10');

    for my $name (grep { /^upstream/ } keys %c) {
        my $proc = $c{$name}{proc};
        next unless $rate->{push} || $rate->{flood};
        $proc->send($rate->{flood} ? 'flood'
                                   : 'push ' . join(' ', @{ $rate->{push} }));
        ok($proc->expect('pushing', 10), "$r, $name: the client pushes");
    }

    # the peers to stop answered a ping first: they are known alive

    ok($c{'client stopped'}{proc}->expect('ping', 10),
       "$r: the client to stop was pinged");
    ok($up->expect('ping', 10, id => $c{'upstream stopped'}{id}),
       "$r: the upstream to stop was pinged");

    my $frozen = time;
    $c{'client stopped'}{proc}->stop;
    $up->stop;

    # until both stopped peers are closed, and for 6 s at least: a slow
    # reader is judged at several deadlines meanwhile

    my $until = $frozen + WsHb::patience(6);
    my $hard = $frozen + $limit + 10;
    my %closed;

    my @live = ($srv, map { $_->{proc} } grep {
        !($_->{kind} eq 'stopped' && $_->{judged} eq 'client')
    } values %c);

    while (time < $hard) {
        $_->drain(0.05) for @live;

        for my $name (keys %c) {
            $closed{$name} //= closed($c{$name}, 'close');
        }

        last if time >= $until && $closed{'client stopped'}
                && $closed{'upstream stopped'};
    }

    # the close frame to the live side is the judgment; the closing
    # handshake may then wait up to 1 s for that side's answer, which can
    # be queued behind its own data

    for my $judged (qw(client upstream)) {
        my $ev = closed($c{"$judged stopped"}, 'closeframe');
        my $end = $closed{"$judged stopped"};
        my $took = $ev ? sprintf('%.2f', $ev->{at} - $frozen) : 'never';
        $took{sprintf '%-8s %s', $judged, $r} = sprintf '%s (ended %s)',
            $took, $end ? sprintf('%.2f', $end->{at} - $frozen) : 'never';

        ok($ev, "$r: the stopped $judged was closed");
        is($ev && $ev->{code}, 1001, "$r: with 1001 to the live side");
        is($ev && $ev->{reason}, "$judged heartbeat timeout",
           "$r: and why");
        cmp_ok($took, '<=', $limit,
               "$r: the stopped $judged was closed $took s after its freeze");
        ok($end && $end->{at} - $ev->{at} <= WsHb::patience(1.5),
           "$r: its closing handshake ended within a second or so");
    }

    for my $name (map { ("client $_", "upstream $_") } qw(slow healthy)) {
        ok(!$closed{$name}, "$r: the $name peer was kept")
            or diag explain $closed{$name};
    }

    # every byte pushed reached the peers that were kept

    if ($rate->{push} || $rate->{flood}) {
        for my $kind (qw(slow healthy)) {
            my $c = $c{"client $kind"};
            $c->{proc}->send('send stop');
            my $pushed = $c->{srv}->expect('pushed', 10, id => $c->{id});
            my $got = $c->{proc}->expect('received', 60);
            ok($pushed && $pushed->{bytes} > 0,
               "$r, client $kind: the upstream pushed");
            is($got && $got->{total}, $pushed && $pushed->{bytes},
               "$r, client $kind: every byte reached it");

            $c = $c{"upstream $kind"};
            $c->{proc}->send('stoppush');
            $pushed = $c->{proc}->expect('pushed', 10);
            $c->{proc}->send('send report');
            $got = $c->{srv}->expect('received', 60, id => $c->{id});
            ok($pushed && $pushed->{bytes} > 0,
               "$r, upstream $kind: the client pushed");
            is($got && $got->{total}, $pushed && $pushed->{bytes},
               "$r, upstream $kind: every byte reached it");
        }
    }

    $_->{proc}->kill for values %c;
    $up->kill;
}

# an event of that name and fields, among those read already or to come

sub event_of {
    my ($proc, $name, $timeout, %match) = @_;

    for my $ev ($proc->seen($name)) {
        return $ev unless grep { ($ev->{$_} // '') ne $match{$_} } keys %match;
    }

    return $proc->expect($name, $timeout, %match);
}

# how a cell's session ended ('close') or its close frame came
# ('closeframe'), as its live side saw it: the upstream for a stopped
# client, the client for a stopped upstream, either for the others

sub closed {
    my ($c, $what) = @_;
    my ($up) = grep { $_->{id} == $c->{id} } $c->{srv}->seen($what);
    my ($cl) = $c->{proc}->seen($what);

    return $c->{kind} ne 'stopped' ? $up // $cl
         : $c->{judged} eq 'client' ? $up
         : $cl;
}

# --- a browser stopped as a whole -------------------------------------------------

sub browser {
    SKIP: {
        skip 'no /usr/bin/chromium', 4
            unless -x ($ENV{CHROMIUM} // '/usr/bin/chromium');

        my $port = $t->port('http');
        my $b = $t->spawn('node', "$WsHb::NODE_DIR/browser.js",
                          '--page', "http://127.0.0.1:$port/page");
        $b->expect('ready', 60) or BAIL_OUT('chromium did not start');

        $b->send("open 1 ws://127.0.0.1:$port/app/browser?push=625,250");
        ok($b->expect('open', 20), 'chromium: connected');
        my $ev = event_of($app, 'open', 10, url => '/app/browser?push=625,250');
        my $id = $ev && $ev->{id};

        # one ping cycle and a half: the browser answered a ping
        $app->drain(1.5);
        ok(!grep({ $_->{id} == $id } $app->seen('close')),
           'chromium: the session is alive before the freeze');

        my @tree = tree($b->pid);
        my $frozen = time;
        kill 'STOP', @tree;

        $ev = $app->expect('closeframe', $limit + 10, id => $id);
        my $took = $ev ? sprintf('%.2f', $ev->{at} - $frozen) : 'never';
        $took{'chromium 2.5 KB/s'} = $took;

        kill 'CONT', @tree;
        is($ev && $ev->{code}, 1001,
           'chromium: the upstream got 1001 once its tree was stopped');
        cmp_ok($took, '<=', $limit,
               "chromium: closed $took s after its freeze");
        $b->kill;
        kill 'KILL', @tree;
    }
}

# a process and all its descendants

sub tree {
    my ($root) = @_;
    my %kids;

    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my ($pid, $ppid) = (<$fh> // '') =~ /^(\d+) \(.*\) \S+ (\d+)/s
            or next;
        push @{ $kids{$ppid} }, $pid;
    }

    my @all = ($root);
    for (my $i = 0; $i < @all; $i++) {
        push @all, @{ $kids{ $all[$i] } // [] };
    }

    return @all;
}
