#!/usr/bin/perl

# TLS on both sides: wss:// from the client, https:// to the upstream.
# Pings, pong removal, big frames and zombie detection work the same.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time);
use lib 't/lib';
use WsHb;

my $t = WsHb->new->need('openssl', 'node', 'ws');
my $p = $t->prefix;

$t->certificate;

$t->write_conf(<<'EOF');
    server {
        listen 127.0.0.1:%%PORT_https%% ssl;
        ssl_certificate %%PREFIX%%/cert.pem;
        ssl_certificate_key %%PREFIX%%/key.pem;

        location / {
            proxy_pass https://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            proxy_ssl_verify off;

            ws_heartbeat on;
            ws_heartbeat_interval 1s;
            ws_heartbeat_timeout 1s;
            ws_heartbeat_upstream on;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'), '--tls', "$p/cert.pem,$p/key.pem");
$t->run('https');

my $url = 'wss://127.0.0.1:' . $t->port('https') . '/tls';
my $c = $t->ws_client($url, '--insecure');

ok($c->expect('open', 10), 'wss client connected through nginx');
ok($c->expect('ping', 5), 'client pinged over TLS');
ok($app->expect('ping', 5), 'upstream pinged over TLS');

$c->send('sendbig 1000000');
my $m = $c->expect('message', 10);
is($m && $m->{len}, 1000000, '1 MB message (64-bit length) echoed over TLS');

$c->send('send after the big one');
$m = $c->expect('message', 5);
is($m && $m->{text}, 'after the big one', 'stream intact after it');

$c->drain(1.5);
ok(!grep({ $_->{hex} =~ /^57534842/ } $app->seen('pong'), $c->seen('pong')),
   'no pong to our pings reached either side');

$c->stop;
my $stopped = time;
my $close = $app->expect('close', 6);
is($close && $close->{code}, 1001, 'zombie client over TLS: upstream told');
cmp_ok($close ? $close->{at} - $stopped : 99, '<', 3.5,
       'within interval + timeout');
$c->kill;

$t->finish;
done_testing;
