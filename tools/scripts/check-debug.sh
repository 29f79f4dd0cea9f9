#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check-debug: the debug kernel (KASAN, kmemleak, lockdep with
# PROVE_RCU, DEBUG_ATOMIC_SLEEP, UBSAN) built from our tree, then KUnit and
# every guest suite on it with a kmemleak scan at the end. Any sanitizer
# report, warning or leak fails it. Prints one line per suite and a total.
#
# Usage: check-debug.sh "IN_ROOT COMMAND" CACHEDIR
set -uo pipefail
in_root=$1 cache=$2
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
status=0
pattern='^[a-z][a-z0-9_ ().-]*: [0-9]+ passed, [0-9]+ failed$'

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

echo "== the debug kernel"
if ! $in_root tools/scripts/debug.sh "$cache"; then
	echo "debug kernel: 0 passed, 1 failed" >>"$summary"
	status=1
else
	run "KUnit on the debug kernel" tools/scripts/kunit.sh "$cache" debug-6.12
	run "exceptions selftests on the debug kernel" tools/scripts/guest.sh "$cache" selftests debug-6.12
	run "stress on the debug kernel" tools/scripts/guest.sh "$cache" stress debug-6.12
fi
echo
echo "== summary (debug kernel)"
cat "$summary"
read -r passed failed < <(sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$summary" |
	awk '{p += $1; f += $2} END {print p + 0, f + 0}')
[ "$status" = 0 ] || [ "$failed" != 0 ] || failed=1
echo "total: $passed passed, $failed failed"
exit $status
