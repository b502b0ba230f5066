#!/usr/bin/perl

# Session tags (ws_heartbeat_tag) and the status filters.  Tags come from
# request headers, cookies, query arguments, "set" and the connection,
# are evaluated once at the upgrade, cut at 64 bytes (never inside a UTF-8
# sequence), left out when empty, shown in the JSON and, for those
# declared with "metrics", counted in Prometheus.  The filters select
# sessions alone and combined, and bad ones get a 400 with the reason.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;

my $t = WsHb->new;
$t->need('node');

$t->write_conf(<<'EOF');
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;

            set $room "room-$arg_room";

            ws_heartbeat_tag user $http_x_user;
            ws_heartbeat_tag tenant $cookie_tenant metrics;
            ws_heartbeat_tag room $room;
            ws_heartbeat_tag peer $remote_addr;
        }

        location /plain/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            ws_heartbeat on;
        }

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');
my $base = "ws://127.0.0.1:$port";

sub client {
    my ($path, @headers) = @_;
    my $c = $t->ws_client("$base$path", map { ('--header', $_) } @headers);
    return $c->expect('open', 10) ? $c : undef;
}

my $long = 'u' x 100;
my $utf8 = "\xc3\xa9" x 40;         # 80 bytes of "e acute", 2 bytes each

my %c = (
    alice  => client('/ws/a?room=7', 'X-User: alice', 'Cookie: tenant=acme'),
    bob    => client('/ws/b', 'X-User: bob', 'Cookie: tenant=acme'),
    carol  => client('/ws/c', 'X-User: carol', 'Cookie: tenant=initech'),
    anon   => client('/ws/anon'),
    long   => client('/ws/long', "X-User: $long"),
    utf8   => client('/ws/utf8', "X-User: $utf8"),
    plain  => client('/plain/p', 'X-User: dave'),
);

is(scalar(grep { defined } values %c), 7, 'seven sessions open');

my $doc = $t->status("/status");
my %by_uri = map { $_->{uri} => $_ } @{$doc->{sessions}};

is_deeply($by_uri{'/ws/a?room=7'}{tags},
          { user => 'alice', tenant => 'acme', room => 'room-7',
            peer => '127.0.0.1' },
          'a header, a cookie, a "set" variable and the address');
is_deeply($by_uri{'/ws/anon'}{tags}, { room => 'room-', peer => '127.0.0.1' },
          'empty values leave their tags out');
is($by_uri{'/ws/long'}{tags}{user}, 'u' x 64, 'a long value is cut at 64');
{
    my $got = $by_uri{'/ws/utf8'}{tags}{user} // '';
    utf8::encode($got);
    is($got, "\xc3\xa9" x 32, 'and a UTF-8 one between two characters');
}
is_deeply($by_uri{'/plain/p'}{tags}, {}, 'no tags: an empty object');

# --- filters -----------------------------------------------------------------

sub ids {
    my ($query) = @_;
    my $d = $t->status("/status?$query");
    return join ',', sort map { $_->{uri} } @{$d->{sessions} // []};
}

is(ids('tag.user=alice'), '/ws/a?room=7', 'tag.user');
is(ids('tag.tenant=acme'), '/ws/a?room=7,/ws/b', 'tag.tenant');
is(ids('tag.tenant=acme&tag.user=bob'), '/ws/b', 'two tags: both must match');
is(ids('tag.user=Alice'), '', 'tag values match exactly');
is(ids('tag.user=&uri=/ws/'), '/ws/anon', 'tag.NAME= is "without the tag"');
is(ids('uri=/ws/'), '/ws/a?room=7,/ws/anon,/ws/b,/ws/c,/ws/long,/ws/utf8',
   'uri is a prefix');
is(ids('uri=/plain/&tag.user=dave'), '', 'and combines with a tag');
is(ids('client=127.0.0.1&uri=/plain/'), '/plain/p', 'client address');
is(ids('client=127.0.0.2'), '', 'another address matches none');
my $id = $by_uri{'/ws/b'}{id};
is(ids("id=$id"), '/ws/b', 'one session by its id');
is(ids('id=' . uc $id), '/ws/b', 'in either case');
is(ids('older_than=3600'), '', 'older_than: none is an hour old');
sleep 1.1;
is(ids('older_than=1&tag.user=carol'), '/ws/c', 'older than a second');
is(ids('state=healthy&tag.tenant=initech'), '/ws/c', 'state and tag');
is($t->status('/status?tag.tenant=acme&sessions=0')->{sessions_matching}, 2,
   'sessions_matching counts the filter');

for my $bad (['tag.User=x', qr/a tag name is/],
             ['tag.user=a&tag.user=b', qr/given twice/],
             ['tag.' . ('n' x 17) . '=x', qr/a tag name is/],
             ['tag.user=' . ('v' x 65), qr/at most 64 bytes/],
             ['older_than=soon', qr/older_than must be/],
             ['id=xyz', qr/id must be/],
             ['uri=', qr/uri must be/],
             ['client=a&client=b', qr/given twice/],
             ['owner=me', qr/unknown parameter/])
{
    my $r = $t->get($port, "/status?$bad->[0]");
    is($r->{status}, 400, "$bad->[0]: 400");
    like($r->{body}, $bad->[1], "$bad->[0]: the reason");
}

# --- Prometheus --------------------------------------------------------------

my ($m, $text) = $t->metrics('/status?format=prometheus');
is($m->{'nginx_ws_tag_sessions{tag="tenant",value="acme"}'}, 2,
   'tags declared with metrics are counted by value');
is($m->{'nginx_ws_tag_sessions{tag="tenant",value="initech"}'}, 1,
   'each value');
is(scalar(grep { /tag="user"/ } keys %$m), 0, 'other tags are not');
is($m->{'nginx_ws_tag_values_other{tag="tenant"}'}, 0,
   'no value counted as other');

SKIP: {
    my $promtool = $t->which('promtool') or skip 'no promtool', 1;
    my $file = $t->prefix . '/metrics.txt';
    open my $fh, '>', $file or die;
    print $fh $text;
    close $fh;
    my $out = `$promtool check metrics < $file 2>&1`;
    is($out, '', 'promtool check metrics: no problem') or diag $out;
}

$c{bob}->send('close');
$c{bob}->expect('close', 5);
my $end = time + 5;
sleep 0.1 while ids('tag.tenant=acme') ne '/ws/a?room=7' && time < $end;
$m = $t->metrics('/status?format=prometheus');
is($m->{'nginx_ws_tag_sessions{tag="tenant",value="acme"}'}, 1,
   'a session that ends leaves the count');

$_ && $_->kill for values %c;
$app->kill;
$t->finish;

done_testing;
