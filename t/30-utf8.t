#!/usr/bin/perl

# Names in the status JSON are UTF-8: a URI in UTF-8 shows as the same
# characters, a byte that is no UTF-8 shows as U+FFFD, and a URI cut to
# its 64 bytes is never cut inside a character.  JSON::PP decodes the
# document strictly.

use strict;
use warnings;
use utf8;

use Encode qw(encode);
use JSON::PP;
use Test::More;
use lib 't/lib';
use WsHb;
use WsHbFrames qw(connect_ws serve_once);

my $t = WsHb->new;

$t->write_conf(<<'EOF');
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location /a/ {
            proxy_pass http://127.0.0.1:%%PORT_a%%;
            %%WS_PROXY%%
            ws_heartbeat on;
        }

        location /b/ {
            proxy_pass http://127.0.0.1:%%PORT_b%%;
            %%WS_PROXY%%
            ws_heartbeat on;
        }

        location /c/ {
            proxy_pass http://127.0.0.1:%%PORT_c%%;
            %%WS_PROXY%%
            ws_heartbeat on;
        }

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF

$t->run('http');

# raw UTF-8 bytes in the request line, as browsers send them unescaped
# only in error, and scripts do

my %uri = (a => encode('UTF-8', '/a/café?ü=ß'),
           b => "/b/caf\xe9-\xff",
           c => encode('UTF-8', '/c/' . ('é' x 40)));

my @s;
for my $k (sort keys %uri) {
    serve_once($t->port($k), run => sub { sleep 5 });
    push @s, (connect_ws($t->port('http'), path => $uri{$k}))[0];
}

my $r = $t->get($t->port('http'), '/status');
my $doc = eval { decode_json($r->{body}) };
ok($doc, 'the document is valid JSON in UTF-8') or diag $@;

my %got = map { substr($_->{uri}, 1, 1) => $_->{uri} } @{ $doc->{sessions} };

is($got{a}, '/a/café?ü=ß', 'a UTF-8 URI shows as its characters');
is($got{b}, "/b/caf\x{fffd}-\x{fffd}", 'bytes that are no UTF-8 show as U+FFFD');
is($got{c}, '/c/' . ('é' x 30), 'a URI cut to 64 bytes keeps whole characters');
like($r->{body}, qr{"/a/caf\xc3\xa9\?\xc3\xbc=\xc3\x9f"},
     'the characters are sent as UTF-8, not as escapes');

close $_ for @s;

$t->finish;
done_testing;
