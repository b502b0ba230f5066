#!/usr/bin/perl

# The calls between the module's source files, read from a build's objects:
# an object that leaves a symbol of ours undefined calls the object that
# defines it.  Fails when files call each other in a circle; otherwise
# prints the files in layers, each calling only files of the layers below.
# Fails too when the sessions' side calls the status side, or the status
# side calls a file of the sessions' side that docs/layout.md does not
# give it.
#
#     perl t/tools/layers.pl [OBJECT_DIR] [--edges]
#
# OBJECT_DIR defaults to the release build's objects of the module.

use strict;
use warnings;

use File::Find;

my $edges_too = grep { $_ eq '--edges' } @ARGV;
my ($dir) = grep { $_ !~ /^--/ } @ARGV;
$dir //= 'build/release/nginx/objs/addon';

my $ours = qr/^ngx_http_ws_heartbeat/;

my @objects;
find({ no_chdir => 1,
       wanted => sub { push @objects, $_ if /\.o\z/ } }, $dir)
    if -d $dir;

die "layers: no objects under $dir: build first\n" unless @objects;

sub file_of {
    my ($o) = @_;

    (my $f = substr($o, length($dir) + 1)) =~ s/\.o\z//;
    $f =~ s{(^|/)src/}{$1};
    return $f;
}

sub symbols {
    my ($o, @flags) = @_;

    open(my $nm, '-|', 'nm', @flags, $o) or die "layers: nm: $!\n";
    my @s = map { (split)[-1] // () } <$nm>;
    close($nm) or die "layers: nm $o failed\n";

    return grep { $_ =~ $ours } @s;
}

my (%defined_in, %wants, %calls, %why);

for my $o (sort @objects) {
    my $f = file_of($o);

    $wants{$f} = [symbols($o, '-u')];
    $defined_in{$_} = $f for symbols($o, '-g', '--defined-only');
}

for my $f (sort keys %wants) {
    $calls{$f} //= {};

    for my $s (@{ $wants{$f} }) {
        my $g = $defined_in{$s};

        next if !defined $g || $g eq $f;

        $calls{$f}{$g} = 1;
        push @{ $why{"$f $g"} }, $s;
    }
}

# the layer of a file: 1 for one that calls none of ours, else one above
# the highest it calls; a file met again while its own is being found is
# in a circle

my (%layer, %open, @circle);

sub layer {
    my ($f, @path) = @_;

    return $layer{$f} if defined $layer{$f};

    if ($open{$f}) {
        my $from = 0;
        $from++ while $path[$from] ne $f;
        @circle = (@path[$from .. $#path], $f) unless @circle;
        return 0;
    }

    $open{$f} = 1;

    my $top = 0;

    for my $g (sort keys %{ $calls{$f} }) {
        my $l = layer($g, @path, $f);
        $top = $l if $l > $top;
    }

    delete $open{$f};

    return $layer{$f} = $top + 1;
}

layer($_) for sort keys %calls;

my $n = 0;
$n += keys %{ $calls{$_} } for keys %calls;

printf "%d files, %d calls between files\n", scalar(keys %calls), $n;

if (@circle) {
    print "a circle of calls:\n";

    for my $i (0 .. $#circle - 1) {
        my ($a, $b) = @circle[$i, $i + 1];
        printf "    %s -> %s: %s\n", $a, $b,
            join(' ', sort @{ $why{"$a $b"} });
    }

    exit 1;
}

# the two modules: the sessions' side (src/) never calls the status side
# (src/status/), which reaches the sessions' side only through these
# files, and through close only for close_marked()

my %status_may = map { ("ngx_http_ws_heartbeat$_" => 1) }
                     ('', qw(_http _frame _query _wake _zone _keys _close));
my %from_close = map { $_ => 1 } qw(ngx_http_ws_heartbeat_close_marked);
my @wrong;

for my $f (sort keys %calls) {
    for my $g (sort keys %{ $calls{$f} }) {
        my @s = sort @{ $why{"$f $g"} };

        if ($f !~ m{^status/} && $g =~ m{^status/}) {
            push @wrong, "$f -> $g: @s (the sessions' side calls status)";

        } elsif ($f =~ m{^status/} && $g !~ m{^status/}) {
            if (!$status_may{$g}) {
                push @wrong, "$f -> $g: @s (not the status side's to call)";

            } elsif ($g eq 'ngx_http_ws_heartbeat_close') {
                my @other = grep { !$from_close{$_} } @s;
                push @wrong, "$f -> $g: @other (only close_marked())"
                    if @other;
            }
        }
    }
}

if (@wrong) {
    print "calls across the modules' line (docs/layout.md):\n";
    print "    $_\n" for @wrong;
    exit 1;
}

my %by;
push @{ $by{ $layer{$_} } }, $_ for keys %layer;

for my $l (sort { $b <=> $a } keys %by) {
    printf "layer %d: %s\n", $l, join(' ', sort @{ $by{$l} });

    next unless $edges_too;

    for my $f (sort @{ $by{$l} }) {
        for my $g (sort keys %{ $calls{$f} }) {
            printf "    %s -> %s: %s\n", $f, $g,
                join(' ', sort @{ $why{"$f $g"} });
        }
    }
}

print "no circles: calls go one way, down the layers\n";
