#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# cargo test of the kernel-independent modules (rust/unwind.rs,
# rust/insn.rs) with the build root's cargo 1.85 (run inside the root).
#
# Usage: host-test.sh CACHEDIR
set -uo pipefail
cache=$1
log=$cache/cargo-test.log
(cd rust && BPFEXC_REQUIRE_LLVM_MC=1 CARGO_TARGET_DIR=$cache/cargo-target cargo test --offline) >"$log" 2>&1
rc=$?
grep -E '^test .* FAILED$|panicked' "$log" | sed 's/^/  /'
read -r passed failed < <(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' "$log" |
	awk '{p += $1; f += $2} END {print p + 0, f + 0}')
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
	tail -n 30 "$log" >&2
	failed=1
fi
echo "host cargo test: $passed passed, $failed failed"
[ "$rc" = 0 ]
