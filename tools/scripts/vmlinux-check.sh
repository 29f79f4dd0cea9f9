#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the built vmlinux: the Rust unwinder is in it, upstream's C
# unwinder is not, and bpf_throw() is only the hand-off to Rust (run inside
# the build root).
#
# Usage: vmlinux-check.sh CACHEDIR
set -uo pipefail
vmlinux=$1/build/linux-6.12/vmlinux
passed=0 failed=0

check() {
	if eval "$2"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "  FAIL $1"
	fi
}

syms=$(llvm-nm "$vmlinux")
body=$(llvm-objdump -d --no-show-raw-insn --disassemble-symbols=bpf_throw "$vmlinux" |
	sed -n '/<bpf_throw>:/,$p' | tail -n +2 | grep -v '^$')
echo "  bpf_throw in vmlinux:"
echo "$body" | sed 's/^ */    /'

check "bpf_exceptions_throw (Rust) is defined" \
	'grep -qE " T bpf_exceptions_throw$" <<<"$syms"'
check "bpf_exceptions_throw comes from a Rust unit" \
	'llvm-dwarfdump --name=bpf_exceptions_throw --show-parents "$vmlinux" | grep -q "DW_LANG_Rust"'
check "bpf_stack_walker (C) is gone" '! grep -qE " bpf_stack_walker$" <<<"$syms"'
check "arch_bpf_stack_walk (x86 C) is gone" '! grep -qE " arch_bpf_stack_walk$" <<<"$syms"'
check "bpf_throw calls bpf_exceptions_throw" 'grep -q "call.*<bpf_exceptions_throw>" <<<"$body"'
check "bpf_throw has no body beyond the hand-off (<= 8 instructions)" \
	'[ "$(grep -c . <<<"$body")" -le 8 ]'
echo "vmlinux: $passed passed, $failed failed"
[ "$failed" = 0 ]
