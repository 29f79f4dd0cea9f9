#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the debug kernel: our tree (as make kernel prepared it) with
# tools/config/bpf_exceptions.config plus tools/config/debug.config (KASAN,
# kmemleak, lockdep with PROVE_RCU, DEBUG_ATOMIC_SLEEP, UBSAN), in its own
# build directory (run inside the build root).
#
# Usage: debug.sh CACHEDIR
set -euo pipefail

cache=$1
repo=$(pwd)
tree=$cache/src/linux-source-6.12
build=$cache/build/debug-6.12

. "$(dirname "$0")/lib.sh"

say() { echo "debug: $*"; }
die() { echo "debug: error: $*" >&2; exit 1; }

lock_build "$build"
mkdir -p "$build"
fragment=$build/debug.fragment
cat "$repo/tools/config/bpf_exceptions.config" "$repo/tools/config/debug.config" >"$fragment.new"
reconfigure "$tree" "$build" "$fragment" | sed 's/^/debug: /' || die "configuration failed"
say "building the debug kernel in $build"
start=$(date +%s)
build_kernel "$tree" "$build" || die "build failed; full log in $build/build.log"
say "built in $(($(date +%s) - start)) s"
