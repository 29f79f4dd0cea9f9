#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A suite that must give the same results on our kernel as on the stock
# kernel built from the same source and config (run inside the build root):
#
#   test_bpf       lib/test_bpf.ko, the JIT and interpreter tests
#   test_verifier  tools/testing/selftests/bpf/test_verifier
#   test_progs     upstream's test_progs: exceptions, verifier_* and the
#                  resource tests (tools/scripts/test-progs-build.sh
#                  says which); the two kernels
#                  may differ only as tools/selftests/test_progs.differences
#                  says
#
# Prints our totals, the stock totals, and whether the two agree test by
# test. The stock result is kept until the stock kernel or the guest
# scripts change.
#
# BUILD is the build of ours: linux-6.12 (the default), debug-6.12 or
# norust-6.12 (built without Rust, tools/scripts/norust.sh).
#
# Usage: vs-stock.sh CACHEDIR test_bpf|test_verifier|test_progs [BUILD]
set -uo pipefail
cache=$1 suite=$2 which=${3:-linux-6.12}
here=$(dirname "$0")
stock=stock-6.12 image=arch/x86/boot/bzImage
# arm64: the stock arm64 kernel, built by arm64.sh.
[ "$which" != arm64-6.12 ] || stock=stock-arm64-6.12 image=arch/arm64/boot/Image
stock_build=$cache/build/$stock
stock_result=$stock_build/$suite.txt
# test_progs: stock's whole log too, for how the tests that fail on both
# kernels fail.
stock_log=$stock_build/$suite.log

# totals FILE: "passed failed" from the suite's summary lines.
totals() {
	case $suite in
	test_bpf)
		sed -n 's/.*Summary: \([0-9]*\) PASSED, \([0-9]*\) FAILED.*/\1 \2/p' "$1" ;;
	test_verifier | test_progs)
		sed -n 's/^Summary: \([0-9]*\)\(\/[0-9]*\)\? PASSED, [0-9]* SKIPPED, \([0-9]*\) FAILED.*/\1 \3/p' "$1" ;;
	esac | awk '{p += $1; f += $2} END {print p + 0, f + 0}'
}

if [ "$stock" = stock-6.12 ]; then
	"$here/stock.sh" "$cache" || exit 1
else
	"$here/arm64.sh" "$cache" stock || exit 1
fi
# test_progs is rebuilt (when the tree or our kernel's BTF changed) before
# the stock result's age is judged against it: both kernels run one binary.
if [ "$suite" = test_progs ]; then
	"$here/test-progs-build.sh" "$cache" >/dev/null || exit 1
fi
# Kept until the stock kernel, the guest scripts or (for test_progs) the
# test_progs binary or the objects it opens change: keyed by their
# contents, so that a relinked but identical binary or a rebuilt but
# identical kernel reuses it.
inputs=("$stock_build/$image" tools/scripts/guest.sh tools/guest/init)
if [ "$suite" = test_progs ]; then
	inputs+=("$cache/build/test_progs/test_progs")
	while read -r o; do inputs+=("$cache/build/test_progs/$o"); done \
		<"$cache/build/test_progs/objects.list"
fi
key=$(cat "${inputs[@]}" | sha256sum | cut -c1-16)
# make check's two lanes may both want stock's result (test_progs for ours
# and for the debug kernel): one runs it, the other waits and reuses it.
exec 8>>"$stock_result.lock"
flock 8
if [ ! -f "$stock_result" ] || [ "$(cat "$stock_result.key" 2>/dev/null)" != "$key" ] ||
	{ [ "$suite" = test_progs ] && [ ! -f "$stock_log" ]; }; then
	echo "$suite on the stock kernel:"
	"$here/guest.sh" "$cache" "$suite" "$stock" | sed 's/^/  /' || exit 1
	cp "$cache/guest/$suite-$stock/$suite.txt" "$stock_result"
	[ "$suite" != test_progs ] || cp "$cache/guest/$suite-$stock/$suite.log" "$stock_log"
	echo "$key" >"$stock_result.key"
fi
flock -u 8
echo "$suite on our kernel ($which):"
"$here/guest.sh" "$cache" "$suite" "$which" | sed 's/^/  /'
[ "${PIPESTATUS[0]}" = 0 ] || { echo "$suite ($which): 0 passed, 1 failed"; exit 1; }
ours=$cache/guest/$suite-$which/$suite.txt

read -r passed failed < <(totals "$ours")
read -r spassed sfailed < <(totals "$stock_result")
echo "  stock kernel: $spassed passed, $sfailed failed"
echo "  our kernel:   $passed passed, $failed failed"
# Our own count is a suite line only where stock passes everything; where
# stock fails some tests too (test_verifier in this minimal config), what
# must hold is that the two agree.
tag=
[ "$which" = linux-6.12 ] || tag=" ($which)"
if [ "$sfailed" = 0 ]; then
	echo "$suite$tag: $passed passed, $failed failed"
fi
if [ "$suite" = test_progs ]; then
	label= differences=tools/selftests/test_progs.differences
	[ "$which" = linux-6.12 ] || label=$which
	# The kernel without Rust has no exceptions: its own list, and 90
	# subtests fewer pass (2476 of 2623 did, 2566 of 2677 with Rust).
	floor=2500
	[ "$which" != norust-6.12 ] ||
		differences=tools/selftests/test_progs.norust.differences floor=2420
	# Every test built in must have run on both, and those that fail on
	# both must fail the same way.
	TP_FLOOR=$floor TP_TESTS=$cache/build/test_progs/tests.list \
		TP_LOGS=$cache/guest/$suite-$which/$suite.log:$stock_log \
		python3 tools/selftests/tp-compare.py "$ours" "$stock_result" \
		"$differences" tools/selftests/test_progs.both $label
	exit
fi
if diff -u "$stock_result" "$ours" >/dev/null; then
	echo "$suite same as stock$tag: 1 passed, 0 failed"
else
	diff -u "$stock_result" "$ours" | sed 's/^/  /' | head -n 60
	echo "$suite same as stock$tag: 0 passed, 1 failed"
	exit 1
fi
[ "$sfailed" != 0 ] || [ "$failed" = 0 ]
