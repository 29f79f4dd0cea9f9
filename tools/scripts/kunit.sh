#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run our KUnit suites with kunit.py under QEMU, on the
# kernel build that the guest tests use (run inside the build root).
# kunit.py finds the .config up to date and only rebuilds what changed.
#
# BUILD is linux-6.12 (the default), debug-6.12, the debug kernel of
# make check-debug, whose kunitconfig is the fragment debug.sh configured,
# or arm64-6.12 (tools/scripts/arm64.sh), run in qemu-system-aarch64.
#
# Usage: kunit.sh CACHEDIR [BUILD]
set -euo pipefail

cache=$1 which=${2:-linux-6.12}
repo=$(pwd)
tree=$cache/src/linux-source-6.12
build=$cache/build/$which
log=$build/kunit.log
kunitconfig=$repo/tools/config/bpf_exceptions.config arch=x86_64
case $which in
debug-6.12) kunitconfig=$build/debug.fragment ;;
arm64-6.12) kunitconfig=$build/arm64.fragment arch=arm64 ;;
esac
# The suites: ours, registered with #[kunit_tests] (bpf_exceptions, and on
# x86-64 bpf_exceptions_x86_64 for the JIT's bytes), and the kernel crate's
# own rust_kernel_kunit, which the backported #[kunit_tests] brings.
suites="bpf_exceptions rust_kernel_kunit"
[ "$arch" != x86_64 ] || suites="bpf_exceptions bpf_exceptions_x86_64 rust_kernel_kunit"
suffix=
[ "$which" = linux-6.12 ] || suffix=" ($which)"
# As the x86 guests (guest.sh): TCG's TSC may turn unstable mid-run.
kargs=
[ "$arch" != x86_64 ] || kargs=--kernel_args=tsc=reliable

cd "$tree"
set +e
python3 tools/testing/kunit/kunit.py run --arch=$arch --make_options LLVM=1 \
	--build_dir="$build" --kunitconfig="$kunitconfig" \
	--jobs="$(nproc)" --timeout=1200 --qemu_args='-smp 4' --raw_output=all $kargs \
	>"$log" 2>&1
rc=$?
set -e

oops=0
if grep -qE 'WARNING:|BUG:|Oops|UBSAN:|bpf_exceptions: bpf_throw' "$log"; then
	grep -nE -A20 'WARNING:|BUG:|Oops|UBSAN:' "$log" | head -n 40 >&2
	oops=1
fi
status=0
for s in $suites; do
	# The KTAP of the suite, as the kernel printed it.
	ktap=$(tr -d '\r' <"$log" | sed -n "/# Subtest: $s\$/,/ok [0-9]* $s\$/p")
	if [ -z "$ktap" ]; then
		tail -n 60 "$log" >&2
		echo "kunit: error: no $s results (kunit.py exit $rc); log in $log" >&2
		echo "kunit $s$suffix: 0 passed, 1 failed"
		status=1
		continue
	fi
	echo "$ktap" | grep -E '^ +# .*[^ ]' | grep -vE '# Subtest|# ([a-z0-9_]+\.)?speed: ' | sed 's/^ */  /' || true
	echo "$ktap" | grep -E '^ +not ok ' | sed 's/^ */  FAIL /' || true
	passed=$(echo "$ktap" | grep -cE '^ +ok [0-9]+ ' || true)
	failed=$(echo "$ktap" | grep -cE '^ +not ok [0-9]+ ' || true)
	if [ $oops = 1 ] && [ $s = bpf_exceptions ]; then
		echo "  FAIL kernel warning or oops during the run"
		failed=$((failed + 1))
	fi
	echo "kunit $s$suffix: $passed passed, $failed failed"
	[ "$failed" = 0 ] && [ "$passed" -gt 0 ] || status=1
done
exit $status
