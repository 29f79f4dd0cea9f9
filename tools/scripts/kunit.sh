#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the KUnit suite bpf_exceptions with kunit.py under QEMU, on the
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
suite="kunit bpf_exceptions"
[ "$which" = linux-6.12 ] || suite="kunit bpf_exceptions ($which)"

cd "$tree"
set +e
python3 tools/testing/kunit/kunit.py run --arch=$arch --make_options LLVM=1 \
	--build_dir="$build" --kunitconfig="$kunitconfig" \
	--jobs="$(nproc)" --timeout=1200 --qemu_args='-smp 4' --raw_output=all 'bpf_exceptions' \
	>"$log" 2>&1
rc=$?
set -e

# The KTAP of our suite, as the kernel printed it.
ktap=$(tr -d '\r' <"$log" | sed -n '/# Subtest: bpf_exceptions/,/ok [0-9]* bpf_exceptions$/p')
if [ -z "$ktap" ]; then
	tail -n 60 "$log" >&2
	echo "kunit: error: no bpf_exceptions results (kunit.py exit $rc); log in $log" >&2
	echo "$suite: 0 passed, 1 failed"
	exit 1
fi
echo "$ktap" | grep -E '^ +# .*[^ ]' | grep -v '# Subtest' | sed 's/^ */  /' || true
echo "$ktap" | grep -E '^ +not ok ' | sed 's/^ */  FAIL /' || true
passed=$(echo "$ktap" | grep -cE '^ +ok [0-9]+ ' || true)
failed=$(echo "$ktap" | grep -cE '^ +not ok [0-9]+ ' || true)
if grep -qE 'WARNING:|BUG:|Oops|UBSAN:|bpf_exceptions: bpf_throw' "$log"; then
	grep -nE -A20 'WARNING:|BUG:|Oops|UBSAN:' "$log" | head -n 40 >&2
	echo "  FAIL kernel warning or oops during the run"
	failed=$((failed + 1))
fi
echo "$suite: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
