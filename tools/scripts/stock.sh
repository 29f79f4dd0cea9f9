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
tarball=/usr/src/linux-source-6.12.tar.xz

. "$(dirname "$0")/lib.sh"

say() { echo "stock: $*"; }
die() { echo "stock: error: $*" >&2; exit 1; }

pkgver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
if [ -d "$tree" ] && [ "$(cat "$tree/.bpfexc-version" 2>/dev/null)" != "$pkgver" ]; then
	rm -rf "$tree" "$build"
fi
if [ ! -d "$tree" ]; then
	say "unpacking linux-source-6.12 $pkgver (stock)"
	mkdir -p "$(dirname "$tree")"
	rm -rf "$tree.tmp" && mkdir "$tree.tmp"
	tar -C "$tree.tmp" --strip-components=1 -xf "$tarball"
	echo "$pkgver" >"$tree.tmp/.bpfexc-version"
	mv "$tree.tmp" "$tree"
fi

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
if ! make -s -C "$tree" O="$build" LLVM=1 -j"$(nproc)" all >"$build/build.log" 2>&1; then
	tail -n 40 "$build/build.log" >&2
	die "build failed; full log in $build/build.log"
fi
say "built in $(($(date +%s) - start)) s"
