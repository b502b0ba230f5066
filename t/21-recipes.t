#!/usr/bin/perl

# The configurations of docs/recipes.md, read from that file and run
# against real peers.  Only listen addresses, upstream ports and
# certificate paths are swapped for test ones, and times shortened
# (heartbeat interval and timeout 1 s, proxy_read_timeout 60s -> 3 s).

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;
use WsHbFrames qw(connect_ws);

open my $fh, '<', 'docs/recipes.md' or die "docs/recipes.md: $!";
my $doc = do { local $/; <$fh> };
close $fh;

my %recipe;
$recipe{$1} = $2 while $doc =~ /```nginx\n# recipe: (\S+)\n(.*?)```/sg;

is_deeply([sort keys %recipe],
          [qw(chat-tls dashboard expiry migrate per-user revoked
              terminal)],
          'seven recipes in docs/recipes.md');

sub adapt {
    my ($conf) = @_;
    $conf =~ s/listen 80;/listen 127.0.0.1:%%PORT_http%%;/g;
    $conf =~ s/listen 443 ssl;/listen 127.0.0.1:%%PORT_https%% ssl;/g;
    $conf =~ s/listen 8081;/listen 127.0.0.1:%%PORT_admin%%;/g;
    $conf =~ s/127\.0\.0\.1:3001/127.0.0.1:%%PORT_app%%/g;
    $conf =~ s/127\.0\.0\.1:3002/127.0.0.1:%%PORT_auth%%/g;
    $conf =~ s{/etc/nginx/tls/chat\.crt}{%%PREFIX%%/cert.pem}g;
    $conf =~ s{/etc/nginx/tls/chat\.key}{%%PREFIX%%/key.pem}g;
    $conf =~ s/(ws_heartbeat_(?:interval|timeout)) \d+[smh];/$1 1s;/g;
    $conf =~ s/proxy_read_timeout 60s;/proxy_read_timeout 3s;/g;
    return $conf;
}

# an auth server on the port named auth: $answer gets the request head and
# returns the whole response; its pid

sub auth_server {
    my ($t, $answer) = @_;
    my $auth = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                     LocalPort => $t->port('auth'),
                                     Listen => 16, ReuseAddr => 1)
        or die "auth server: $!";
    my $pid = fork // die "fork: $!";
    return $pid if $pid;

    while (my $s = $auth->accept) {
        my $head = '';
        while (defined(my $line = <$s>)) {
            last if $line eq "\r\n";
            $head .= $line;
        }
        print $s $answer->($head);
        close $s;
    }
    exit 0;
}

sub start {
    my ($name, @app_args) = @_;
    my $t = WsHb->new;
    $t->write_conf(adapt($recipe{$name}));
    my $app = $t->ws_server($t->port('app'), @app_args);
    return ($t, $app);
}

# --- web terminal: eight zombies, the ninth user ----------------------------

