#!/usr/bin/perl

# The live dashboard (?format=html) in real headless Chromium: it opens
# the delta stream with a bearer subprotocol, shows sessions as they open,
# shows zombies go and why, sorts, and reconnects after a reload.  A
# screenshot is kept in build/artifacts/ (WSHB_ARTIFACTS).

use strict;
use warnings;

use File::Path qw(make_path);
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;

plan skip_all => 'no /usr/bin/chromium' unless -x ($ENV{CHROMIUM}
                                                   // '/usr/bin/chromium');

my $t = WsHb->new->need('node', 'playwright-core');

$t->write_conf(<<'EOF2', workers => 2);
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%% reuseport;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 1s;
            ws_heartbeat_tag user $arg_user;
        }

        location = /status {
            ws_heartbeat_status;
            ws_heartbeat_status_token s3cret name=dashboard admin;
        }
    }
EOF2

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');

my $b = $t->spawn('node', 't/node/dashboard.js', '--url',
                  "http://127.0.0.1:$port/status?format=html#token=s3cret");
my $ev = $b->expect('loaded', 60);
is($ev && $ev->{status}, 200, 'the page loads in Chromium');

sub ask {
    my ($cmd, $want) = @_;
    $b->send($cmd);
    my $end = time + 15;
    while (time < $end) {
        my $e = $b->event($end - time) or last;
        return $e if $e->{event} eq $want;
        return $e if $e->{event} eq 'failed';
        diag "page: $e->{text}" if $e->{event} =~ /console|pageerror/;
    }
    return {};
}

is(ask('wait #conn live', 'waited')->{ok}, JSON::PP::true,
   'it connects to the delta stream with the bearer subprotocol');

my @clients = map { $t->ws_client("ws://127.0.0.1:$port/ws/c$_?user=u$_") }
              1 .. 4;
$_->expect('open', 10) for @clients;

is(ask('wait #total 4', 'waited')->{ok}, JSON::PP::true,
   'four sessions show up');

my $doc = decode_json($t->get($port, '/status', 'Authorization: Bearer s3cret')
                        ->{body});
my @ids = sort map { $_->{id} } @{ $doc->{sessions} };
my $rows = ask("rows #sessions>tbody>tr", "rows")->{rows} // [];
is_deeply([sort map { $_->{id} } @$rows], \@ids,
          'the table lists the sessions GET lists');

# sort by client address, then reverse

ask('click th[data-key=client]', 'clicked');
ask('wait #total 4', 'waited');
sleep 0.5;
$rows = ask("rows #sessions>tbody>tr", "rows")->{rows} // [];
my %client = map { $_->{id} => $_->{client_addr} } @{ $doc->{sessions} };
is_deeply([map { $client{ $_->{id} } } @$rows],
          [sort values %client], 'sorts by client');

# the tags column, and the filter box over any shown field

$rows = ask("rows #sessions>tbody>tr", "rows")->{rows} // [];
is_deeply([sort map { $_->{tags} } @$rows], [map { "user=u$_" } 1 .. 4],
          'each row shows its tags');
ask('fill #filter user=u3', 'filled');
is(ask('wait #shown 1', 'waited')->{ok}, JSON::PP::true,
   'the filter box shows the matching row only');
ask('fill #filter ', 'filled');
is(ask('wait #shown 4', 'waited')->{ok}, JSON::PP::true, 'and all again');

# opened with an admin token, the page closes a session with its button

my %id_of = map { ($_->{uri} =~ /user=(u\d)/)[0] => $_->{id} }
                @{ $doc->{sessions} };
ask("click tr[data-id=\"$id_of{u4}\"]>td>button", 'clicked');
my $closed = $clients[3]->expect('close', 10);
is($closed && "$closed->{code} $closed->{reason}",
   '1001 closed by operator', 'its close button closes a session');
is(ask('wait #total 3', 'waited')->{ok}, JSON::PP::true,
   'which leaves the table');
like($t->error_log, qr/token "dashboard": DELETE "id=$id_of{u4}" closes 1/,
     'logged with the token\'s name');

# two clients become zombies: the page shows them closed, and why

$clients[$_]->stop for 0, 1;

is(ask('wait #total 1', 'waited')->{ok}, JSON::PP::true,
   'the zombies leave the table');
$rows = ask("rows #closed>tbody>tr", "rows")->{rows} // [];
is(scalar(grep { $_->{reason} eq 'client_timeout' } @$rows), 2,
   'recently closed shows them with reason client_timeout');

# the charts, drawn by the bundled uPlot from the same stream

my $canvases = ask('rows .u-wrap>canvas', 'rows')->{rows} // [];
is(scalar @$canvases, 3, 'three charts are drawn');
is(ask('wait #closes-seen 3', 'waited')->{ok}, JSON::PP::true,
   'the closes chart counts the three closes');
my $legend = ask('text #chart-closes>.uplot>.u-legend', 'text')->{text} // '';
is_deeply([grep { index($legend, $_) < 0 }
           qw(client_close upstream_close client_timeout upstream_timeout
              idle_timeout shutdown error proxy_timeout worker_lost admin
              max_age expired evicted)], [],
          'its legend has every close reason, learned from the snapshot');
is(ask('wait #rtt-count 1', 'waited')->{ok}, JSON::PP::true,
   'the RTT chart holds the one open session that has an RTT');
cmp_ok(ask('text #samples', 'text')->{text} // 0, '>=', 1,
       'the states chart has samples');

my $dir = $ENV{WSHB_ARTIFACTS} // 'build/artifacts';
make_path($dir);
my $shot = ask("screenshot $dir/dashboard.png", 'screenshot');
ok($shot->{path} && -s "$dir/dashboard.png", "screenshot kept in $dir");

# a reload ends the stream; the page reconnects (with ?since=) and stays
# right

$t->reload;
is(ask('wait #conn live', 'waited')->{ok}, JSON::PP::true,
   'the page reconnects after a reload');
$clients[2]->send('close');
is(ask('wait #total 0', 'waited')->{ok}, JSON::PP::true,
   'and follows the table on');

ask('quit', 'none');
$clients[$_]->cont for 0, 1;

$t->finish;
done_testing;
