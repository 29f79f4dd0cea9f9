#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the KUnit suite bpf_exceptions with kunit.py under QEMU, on the
# kernel build that the guest tests use (run inside the build root).
# kunit.py finds the .config up to date and only rebuilds what changed.
#
# Usage: kunit.sh CACHEDIR
set -euo pipefail

cache=$1
repo=$(pwd)
tree=$cache/src/linux-source-6.12
build=$cache/build/linux-6.12
log=$build/kunit.log

cd "$tree"
set +e
python3 tools/testing/kunit/kunit.py run --arch=x86_64 --make_options LLVM=1 \
	--build_dir="$build" --kunitconfig="$repo/tools/config/bpf_exceptions.config" \
	--jobs="$(nproc)" --timeout=1200 --qemu_args='-smp 4' --raw_output=all 'bpf_exceptions' \
	>"$log" 2>&1
rc=$?
set -e

# The KTAP of our suite, as the kernel printed it.
ktap=$(tr -d '\r' <"$log" | sed -n '/# Subtest: bpf_exceptions/,/ok [0-9]* bpf_exceptions$/p')
if [ -z "$ktap" ]; then
	tail -n 60 "$log" >&2
	echo "kunit: error: no bpf_exceptions results (kunit.py exit $rc); log in $log" >&2
	echo "kunit bpf_exceptions: 0 passed, 1 failed"
	exit 1
fi
echo "$ktap" | grep -E '^ +# .*[^ ]' | grep -v '# Subtest' | sed 's/^ */  /' || true
echo "$ktap" | grep -E '^ +not ok ' | sed 's/^ */  FAIL /' || true
passed=$(echo "$ktap" | grep -cE '^ +ok [0-9]+ ' || true)
failed=$(echo "$ktap" | grep -cE '^ +not ok [0-9]+ ' || true)
if grep -qE 'WARNING:|BUG:|Oops|bpf_exceptions: bpf_throw' "$log"; then
	grep -nE -A20 'WARNING:|BUG:|Oops' "$log" | head -n 40 >&2
	echo "  FAIL kernel warning or oops during the run"
	failed=$((failed + 1))
fi
echo "kunit bpf_exceptions: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
