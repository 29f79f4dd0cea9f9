#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the stock kernel: the same linux-source-6.12, without any of our
# patches or code, with the same configuration fragment minus our own
# options (run inside the build root). It is what test_bpf's results and
# the benchmarks are compared with.
#
# Usage: stock.sh CACHEDIR
set -euo pipefail

cache=$1
repo=$(pwd)
tree=$cache/src/stock/linux-source-6.12
build=$cache/build/stock-6.12

. "$(dirname "$0")/lib.sh"

say() { echo "stock: $*"; }
die() { echo "stock: error: $*" >&2; exit 1; }

lock_build "$build"
unpack "$tree" "$build" | sed 's/^/stock: /'

mkdir -p "$build"
fragment=$build/stock.config
grep -v '^CONFIG_BPF_EXCEPTIONS_RUST' "$repo/tools/config/bpf_exceptions.config" >"$fragment.new"
if [ ! -f "$build/.config" ] || ! cmp -s "$fragment.new" "$fragment"; then
	say "configuring (allnoconfig + our fragment without our options)"
	mv "$fragment.new" "$fragment"
	configure "$tree" "$build" "$fragment" || { rm -f "$fragment"; die "configuration failed"; }
else
	rm -f "$fragment.new"
fi
say "building stock Linux $(make -s -C "$tree" kernelversion) in $build"
start=$(date +%s)
build_kernel "$tree" "$build" || die "build failed; full log in $build/build.log"
say "built in $(($(date +%s) - start)) s"
