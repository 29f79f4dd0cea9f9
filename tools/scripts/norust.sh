#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the no-Rust kernel: our tree (as make kernel prepared it) with
# tools/config/bpf_exceptions.config minus Rust and everything that needs
# it, in its own build directory (run inside the build root). It shows that
# our series leaves BPF and the x86-64 JIT to kernels without CONFIG_RUST:
# vs-stock.sh compares its test_bpf, test_verifier and test_progs results
# with stock's.
#
# Usage: norust.sh CACHEDIR
set -euo pipefail

cache=$1
repo=$(pwd)
tree=$cache/src/linux-source-6.12
build=$cache/build/norust-6.12

. "$(dirname "$0")/lib.sh"

say() { echo "norust: $*"; }
die() { echo "norust: error: $*" >&2; exit 1; }

lock_build "$build"
mkdir -p "$build"
fragment=$build/norust.fragment
norust_fragment >"$fragment.new"
reconfigure "$tree" "$build" "$fragment" | sed 's/^/norust: /' || die "configuration failed"
say "building the kernel without Rust in $build"
start=$(date +%s)
build_kernel "$tree" "$build" || die "build failed; full log in $build/build.log"
grep -q '^CONFIG_BPF_JIT=y' "$build/.config" || die "no BPF JIT in $build/.config"
say "built in $(($(date +%s) - start)) s"
