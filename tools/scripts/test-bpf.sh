#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# lib/test_bpf on our kernel and on the stock kernel with the same config
# (run inside the build root). Prints our totals, the stock totals, and
# whether the two agree test by test (every summary and every failure).
# The stock result is kept until the stock kernel is rebuilt.
#
# Usage: test-bpf.sh CACHEDIR
set -uo pipefail
cache=$1
here=$(dirname "$0")
stock_build=$cache/build/stock-6.12
stock_result=$stock_build/test_bpf.txt

"$here/stock.sh" "$cache" || exit 1
if [ ! -f "$stock_result" ] || [ "$stock_result" -ot "$stock_build/arch/x86/boot/bzImage" ]; then
	echo "test_bpf on the stock kernel:"
	"$here/guest.sh" "$cache" test_bpf stock-6.12 | sed 's/^/  /' || exit 1
	cp "$cache/guest/test_bpf-stock-6.12/test_bpf.txt" "$stock_result"
fi
echo "test_bpf on our kernel:"
"$here/guest.sh" "$cache" test_bpf | sed 's/^/  /'
[ "${PIPESTATUS[0]}" = 0 ] || { echo "test_bpf: 0 passed, 1 failed"; exit 1; }
ours=$cache/guest/test_bpf-linux-6.12/test_bpf.txt

totals() {
	sed -n 's/.*Summary: \([0-9]*\) PASSED, \([0-9]*\) FAILED.*/\1 \2/p' "$1" |
		awk '{p += $1; f += $2} END {print p + 0, f + 0}'
}
read -r passed failed < <(totals "$ours")
read -r spassed sfailed < <(totals "$stock_result")
echo "  stock kernel: $spassed passed, $sfailed failed"
echo "test_bpf: $passed passed, $failed failed"
if diff -u "$stock_result" "$ours" >/dev/null; then
	echo "test_bpf same as stock: 1 passed, 0 failed"
else
	diff -u "$stock_result" "$ours" | sed 's/^/  /'
	echo "test_bpf same as stock: 0 passed, 1 failed"
	exit 1
fi
[ "$failed" = 0 ]
