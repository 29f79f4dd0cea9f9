#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: every suite, each on its own line as "<suite>: N passed, N
# failed", then the total. Later suites run even when an earlier one fails.
# With "debug" (make check-debug), only the suites of the debug kernel.
#
# Usage: check.sh "IN_ROOT COMMAND" CACHEDIR [debug]
#
# The suites run in two lanes at once, each mostly one QEMU guest (TCG runs
# a guest's one busy vCPU on one host core) or one kernel build: x86-64
# (ours, stock, without Rust) and the debug kernel's test_progs, and arm64
# then the debug kernel's guests and fuzz run. The second lane's output is
# shown when both are done; the summary keeps this order.
set -uo pipefail
in_root=$1 cache=$2 only=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
summary=$tmp/summary
status=0

pattern='^[a-z][a-z0-9_ ().-]*: [0-9]+ passed, [0-9]+ failed$'

# run NAME COMMAND...: runs COMMAND in the build root, shows its output and
# keeps its summary lines; a suite that ends without one counts as failed.
run() {
	local name=$1 out rc start
	shift
	out=$(mktemp)
	start=$(date +%s)
	echo "== $name"
	$in_root "$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	grep -E "$pattern" "$out" >>"$summary" || echo "$name: 0 passed, 1 failed" >>"$summary"
	[ "$rc" = 0 ] || status=1
	echo "   ($(($(date +%s) - start)) s)"
	rm -f "$out"
}

# lane_x86: our kernel's suites, stock's comparisons, the kernel without
# Rust, and the debug kernel's test_progs.
lane_x86() {
	run "host tests (cargo test)" tools/scripts/host-test.sh "$cache"
	run "KUnit under kunit.py" tools/scripts/kunit.sh "$cache"
	run "the sample (make's main job): verdicts and bpf:bpf_throw traces" \
		tools/scripts/guest.sh "$cache" sample
	run "upstream exceptions selftests in QEMU" tools/scripts/guest.sh "$cache" selftests
	run "stress: throws on 4 CPUs, in softirq and nested" tools/scripts/guest.sh "$cache" stress
	run "lib/test_bpf in QEMU, ours and stock 6.12.117" tools/scripts/vs-stock.sh "$cache" test_bpf
	run "test_verifier in QEMU, ours and stock 6.12.117" tools/scripts/vs-stock.sh "$cache" test_verifier
	run "upstream test_progs (exceptions, verifier_*, resources) in QEMU, ours and stock 6.12.117" \
		tools/scripts/vs-stock.sh "$cache" test_progs
	run "differential fuzzing, ours and stock 6.12.117 (seed 1, 2000 programs)" \
		tools/scripts/fuzz.sh "$cache" 1 2000
	# The same tree without Rust: BPF and the JIT as on stock, exceptions
	# rejected with our message.
	if $in_root tools/scripts/norust.sh "$cache"; then
		run "kernel without Rust: exceptions rejected" \
			tools/scripts/guest.sh "$cache" norust norust-6.12
		for suite in test_bpf test_verifier test_progs; do
			run "$suite on the kernel without Rust, against stock" \
				tools/scripts/vs-stock.sh "$cache" $suite norust-6.12
		done
	else
		echo "kernel without Rust: 0 passed, 1 failed" >>"$summary"
		status=1
	fi
	debug_vs_stock
}

# lane_last: what needs every build, when both lanes are done.
lane_last() {
	# After the no-Rust and arm64 builds, whose vmlinux it checks too.
	run "vmlinux contents" tools/scripts/vmlinux-check.sh "$cache"
	# The series a kernel developer takes (make series): git am onto a
	# clean 6.12.117 gives the tree we built (which no suite then writes
	# to); checkpatch on every patch. On the host, which has git.
	local in_root_saved=$in_root
	in_root=
	run "make series: git am, the same tree, checkpatch" tools/scripts/series.sh "$cache" --check
	in_root=$in_root_saved
}

# lane_arm64: ours (Rust unwinder) and stock, cross-built, in QEMU.
lane_arm64() {
	if $in_root tools/scripts/arm64.sh "$cache"; then
		run "KUnit on arm64" tools/scripts/kunit.sh "$cache" arm64-6.12
		run "exceptions selftests on arm64" tools/scripts/guest.sh "$cache" selftests arm64-6.12
		run "stress on arm64: throws on 4 CPUs, in softirq and nested" \
			tools/scripts/guest.sh "$cache" stress arm64-6.12
		run "lib/test_bpf on arm64, ours and stock" \
			tools/scripts/vs-stock.sh "$cache" test_bpf arm64-6.12
	else
		echo "arm64 kernels: 0 passed, 1 failed" >>"$summary"
		status=1
	fi
}

# debug_kernel: build the debug kernel (make check-debug): KASAN, kmemleak,
# lockdep, UBSAN. Either lane may come first; the other waits for it, then
# finds it built. False, with a failed line, if the build failed.
debug_kernel() {
	$in_root tools/scripts/debug.sh "$cache" && return 0
	echo "debug kernel: 0 passed, 1 failed" >>"$summary"
	status=1
	return 1
}

# debug_guests: the debug kernel's own guests, and its fuzz run.
debug_guests() {
	debug_kernel || return 0
	run "KUnit on the debug kernel" tools/scripts/kunit.sh "$cache" debug-6.12
	run "exceptions selftests on the debug kernel" \
		tools/scripts/guest.sh "$cache" selftests debug-6.12
	run "stress on the debug kernel" tools/scripts/guest.sh "$cache" stress debug-6.12
	run "differential fuzzing on the debug kernel (seed 1, 500 programs)" \
		tools/scripts/fuzz.sh "$cache" 1 500 debug-6.12
}

# debug_vs_stock: the debug kernel's test_progs against stock (in the
# first lane, for balance).
debug_vs_stock() {
	debug_kernel || return 0
	run "upstream test_progs on the debug kernel, against stock" \
		tools/scripts/vs-stock.sh "$cache" test_progs debug-6.12
}

lane_debug() {
	debug_guests
	debug_vs_stock
}

# lane NAME FUNCTION: FUNCTION with its own summary ($tmp/NAME.summary) and
# status ($tmp/NAME.status).
lane() {
	summary=$tmp/$1.summary status=0
	: >"$summary"
	"$2"
	echo $status >"$tmp/$1.status"
}

start_all=$(date +%s)
if [ "$only" = debug ]; then
	lane debug lane_debug
	lanes="debug"
else
	# The second lane in the background, its output kept for later (and
	# in the cache, to follow it meanwhile).
	(
		lane arm64 lane_arm64
		lane debug debug_guests
	) >"$cache/check-second-lane.log" 2>&1 &
	second=$!
	lane x86 lane_x86
	wait $second
	echo
	echo "== the second lane (arm64, then the debug kernel's guests)"
	cat "$cache/check-second-lane.log"
	lane last lane_last
	lanes="x86 arm64 debug last"
fi
summary=$tmp/summary status=0
for l in $lanes; do
	cat "$tmp/$l.summary" >>"$summary"
	[ "$(cat "$tmp/$l.status" 2>/dev/null)" = 0 ] || status=1
done
echo "   (all suites: $(($(date +%s) - start_all)) s)"

echo
echo "== summary"
cat "$summary"
read -r passed failed < <(sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$summary" |
	awk '{p += $1; f += $2} END {print p + 0, f + 0}')
[ "$status" = 0 ] || [ "$failed" != 0 ] || failed=1
echo "total: $passed passed, $failed failed"
exit $status