{
    my ($t, $app) = start('terminal');
    $t->run('http');
    my $port = $t->port('http');

    # eight sessions whose peers went silent: they never read nor answer

    my @zombies = map { (connect_ws($port, path => "/terminal/$_"))[0] }
                  1 .. 8;
    my $silent = time;

    my $r = $t->get($port, '/terminal/9', 'Upgrade: websocket',
                    'Connection: Upgrade', 'Sec-WebSocket-Version: 13',
                    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==');
    is($r->{status}, 503, 'terminal: the ninth user gets 503 at once');
    like($r->{headers}{'retry-after'} // '', qr/^\d+$/, 'with Retry-After');

    my ($c, $in_at);
    my $end = time + 10;

    while (time < $end) {
        $c = $t->ws_client("ws://127.0.0.1:$port/terminal/new");
        my $ev = $c->event(5);
        if ($ev && $ev->{event} eq 'open') {
            $in_at = time;
            last;
        }
        $c->kill;
        sleep 0.3;
    }

    ok($in_at, 'terminal: a new user gets in once the zombies are found');
    cmp_ok(($in_at // 99) - $silent, '<', 5,
           'within about interval + timeout');

    close $_ for @zombies;
    $t->finish;
}

# --- chat behind TLS ---------------------------------------------------------

{
    my $t = WsHb->new;
    my $p = $t->prefix;
    $t->certificate;

    $t->write_conf(adapt($recipe{'chat-tls'}));
    my $app = $t->ws_server($t->port('app'));
    $t->run('https');

    my $c = $t->ws_client('wss://localhost:' . $t->port('https') . '/chat/r1',
                          '--ca', "$p/cert.pem");
    ok($c->expect('open', 10), 'chat: wss session through nginx');
    my $ping = $c->expect('ping', 5);
    like($ping ? $ping->{hex} : '', qr/^57534842/, "chat: nginx's pings");
    $c->send('send hi');
    ok($c->expect('message', 5, text => 'hi'), 'chat: messages pass');

    # a client that stops is a zombie: the live side, the chat server,
    # gets the close frame

    $c->stop;
    my $ev = $app->expect('close', 6);
    is($ev && $ev->{code}, 1001, 'chat: a stopped client is closed, and '
                                 . 'the server gets 1001');
    $c->cont;

    $t->finish;
}

# --- dashboard fed by the delta stream ----------------------------------------

{
    my ($t, $app) = start('dashboard');
    $t->run('http', 'admin');
    my $admin = $t->port('admin');

    my $r = $t->get($admin, '/ws-status?format=html');
    is($r->{status}, 200, 'dashboard: the page is served');

    my $sub = $t->spawn('node', 't/node/subscriber.js', '--sse', '--url',
                        "http://127.0.0.1:$admin/ws-status",
                        '--header', 'Authorization: Bearer change-me');
    my $m = $sub->expect('message', 10);
    is($m && $m->{data}{type}, 'snapshot', 'dashboard: SSE snapshot');

    my ($s) = connect_ws($t->port('http'), path => '/app/x');
    $m = $sub->expect('message', 5);
    is($m && $m->{data}{type}, 'created', 'dashboard: a created delta');
    is($m && $m->{data}{after}{uri}, '/app/x', 'for the new session');

    close $s;
    $t->finish;
}

# --- migrating from proxy_read_timeout 86400s -------------------------------

{
    my ($t, $app) = start('migrate');
    $t->run('http');
    my $port = $t->port('http');

    my $quiet = $t->ws_client("ws://127.0.0.1:$port/socket/quiet");
    ok($quiet->expect('open', 10), 'migrate: a quiet, healthy session');
    my ($dead) = connect_ws($port, path => '/socket/dead');
    my $t0 = time;

    my ($closed, $buf);
    while (time < $t0 + 8) {
        IO::Select->new($dead)->can_read(0.2) or next;
        my $n = sysread($dead, $buf, 65536);
        if (!$n) { $closed = time; last }
    }

    # the quiet one stays past 2x proxy_read_timeout (3 s here)

    sleep(($t0 + 7) - time) if time < $t0 + 7;
    $quiet->send('send still here');
    ok($quiet->expect('message', 5, text => 'still here'),
       'migrate: the quiet session outlives proxy_read_timeout');
    ok($closed, 'migrate: the silent peer is closed');
    cmp_ok(($closed // 99) - $t0, '<', 4, 'within interval + timeout');

    $t->finish;
}

# --- revoked user: auth_request sets the tag, DELETE closes by it -----------

{
    my ($t, $app) = start('revoked');

    # the auth server: a token in the cookie is a user, anything else 401

    my $pid = auth_server($t, sub {
        my ($head) = @_;
        my ($user) = $head =~ /^Cookie: .*token=(alice|bob)-secret/mi;
        return $user ? "HTTP/1.0 200 OK\r\nX-User: $user\r\n\r\n"
                     : "HTTP/1.0 401 Unauthorized\r\n\r\n";
    });

    $t->run('http', 'admin');
    my $base = 'ws://127.0.0.1:' . $t->port('http');
    my %c;

    for (['a1', 'alice'], ['a2', 'alice'], ['b1', 'bob']) {
        $c{$_->[0]} = $t->ws_client("$base/chat/$_->[0]",
                                    '--header', "Cookie: token=$_->[1]-secret");
        ok($c{$_->[0]}->expect('open', 10), "revoked: $_->[0] passes auth");
    }

    my $r = $t->get($t->port('http'), '/chat/x', 'Cookie: token=eve-secret');
    is($r->{status}, 401, 'revoked: a bad token does not');

    my $list = sub {
        my $d = eval { decode_json($t->get($t->port('admin'), @_)->{body}) };
        return join ',', sort map { $_->{uri} } @{$d->{sessions} // []};
    };
    is($list->('/ws-status?tag.user=alice',
               'Authorization: Bearer read-only-token'),
       '/chat/a1,/chat/a2', 'revoked: her two sessions, by the tag');

    my $del = sub {
        my ($token) = @_;
        return $t->http($t->port('admin'), "DELETE /ws-status?tag.user=alice"
            . "&code=4001&reason=token%20revoked HTTP/1.0\r\n"
            . "Host: x\r\nAuthorization: Bearer $token\r\n\r\n");
    };
    is($del->('read-only-token')->{status}, 403,
       'revoked: the read-only token may not close');
    $r = $del->('change-me');
    is((eval { decode_json($r->{body}) } // {})->{closed}, 2,
       'revoked: the admin token closes two');

    for (qw(a1 a2)) {
        my $ev = $c{$_}->expect('close', 5);
        is($ev && "$ev->{code} $ev->{reason}", '4001 token revoked',
           "revoked: $_ is told why");
    }
    my @app = grep { $_->{code} == 4001 } map { $app->expect('close', 5) // () }
              1 .. 2;
    is(scalar @app, 2, 'revoked: the app is told for each');

    $c{b1}->send('send still here');
    ok($c{b1}->expect('message', 5, text => 'still here'),
       'revoked: bob is untouched');
    like($t->error_log, qr/token "oncall": DELETE "tag\.user=alice&code=4001/,
         'revoked: the action is logged');

    kill 'TERM', $pid;
    waitpid $pid, 0;
    $t->finish;
}

# --- expiry: the auth server says until when ------------------------------

{
    my ($t, $app) = start('expiry');
    my $pid = auth_server($t, sub {
        my ($head) = @_;
        my ($secs) = $head =~ /^Cookie: .*good-for=(\d+)/mi;
        return defined $secs
            ? "HTTP/1.0 200 OK\r\nX-Token-Expires: "
              . (int(time) + $secs) . "\r\n\r\n"
            : "HTTP/1.0 401 Unauthorized\r\n\r\n";
    });

    $t->run('http');
    my $base = 'ws://127.0.0.1:' . $t->port('http');

    my $short = $t->ws_client("$base/live/short", '--header',
                              'Cookie: good-for=2');
    ok($short->expect('open', 10), 'expiry: a token good for 2 s');
    my $open = $app->expect('open', 5, url => '/live/short');
    my $long = $t->ws_client("$base/live/long", '--header',
                             'Cookie: good-for=3600');
    ok($long->expect('open', 10), 'expiry: one good for an hour');

    my $t0 = time;
    my $ev = $short->expect('close', 6);
    is($ev && "$ev->{code} $ev->{reason}", '1008 expired',
       'expiry: the short one is closed, 1008 expired');
    cmp_ok(time - $t0, '<', 4, 'expiry: at its time');
    $ev = $app->expect('close', 5, id => $open ? $open->{id} : 0);
    is($ev && $ev->{code}, 1008, 'expiry: the app is told too');

    $long->send('send still here');
    ok($long->expect('message', 5, text => 'still here'),
       'expiry: the long one lives on');

    kill 'TERM', $pid;
    waitpid $pid, 0;
    $t->finish;
}

# --- per user: the sixth tab wins ------------------------------------------

{
    my ($t, $app) = start('per-user');
    my $pid = auth_server($t, sub {
        my ($head) = @_;
        my ($user) = $head =~ /^Cookie: .*user=(alice|bob)/mi;
        return $user ? "HTTP/1.0 200 OK\r\nX-User: $user\r\n\r\n"
                     : "HTTP/1.0 401 Unauthorized\r\n\r\n";
    });

    $t->run('http');
    my $base = 'ws://127.0.0.1:' . $t->port('http');
    my (%c, %id);

    for (map({ ["a$_", 'alice'] } 1 .. 6), ['b1', 'bob']) {
        my ($name, $user) = @$_;
        $c{$name} = $t->ws_client("$base/app/$name", '--header',
                                  "Cookie: user=$user");
        ok($c{$name}->expect('open', 10), "per-user: $name opens");
        my $ev = $app->expect('open', 5, url => "/app/$name");
        $id{$name} = $ev ? $ev->{id} : -1;
    }

    my $ev = $c{a1}->expect('close', 5);
    is($ev && "$ev->{code} $ev->{reason}", '1008 replaced',
       'per-user: her first tab is replaced');
    # it may have come while the app was opening the next ones
    ($ev) = grep { $_->{id} == $id{a1} } $app->seen('close');
    $ev //= $app->expect('close', 5, id => $id{a1});
    is($ev && "$ev->{code} $ev->{reason}", '1008 replaced',
       'per-user: and the app is told');

    for (qw(a2 a3 a4 a5 a6 b1)) {
        $c{$_}->send('send still here');
        ok($c{$_}->expect('message', 5, text => 'still here'),
           "per-user: $_ stays open");
    }

    kill 'TERM', $pid;
    waitpid $pid, 0;
    $t->finish;
}

done_testing;
