#!/usr/bin/perl

# The .deb that make -f Makefile.dev deb builds is one Debian would take:
# lintian reports no error and no warning (the one override it carries
# says why), and the package has its changelog, copyright and the
# Prometheus rules.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use WsHb;

my $deb = $ENV{WSHB_DEB};
my $t = WsHb->new(no_log_check => 1);
my $lintian = $t->which('lintian');

plan skip_all => 'no .deb given (make -f Makefile.dev test sets WSHB_DEB)'
    unless $deb && -f $deb;
plan skip_all => 'lintian is not installed' unless $lintian;

my @files = map { (split ' ', $_)[-1] } split /\n/, `dpkg-deb -c $deb`;

for my $f (qw(changelog.Debian.gz copyright prometheus/nginx_ws.rules.yml)) {
    ok(grep({ $_ eq "./usr/share/doc/libnginx-mod-http-ws-heartbeat/$f" }
            @files), "the package has $f");
}

my $out = `$lintian $deb 2>&1`;
my @tags = grep { /^[EW]: / } split /\n/, $out;
is_deeply(\@tags, [], 'lintian: no error, no warning') or diag $out;

$t->finish;
done_testing;
