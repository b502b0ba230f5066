#!/usr/bin/perl

# The timer heap's own unit tests (t/unit/heap_test.c), built by
# Makefile.dev with AddressSanitizer; they print TAP.

use strict;
use warnings;

my $bin = $ENV{WSHB_HEAP_UNIT} || 'build/heap_test';

unless (-x $bin) {
    print "1..0 # SKIP $bin not built (make -f Makefile.dev unit)\n";
    exit 0;
}

exec $bin or die "exec $bin: $!";
