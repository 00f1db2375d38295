#!/usr/bin/env bash
# bench-dp-plot.sh - draw the cycles-per-packet curve of `scripts/bench-dp.sh --curve`.
#
#   scripts/bench-dp.sh --curve > /tmp/curve.txt
#   scripts/bench-dp-plot.sh /tmp/curve.txt [docs/bench-dp-curve.svg]
#
# Reads the `curve <flows> <floor> <established> <newflow>` lines (several runs may be
# concatenated: each size is drawn once per run) and writes an SVG with gnuplot
# (Debian package `gnuplot-nox`, an optional benchmark dependency: apt-get install
# gnuplot-nox). Log scale on flows, so the step where the tables leave the cache shows.
set -euo pipefail
in=${1:?usage: bench-dp-plot.sh CURVE_OUTPUT [SVG]}
out=${2:-docs/bench-dp-curve.svg}
command -v gnuplot >/dev/null || { echo "bench-dp-plot: gnuplot missing (apt-get install gnuplot-nox)" >&2; exit 1; }
data=$(mktemp)
trap 'rm -f "$data"' EXIT
awk '$1 == "curve" && NF == 5 {print $2, $3, $4, $5}' "$in" | sort -n -k1,1 >"$data"
[ -s "$data" ] || { echo "bench-dp-plot: no curve lines in $in" >&2; exit 1; }
gnuplot <<GP
set terminal svg size 720,420 dynamic font "sans,12"
set output "$out"
set title "edgelb-dp, one core: cycles per packet by concurrent flows (scripts/bench-dp.sh --curve)"
set logscale x
set xlabel "tracked flows"
set ylabel "TSC cycles per packet"
set key top left
set grid
set format x "%.0s%c"
plot "$data" using 1:3 with linespoints title "established (TCP ACK)", \\
     "$data" using 1:4 with linespoints title "new flow (SYN)", \\
     "$data" using 1:2 with linespoints title "floor (harness only)", \\
     150 with lines dashtype 2 title "goal established 150", \\
     400 with lines dashtype 3 title "goal new flow 400"
GP
echo "bench-dp-plot: wrote $out"
