#!/usr/bin/perl

# The $ws_heartbeat_* variables in an access log at http level, as most
# setups write it: a proxied session logs its own values; a status request,
# a delta-stream subscriber over WebSocket and over SSE, and a plain
# request log "-" for each (a subscriber is not a session).

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use WsHb;

my $t = WsHb->new;

$t->write_conf(<<'EOF');
http {
    ws_heartbeat_zone ws:1m;

    log_format wshb '$request_uri id=$ws_heartbeat_session_id '
                    'reason=$ws_heartbeat_close_reason '
                    'rtt=$ws_heartbeat_rtt urtt=$ws_heartbeat_upstream_rtt '
                    'pings=$ws_heartbeat_pings pongs=$ws_heartbeat_pongs';
    access_log %%PREFIX%%/logs/access.log wshb;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%

            ws_heartbeat on;
            ws_heartbeat_interval 200ms;
            ws_heartbeat_upstream on;
        }

        location = /status {
            ws_heartbeat_status;
            ws_heartbeat_interval 200ms;
        }

        location = /plain {
            return 204;
        }
    }
}
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');
my $url = "127.0.0.1:$port";

# subscribers that live long enough to be pinged, then a session

my $ws = $t->spawn('node', "$WsHb::NODE_DIR/subscriber.js",
                   '--url', "ws://$url/status");
my $sse = $t->spawn('node', "$WsHb::NODE_DIR/subscriber.js", '--sse',
                    '--url', "http://$url/status?format=sse");
ok($ws->expect('message', 10), 'a WebSocket subscriber has its snapshot');
ok($sse->expect('message', 10), 'an SSE subscriber has its snapshot');

my $c = $t->ws_client("ws://$url/ws/session");
ok($c->expect('open', 10), 'a session is up');
ok($c->expect('ping', 5), 'and pinged');
ok($app->expect('ping', 5), 'both ways');
$c->drain(0.5);
$c->send('close');
ok($c->expect('close', 5), 'and closed');

$ws->drain(0.5);
$ws->kill;
$sse->kill;

is($t->get($port, '/status?sessions=1')->{status}, 200, 'a status request');
is($t->get($port, '/plain')->{status}, 204, 'a plain request');

my $log;
for (1 .. 100) {
    $log = $t->read_file('logs/access.log');
    last if ($log =~ tr/\n//) >= 5;
    select undef, undef, undef, 0.05;
}

my %uri = ('/ws/session' => 'ws', '/status' => 'sub_ws',
           '/status?format=sse' => 'sub_sse', '/status?sessions=1' => 'status',
           '/plain' => 'plain');
my %line = map { /^(\S+) (.*)$/ && $uri{$1} ? ($uri{$1}, $2) : () }
           split /\n/, $log;

like($line{ws} // '', qr/^id=[0-9a-f]{22} reason=client_close rtt=\d+ urtt=\d+ pings=[1-9]\d* pongs=[1-9]\d*$/,
     "the session logs its values: $line{ws}");

for my $k (qw(sub_ws sub_sse status plain)) {
    is($line{$k}, 'id=- reason=- rtt=- urtt=- pings=- pongs=-',
       "a $k request logs none");
}

$t->finish;
done_testing;
