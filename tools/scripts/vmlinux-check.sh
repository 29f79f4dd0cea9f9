#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the built vmlinux and the kernel tree: the Rust unwinder, JIT
# prologue and verifier hooks are in vmlinux, upstream's C unwinder is not,
# bpf_throw() is only a tail call to Rust that keeps the registers the
# unwinder reads, the JIT's C prologue and callee-saved register code is
# gone from arch/x86/net/bpf_jit_comp.c, and the verifier's C exception code
# is gone from kernel/bpf/verifier.c (run inside the build root).
#
# Usage: vmlinux-check.sh CACHEDIR
set -uo pipefail
vmlinux=$1/build/linux-6.12/vmlinux
rust_o=$1/build/linux-6.12/kernel/bpf/exceptions/rust/bpf_exceptions.o
jit_c=$1/src/linux-source-6.12/arch/x86/net/bpf_jit_comp.c
verifier_c=$1/src/linux-source-6.12/kernel/bpf/verifier.c
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

check "bpf_exceptions_throw is defined" \
	'grep -qE " T bpf_exceptions_throw$" <<<"$syms"'
check "bpf_exceptions_throw is the Rust crate's (global_asm!)" \
	'llvm-nm "$rust_o" | grep -qE " T bpf_exceptions_throw$"'
for fn in bpf_exceptions_release bpf_exceptions_find_callback bpf_exceptions_scan \
	bpf_exceptions_check_global_call bpf_exceptions_check_exit \
	bpf_exceptions_add_default_callback bpf_exceptions_jit_done; do
	check "$fn comes from a Rust unit" \
		'llvm-dwarfdump --name=$fn --show-parents "$vmlinux" | grep -q "DW_LANG_Rust"'
done
for fn in bpf_find_exception_callback_insn_off add_hidden_subprog mark_subprog_exc_cb \
	subprog_is_exc_cb; do
	check "no C $fn() in verifier.c" '! grep -qE "^static [a-z ]+ \*?$fn\(" "$verifier_c"'
done
check "verifier.c has none of the exception messages (Rust has them)" \
	'! grep -qE "exception cb (directly|only)|within exception cb|exception callback .%s|cannot attach to exception|bpf_throw (cannot be used|kfunc)" "$verifier_c"'
check "bpf_stack_walker (C) is gone" '! grep -qE " bpf_stack_walker$" <<<"$syms"'
check "arch_bpf_stack_walk (x86 C) is gone" '! grep -qE " arch_bpf_stack_walk$" <<<"$syms"'
check "bpf_throw tail calls bpf_exceptions_throw" 'grep -q "jmp.*<bpf_exceptions_throw>" <<<"$body"'
check "bpf_throw has no body beyond the hand-off (<= 4 instructions)" \
	'[ "$(grep -c . <<<"$body")" -le 4 ]'
check "bpf_throw leaves rsi, rbx and r12-r15 alone" \
	'! grep -qE "%(rsi|rbx|r1[2-5])" <<<"$body"'
for fn in bpf_jit_emit_prologue bpf_jit_emit_restore_callee_saved; do
	check "$fn (Rust) is defined" 'grep -qE " T $fn\$" <<<"$syms"'
	check "$fn comes from a Rust unit" \
		'llvm-dwarfdump --name=$fn --show-parents "$vmlinux" | grep -q "DW_LANG_Rust"'
done
for fn in push_r12 pop_r12 push_callee_regs pop_callee_regs emit_prologue_tail_call; do
	check "no C $fn() in bpf_jit_comp.c" '! grep -qE "^static [a-z ]+ $fn\(" "$jit_c"'
done
check "the JIT's emit_prologue() calls Rust" \
	'sed -n "/^static int emit_prologue(/,/^}/p" "$jit_c" | grep -q bpf_jit_emit_prologue'
echo "vmlinux: $passed passed, $failed failed"
[ "$failed" = 0 ]
