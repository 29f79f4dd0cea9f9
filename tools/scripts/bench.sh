#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: boot the stock kernel and ours under QEMU -icount, run the
# benchmark programs of tools/bench on each, and write bench.tsv, bench.md
# and throw-cost.svg to CACHEDIR/bench (run inside the build root); then
# the same for arm64, in CACHEDIR/bench/arm64.
#
# Usage: bench.sh CACHEDIR
set -euo pipefail
cache=$1
here=$(dirname "$0")
out=$cache/bench

"$here/stock.sh" "$cache"
for k in stock-6.12 linux-6.12; do
	echo "bench: $k"
	"$here/guest.sh" "$cache" bench "$k" | sed 's/^/  /'
done
python3 tools/bench/report.py "$cache/guest/bench-stock-6.12/bench.txt" \
	"$cache/guest/bench-linux-6.12/bench.txt" "$out"
echo
echo "bench: wrote $out/bench.tsv, $out/bench.md and $out/throw-cost.svg"

"$here/arm64.sh" "$cache"
for k in stock-arm64-6.12 arm64-6.12; do
	echo "bench: $k"
	"$here/guest.sh" "$cache" bench "$k" | sed 's/^/  /'
done
python3 tools/bench/report.py "$cache/guest/bench-stock-arm64-6.12/bench.txt" \
	"$cache/guest/bench-arm64-6.12/bench.txt" "$out/arm64"
echo
echo "bench: wrote $out/arm64/bench.tsv, bench.md and throw-cost.svg"
