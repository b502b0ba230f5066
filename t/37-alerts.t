#!/usr/bin/perl

# The Prometheus rules shipped in pkg/prometheus/: promtool accepts them,
# and promtool's unit tests give each alert series for which it fires and
# series for which it stays silent.  Every alert has a runbook section in
# docs/alerts.md, which its annotation points to.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use WsHb;

my $dir = "$WsHb::TOP/pkg/prometheus";
my $t = WsHb->new(no_log_check => 1);
my $promtool = $t->which('promtool');

open my $fh, '<', "$dir/nginx_ws.rules.yml" or die $!;
my $rules = do { local $/; <$fh> };
close $fh;

open $fh, '<', "$WsHb::TOP/docs/alerts.md" or die $!;
my $doc = do { local $/; <$fh> };
close $fh;

my @alerts = $rules =~ /^\s*- alert: (\w+)/mg;
cmp_ok(scalar @alerts, '>=', 7, scalar(@alerts) . ' alerts');

for my $a (@alerts) {
    like($doc, qr/^## $a$/m, "$a has a runbook in docs/alerts.md");
    like($rules, qr/runbook: docs\/alerts\.md#\L$a\E\n/,
         "and its annotation points to it");
}

SKIP: {
    skip 'promtool is not installed', 2 unless $promtool;

    my $out = `$promtool check rules $dir/nginx_ws.rules.yml 2>&1`;
    is($?, 0, 'promtool check rules') or diag $out;

    $out = `cd $dir && $promtool test rules nginx_ws.rules.test.yml 2>&1`;
    is($?, 0, 'promtool test rules: each alert fires and stays silent '
              . 'where it should') or diag $out;
}

$t->finish;
done_testing;
