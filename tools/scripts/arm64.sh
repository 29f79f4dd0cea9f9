#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Cross-build the arm64 kernels with LLVM=1 (run inside the build root):
# ours, from our tree as make kernel prepared it, in build/arm64-6.12, and
# stock, from the stock tree, in build/stock-arm64-6.12. Both take
# tools/config/bpf_exceptions.config without its x86-64 lines plus
# tools/config/arm64.config; stock without our options.
#
# Usage: arm64.sh CACHEDIR [ours|stock|both]
set -euo pipefail

cache=$1 which=${2:-both}
repo=$(pwd)

. "$(dirname "$0")/lib.sh"

say() { echo "arm64: $*"; }
die() { echo "arm64: error: $*" >&2; exit 1; }

# fragment OUT [stock]: the arm64 configuration fragment.
fragment() {
	arm64_fragment | if [ "${2:-}" = stock ]; then grep -v '^CONFIG_BPF_EXCEPTIONS_RUST'; else cat; fi >"$1"
}

# build TREE BUILD NAME [stock]
build() {
	local tree=$1 build=$2 name=$3 frag start
	mkdir -p "$build"
	frag=$build/arm64.fragment
	fragment "$frag.new" "${4:-}"
	if [ ! -f "$build/.config" ] || ! cmp -s "$frag.new" "$frag" ||
		{ [ -z "${4:-}" ] && [ "$repo/Kconfig" -nt "$build/.config" ]; }; then
		say "configuring $name (allnoconfig + the arm64 fragment)"
		mv "$frag.new" "$frag"
		ARCH=arm64 configure "$tree" "$build" "$frag" || { rm -f "$frag"; die "configuration of $name failed"; }
		grep -E '^CONFIG_' "$frag" >"$build/last_used_kunitconfig"
	else
		rm -f "$frag.new"
	fi
	say "building $name in $build"
	start=$(date +%s)
	build_kernel "$tree" "$build" ARCH=arm64 ||
		die "build of $name failed; full log in $build/build.log"
	grep -E 'warning:|error:' "$build/build.log" | grep -v '^make' | head -n 20 || true
	say "built $name in $(($(date +%s) - start)) s"
}

lock_build "$cache/build/arm64"
if [ "$which" != stock ]; then
	build "$cache/src/linux-source-6.12" "$cache/build/arm64-6.12" "ours"
fi
if [ "$which" != ours ]; then
	unpack "$cache/src/stock/linux-source-6.12" "$cache/build/stock-arm64-6.12" | sed 's/^/arm64: /'
	build "$cache/src/stock/linux-source-6.12" "$cache/build/stock-arm64-6.12" "stock" stock
fi
