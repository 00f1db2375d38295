#!/usr/bin/env bash
# bench-dp-plot.sh - draw the cycles-per-packet curve of `scripts/bench-dp.sh --curve`.
#
#   scripts/bench-dp.sh --curve > /tmp/curve.txt
#   scripts/bench-dp-plot.sh /tmp/curve.txt [docs/bench-dp-curve.svg]
#
# Reads the flows_<N>_<phase>_oncpu_cycles_per_pkt keys (several runs may be
# concatenated: each size is drawn once per run) and writes an SVG with gnuplot
# (Debian package `gnuplot-nox`, an optional benchmark dependency: apt-get install
# gnuplot-nox). Log scale on flows, so the step where the tables leave the cache shows.
set -euo pipefail
in=${1:?usage: bench-dp-plot.sh CURVE_OUTPUT [SVG]}
out=${2:-docs/bench-dp-curve.svg}
command -v gnuplot >/dev/null || { echo "bench-dp-plot: gnuplot missing (apt-get install gnuplot-nox)" >&2; exit 1; }
data=$(mktemp)
trap 'rm -f "$data"' EXIT
# One row per size and run: flows floor established newflow, in on-CPU cycles
# (flows_<N>_<phase>_oncpu_cycles_per_pkt; the same as the TSC figure on a quiet
# machine, far less inflated on a busy one).
awk -F= '
	match($1, /^flows_[0-9]+_(floor|established|newflow)_oncpu_cycles_per_pkt$/) {
		split($1, k, "_"); v[k[3]] = $2
		if (k[3] == "newflow") { print k[2], v["floor"], v["established"], v["newflow"] }
	}' "$in" | sort -n -k1,1 >"$data"
[ -s "$data" ] || { echo "bench-dp-plot: no flows_<N>_*_oncpu_cycles_per_pkt keys in $in" >&2; exit 1; }
gnuplot <<GP
set terminal svg size 720,420 dynamic font "sans,12"
set output "$out"
set title "edgelb-dp, one core: cycles per packet by concurrent flows (scripts/bench-dp.sh --curve)"
set logscale x
set xlabel "tracked flows"
set ylabel "on-CPU cycles per packet (TSC rate)"
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
