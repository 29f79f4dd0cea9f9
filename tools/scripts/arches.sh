#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make arches: build-test our tree on architectures other than x86-64 and
# arm64 (run inside the build root), each from its defconfig plus BPF
# (the bpf() system call and the JIT), with LLVM=1. The kernels are not
# booted: what is checked is that they build and which exception code they
# get, from their .config and vmlinux:
#
#   s390     BPF JIT, exceptions in stock 6.12, no Rust in 6.12: our
#            series rejects exceptions (kernel/bpf/exceptions_off.c)
#   riscv    BPF JIT and Rust, no exceptions in stock 6.12: the same, with
#            or without Rust
#   x86_64-cfi  x86-64 with Rust and CONFIG_CFI_CLANG (our fragment plus
#            CFI), which turns our exceptions off but keeps the Rust JIT
#            prologue: the one kernel with Rust code and exceptions_off.c
#
# Prints one line per architecture: "arches ARCH: 1 passed, 0 failed".
#
# Usage: arches.sh CACHEDIR [ARCH...]
set -uo pipefail

cache=$1
shift
tree=$cache/src/linux-source-6.12
repo=$(pwd)
[ $# -gt 0 ] || set -- s390 riscv x86_64-cfi

for arch in "$@"; do
	build=$cache/build/$arch-6.12
	mkdir -p "$build"
	log=$build/build.log
	start=$(date +%s)
	if [ "$arch" = x86_64-cfi ]; then
		echo "arches: $arch: allnoconfig plus our fragment plus CFI_CLANG, in $build"
		{ cat "$repo/tools/config/bpf_exceptions.config"; echo CONFIG_CFI_CLANG=y; } \
			>"$build/fragment"
		if ! make -s -C "$tree" O="$build" LLVM=1 KCONFIG_ALLCONFIG="$build/fragment" \
			allnoconfig >"$log" 2>&1 ||
			! make -s -C "$tree" O="$build" LLVM=1 -j"$(nproc)" vmlinux >>"$log" 2>&1; then
			grep -E 'error' "$log" | head -n 20
			echo "arches $arch: 0 passed, 1 failed"
			continue
		fi
		ok=1
		for want in '^CONFIG_RUST=y' '^CONFIG_CFI_CLANG=y' '^CONFIG_BPF_JIT_RUST=y'; do
			grep -q "$want" "$build/.config" || { echo "  FAIL .config lacks $want"; ok=0; }
		done
		! grep -q '^CONFIG_BPF_EXCEPTIONS_RUST=y' "$build/.config" ||
			{ echo "  FAIL BPF_EXCEPTIONS_RUST is on with CFI_CLANG"; ok=0; }
		[ -f "$build/kernel/bpf/exceptions_off.o" ] && [ -f "$build/kernel/bpf/exceptions/rust/bpf_exceptions.o" ] ||
			{ echo "  FAIL exceptions_off.o or the Rust crate not built"; ok=0; }
		echo "  built in $(($(date +%s) - start)) s"
		echo "arches $arch: $ok passed, $((1 - ok)) failed"
		continue
	fi
	echo "arches: $arch: defconfig plus BPF, LLVM=1, in $build"
	if ! make -s -C "$tree" O="$build" ARCH=$arch LLVM=1 defconfig >"$log" 2>&1 ||
		! "$tree/scripts/config" --file "$build/.config" -e BPF_SYSCALL -e BPF_JIT \
			-e NET -e BPF_EVENTS >>"$log" 2>&1 ||
		! make -s -C "$tree" O="$build" ARCH=$arch LLVM=1 olddefconfig >>"$log" 2>&1; then
		tail -n 20 "$log"
		echo "arches $arch: 0 passed, 1 failed"
		continue
	fi
	if ! make -s -C "$tree" O="$build" ARCH=$arch LLVM=1 -j"$(nproc)" vmlinux >>"$log" 2>&1; then
		grep -E 'error' "$log" | head -n 20
		echo "arches $arch: 0 passed, 1 failed"
		continue
	fi
	conf() { grep -E "^CONFIG_$1=|^# CONFIG_$1 is not set" "$build/.config" || echo "CONFIG_$1 undefined"; }
	echo "  built in $(($(date +%s) - start)) s; $(conf RUST); $(conf BPF_JIT); $(conf BPF_EXCEPTIONS_RUST)"
	ok=1
	grep -q '^CONFIG_BPF_JIT=y' "$build/.config" || { echo "  FAIL no BPF JIT"; ok=0; }
	# Without our Rust exceptions, the verifier's hooks are the C ones.
	if ! grep -q '^CONFIG_BPF_EXCEPTIONS_RUST=y' "$build/.config"; then
		[ -f "$build/kernel/bpf/exceptions_off.o" ] ||
			{ echo "  FAIL kernel/bpf/exceptions_off.o not built"; ok=0; }
	fi
	echo "arches $arch: $ok passed, $((1 - ok)) failed"
done
