#!/usr/bin/env bash
# Rounds for one change to reach all N nodes (p50, p99 of 100 trials) next to log3(N) + ln ln N + 2,
# from ringsim, plotted with gnuplot into docs/convergence.png (data: docs/convergence.dat).
#   tools/plot_convergence.sh [N ...]      default: 100 300 1000 3000 10000 (10,000 takes minutes)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RINGSIM="${RINGSIM:-$ROOT/build/tools/ringsim}"
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(100 300 1000 3000 10000)
command -v gnuplot >/dev/null || { echo "installing gnuplot-nox" >&2; apt-get install -y -q gnuplot-nox >/dev/null; }
DAT="$ROOT/docs/convergence.dat"
echo "# nodes rounds_p50 rounds_p99 bound   (ringsim converge --nodes N --trials 100 --seed 1)" > "$DAT"
for n in "${SIZES[@]}"; do
  echo "ringsim converge --nodes $n" >&2
  "$RINGSIM" converge --nodes "$n" --trials 100 --seed 1 2>/dev/null |
    sed -E 's/.*"nodes": ([0-9]+).*"rounds_p50": ([0-9]+).*"rounds_p99": ([0-9]+).*"bound": ([0-9.]+).*/\1 \2 \3 \4/' >> "$DAT"
done
gnuplot <<GP
set terminal pngcairo size 800,500
set output "$ROOT/docs/convergence.png"
set logscale x
set xlabel "nodes (N)"
set ylabel "gossip rounds until every node has the change"
set key top left
set grid
plot "$DAT" using 1:3 with linespoints title "p99 (100 trials)", \
     "$DAT" using 1:2 with linespoints title "p50", \
     "$DAT" using 1:4 with lines dashtype 2 title "bound: log3 N + ln ln N + 2"
GP
echo "wrote docs/convergence.png" >&2
