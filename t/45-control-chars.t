#!/usr/bin/perl

# Tag values a client sends with terminal escapes (ESC, BEL, DEL, a C1
# CSI), a bidi override (U+202E), quotes and a backslash: they cannot end
# a JSON string or a label, and the Prometheus text carries none of
# them (control pictures or U+FFFD instead, values that render the same
# as one series) and still passes promtool; the JSON carries them as \u
# escapes, exactly; and the dashboard, in Chromium, shows each value
# isolated in a <bdi> with the hidden characters as their code points.

use strict;
use warnings;

use Encode ();
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use WsHb;
use WsHbFrames qw(connect_ws);

my $t = WsHb->new->need('node');

$t->write_conf(<<'EOF');
    ws_heartbeat_zone ws:1m;

    server {
        listen 127.0.0.1:%%PORT_http%%;

        location /ws/ {
            proxy_pass http://127.0.0.1:%%PORT_app%%;
            %%WS_PROXY%%
            proxy_set_header X-User "";     # Node refuses its bytes
            ws_heartbeat on;
            ws_heartbeat_tag user $http_x_user metrics;
        }

        location = /status {
            ws_heartbeat_status;
        }
    }
EOF

my $app = $t->ws_server($t->port('app'));
$t->run('http');

my $port = $t->port('http');

# byte strings, as a hostile client sends them in a header

my %user = (
    esc     => "eve\x1b[2J\x1b]0;pwned\x07",
    picture => "eve\xe2\x90\x9b[2J\xe2\x90\x9b]0;pwned\xe2\x90\x87",
    bidi    => "\xe2\x80\xaeecila",
    plain   => 'alice',
    c1      => "c1\xc2\x9b31m\x7f",
    quote   => 'q"} 1 \\',
);

my %sock;
for my $name (sort keys %user) {
    ($sock{$name}) = connect_ws($port, path => "/ws/$name",
                                headers => "X-User: $user{$name}\r\n");
}
ok(scalar(keys %sock) == 6, 'six sessions with hostile tag values');

# --- Prometheus --------------------------------------------------------------

my $r = $t->get($port, '/status?format=prometheus');
is($r->{status}, 200, 'Prometheus text');
my $text = $r->{body};

ok($text !~ /[\x00-\x09\x0b-\x1f\x7f]/, 'no C0 control byte nor DEL in it');
ok($text !~ /\xc2[\x80-\x9f]/, 'no C1 control');
ok($text !~ /\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]/,
   'no bidi embedding, override or isolate');

my %series;
while ($text =~ /^nginx_ws_tag_sessions\{tag="user",value="(.*)"\} (\d+)$/mg) {
    $series{$1} = $2;
}

is($series{"eve\xe2\x90\x9b[2J\xe2\x90\x9b]0;pwned\xe2\x90\x87"}, 2,
   'ESC and BEL as their control pictures; the value that shows the same '
   . 'is the same series');
is($series{"\xef\xbf\xbdecila"}, 1, 'U+202E as U+FFFD');
is($series{"c1\xef\xbf\xbd31m\xe2\x90\xa1"}, 1,
   'a C1 control as U+FFFD, DEL as its control picture');
is($series{alice}, 1, 'a plain value as it is');
is($series{'q\"} 1 \\\\'}, 1, 'quotes and backslashes escaped');
is(scalar keys %series, 5, 'five series for six sessions');

SKIP: {
    my $promtool = WsHb->which('promtool');
    skip 'no promtool (apt-get install prometheus)', 1 unless $promtool;

    my $file = $t->prefix . '/metrics.txt';
    open my $fh, '>', $file or die;
    print $fh $text;
    close $fh;

    my $out = `$promtool check metrics < $file 2>&1`;
    is($out, '', 'promtool check metrics passes with no warning')
        or diag $out;
}

# --- JSON --------------------------------------------------------------------

$r = $t->get($port, '/status');
ok($r->{body} !~ /[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]/,
   'the JSON has none of them raw');
like($r->{body}, qr/"\\u202eecila"/, 'U+202E as \u202e');

my $doc = decode_json($r->{body});
my %got = map { ($_->{uri} =~ m{^/ws/(\w+)})[0] => $_ } @{$doc->{sessions}};
is_deeply({ map { $_ => $got{$_}{tags}{user} } keys %user },
          { map { $_ => Encode::decode('UTF-8', $user{$_}) } keys %user },
          'and every value decodes exactly');

# --- the dashboard -----------------------------------------------------------

SKIP: {
    skip 'no /usr/bin/chromium', 6
        unless -x ($ENV{CHROMIUM} // '/usr/bin/chromium')
               && -d "$WsHb::NODE_DIR/node_modules/playwright-core";

    my $b = $t->spawn('node', 't/node/dashboard.js', '--url',
                      "http://127.0.0.1:$port/status?format=html");
    my $ev = $b->expect('loaded', 60);
    is($ev && $ev->{status}, 200, 'the dashboard loads in Chromium');
    $b->send('wait #total 6');
    $ev = $b->expect('waited', 15);
    ok($ev && $ev->{ok}, 'and shows the six sessions');

    my %cell;
    for my $name (qw(bidi esc)) {
        $b->send("html tr[data-id=\"$got{$name}{id}\"]>td:nth-child(9)");
        $ev = $b->expect('html', 10);
        $cell{$name} = $ev ? $ev->{html} : '';
    }

    like($cell{bidi},
         qr{^user=<bdi><span class="ctl">U\+202E</span>ecila</bdi>$},
         'U+202E: the value in a <bdi>, the override shown, not obeyed');
    unlike($cell{bidi}, qr/\x{202e}/, 'no U+202E in the page');
    my $ctl = sub { qq{<span class="ctl">U+$_[0]</span>} };
    is($cell{esc}, 'user=<bdi>eve' . $ctl->('001B') . '[2J' . $ctl->('001B')
                   . ']0;pwned' . $ctl->('0007') . '</bdi>',
         'ESC and BEL shown as code points');
    unlike($cell{esc}, qr/[\x00-\x1f]/, 'none of them raw');

    $b->send('quit');
    $b->kill;
}

close $_ for values %sock;
$app->kill;
$t->finish;

done_testing;
