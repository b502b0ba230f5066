#!/usr/bin/perl

# html2c.pl FILE: prints FILE as the C array ngx_http_ws_heartbeat_page,
# one string literal per piece of at most 68 characters (nginx's 80
# columns), so that the dashboard page is compiled into the module.  A
# line "<!-- include: PATH -->" is replaced by the file at PATH (from the
# current directory): the chart library, bundled so that the page makes
# no third-party request.

use strict;
use warnings;

my ($file) = @ARGV;
open my $fh, '<', $file or die "$file: $!\n";

(my $name = $file) =~ s{.*/}{};

print "\n/*\n * generated from $name\n"
    . " * by \"make -f Makefile.dev dashboard\"\n */\n\n"
    . "static u_char  ngx_http_ws_heartbeat_page[] =\n";

my @lines;

while (my $line = <$fh>) {
    if ($line =~ /^\s*<!-- include: (\S+) -->\s*$/) {
        open my $inc, '<', $1 or die "$1: $!\n";
        push @lines, <$inc>;
        close $inc;
        next;
    }

    push @lines, $line;
}

for my $line (@lines) {
    chomp $line;
    my @pieces = ('');

    # '?' escaped: no trigraph in the library's code reaches the compiler

    for my $ch (split //, $line) {
        my $e = $ch eq '\\' ? '\\\\' : $ch eq '"' ? '\\"'
              : $ch eq '?' ? '\\?' : $ch eq "\t" ? '\\t' : $ch;
        push @pieces, '' if length($pieces[-1]) + length($e) > 68;
        $pieces[-1] .= $e;
    }

    $pieces[-1] .= '\\n';
    print qq(    "$_"\n) for @pieces;
}

print ";\n";
