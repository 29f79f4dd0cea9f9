#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the built vmlinux and the kernel tree: the Rust unwinder, JIT
# prologue and verifier hooks are in vmlinux, upstream's C unwinder is not,
# bpf_throw() is only a tail call to Rust that keeps the registers the
# unwinder reads, the JIT's C prologue and callee-saved register code is
# gone from arch/x86/net/bpf_jit_comp.c, and the verifier's C exception code
# is gone from kernel/bpf/verifier.c, and nothing can trace bpf_throw() or
# the unwinder's entry (run inside the build root).
#
# Usage: vmlinux-check.sh CACHEDIR
set -uo pipefail
cache=$1
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
	'llvm-nm "$rust_o" | grep -E " T bpf_exceptions_throw$" >/dev/null'
for fn in bpf_exceptions_release bpf_exceptions_find_callback bpf_exceptions_scan \
	bpf_exceptions_check_global_call bpf_exceptions_check_exit \
	bpf_exceptions_add_default_callback bpf_exceptions_jit_done; do
	check "$fn comes from a Rust unit" \
		'llvm-dwarfdump --name=$fn --show-parents "$vmlinux" | grep "DW_LANG_Rust" >/dev/null'
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
# Exactly the hand-off: [endbr64;] jmp bpf_exceptions_throw, then only
# padding: no instrumentation call and no register write before the jump.
handoff_only() {
	local insns head rest
	insns=$(sed -E 's/^ *[0-9a-f]+:[[:space:]]+//' <<<"$body" | awk '{print $1}')
	head=$(sed '/^jmp$/q' <<<"$insns" | paste -sd' ')
	rest=$(sed '1,/^jmp$/d' <<<"$insns" | grep -vE '^(nop[lw]?|int3)$' || true)
	[[ $head =~ ^(endbr64\ )?jmp$ ]] && [ -z "$rest" ]
}
check "bpf_throw is [endbr64;] jmp, then padding only" handoff_only
check "bpf_throw leaves rsi, rbx and r12-r15 alone" \
	'! grep -qE "%(rsi|rbx|r1[2-5])" <<<"$body"'
# A throw may release what R0 and R3-R5 hold (rust/cleanup.rs); the
# padding after the jump (nopl (%rax)) does not run.
check "bpf_throw leaves rax, rdx, rcx and r8 alone" \
	'! grep -v nop <<<"$body" | grep -E "%([re]?ax|[re]?dx|[re]?cx|r8)" >/dev/null'
# Nor may the JIT write R0 (rax) between the program and the call: it
# loads the tail call count pointer there before other calls of functions
# that can reach a tail call (KUnit jit_tail_call_exception_boundary
# checks the bytes).
check "the x86 JIT loads no tail call count pointer at calls of bpf_throw" \
	'grep -q "func == (u8 \*)bpf_throw;" "$jit_c" && grep -q "tail_call_reachable && !is_throw" "$jit_c"'
# Nothing can trace bpf_throw() or the unwinder's entry: no ftrace call
# site (__fentry__ or its 5-byte nop), both on the kprobe blacklist, and
# bpf_throw in the verifier's btf_id_deny set for tracing programs.
raw=$(llvm-objdump -d --disassemble-symbols=bpf_throw "$vmlinux" | sed -n '/<bpf_throw>:/,$p')
check "bpf_throw has no ftrace call site" \
	'! grep -qE "__fentry__|0f 1f 44 00 00|e8 00 00 00 00" <<<"$raw"'
blacklisted() {
	python3 - "$vmlinux" "$@" <<'PY'
# The linker script gathers _kprobe_blacklist into init data, between
# __start_kprobe_blacklist and __stop_kprobe_blacklist: read those words
# from the file through the section headers.
import struct, subprocess, sys
vmlinux, names = sys.argv[1], sys.argv[2:]
syms = {}
for line in subprocess.run(["llvm-nm", vmlinux], capture_output=True, text=True).stdout.splitlines():
    parts = line.split()
    if len(parts) == 3:
        syms[parts[2]] = int(parts[0], 16)
start, stop = syms["__start_kprobe_blacklist"], syms["__stop_kprobe_blacklist"]
for line in subprocess.run(["llvm-readelf", "-SW", vmlinux], capture_output=True, text=True).stdout.splitlines():
    f = line.replace("[ ", "[").split()
    if len(f) > 6 and f[0].startswith("[") and f[2] == "PROGBITS":
        addr, off, size = int(f[3], 16), int(f[4], 16), int(f[5], 16)
        if addr <= start and stop <= addr + size:
            with open(vmlinux, "rb") as fh:
                fh.seek(off + start - addr)
                data = fh.read(stop - start)
            break
else:
    sys.exit("no section holds the kprobe blacklist")
addrs = set(struct.unpack("<%dQ" % (len(data) // 8), data))
# A relocatable kernel (arm64) holds zeros there and the addresses as the
# addends of R_*_RELATIVE relocations, applied at boot.
for line in subprocess.run(["llvm-readelf", "-rW", vmlinux], capture_output=True, text=True).stdout.splitlines():
    f = line.split()
    if len(f) == 4 and f[2].endswith("_RELATIVE"):
        off = int(f[0], 16)
        if start <= off < stop:
            addrs.add(int(f[3], 16))
sys.exit(0 if all(n in syms and syms[n] in addrs for n in names) else 1)
PY
}
check "bpf_throw and bpf_exceptions_throw are on the kprobe blacklist" \
	'blacklisted bpf_throw bpf_exceptions_throw'
# The C helpers the unwinder's entry calls for bpf:bpf_throw and the throw
# count: a probe there could throw from within every throw.
check "bpf_exceptions_trace_throw and bpf_exceptions_count_throw are on the kprobe blacklist" \
	'blacklisted bpf_exceptions_trace_throw bpf_exceptions_count_throw'
check "tracing programs cannot attach to bpf_throw (btf_id_deny)" \
	'sed -n "/^BTF_SET_START(btf_id_deny)/,/^BTF_SET_END(btf_id_deny)/p" "$verifier_c" | grep "BTF_ID(func, bpf_throw)" >/dev/null'
# kCFI/FineIBT are excluded by Kconfig (IBT works: the JIT's entries, where
# the unwinder jumps, start with endbr64, which KUnit's jit_* cases check).
cfi_excluded() {
	local tmp rc
	tmp=$(mktemp -d)
	cp "$cache/build/linux-6.12/.config" "$tmp/.config"
	echo CONFIG_CFI_CLANG=y >>"$tmp/.config"
	make -s -C "$cache/src/linux-source-6.12" O="$tmp" LLVM=1 olddefconfig >/dev/null 2>&1 &&
		grep -q '^CONFIG_CFI_CLANG=y' "$tmp/.config" && grep -q '^CONFIG_RUST=y' "$tmp/.config" &&
		! grep -q '^CONFIG_BPF_EXCEPTIONS_RUST=y' "$tmp/.config"
	rc=$?
	rm -rf "$tmp"
	return $rc
}
check "with CONFIG_CFI_CLANG, Kconfig turns BPF_EXCEPTIONS_RUST off" cfi_excluded
for fn in bpf_jit_emit_prologue bpf_jit_emit_restore_callee_saved; do
	check "$fn (Rust) is defined" 'grep -qE " T $fn\$" <<<"$syms"'
	check "$fn comes from a Rust unit" \
		'llvm-dwarfdump --name=$fn --show-parents "$vmlinux" | grep "DW_LANG_Rust" >/dev/null'
done
for fn in push_r12 pop_r12 push_callee_regs pop_callee_regs emit_prologue_tail_call; do
	check "no C $fn() in bpf_jit_comp.c" '! grep -qE "^static [a-z ]+ $fn\(" "$jit_c"'
done
check "the JIT's emit_prologue() calls Rust" \
	'sed -n "/^static int emit_prologue(/,/^}/p" "$jit_c" | grep bpf_jit_emit_prologue >/dev/null'

# The kernel without Rust (norust.sh), if built: the C verifier hooks that
# reject exceptions, the C prologue, no Rust at all.
nr=$cache/build/norust-6.12/vmlinux
if [ -f "$nr" ]; then
	nrsyms=$(llvm-nm "$nr")
	check "without Rust: no CONFIG_RUST, a BPF JIT" \
		'grep -q "^# CONFIG_RUST is not set" "$cache/build/norust-6.12/.config" &&
		 grep -q "^CONFIG_BPF_JIT=y" "$cache/build/norust-6.12/.config"'
	check "without Rust: the verifier hooks are exceptions_off.c's" \
		'llvm-dwarfdump --name=bpf_exceptions_throw_kfunc "$nr" | grep "exceptions_off.c" >/dev/null'
	check "without Rust: bpf_jit_emit_prologue is C" \
		'llvm-dwarfdump --name=bpf_jit_emit_prologue "$nr" | grep "bpf_jit_comp.c" >/dev/null'
	check "without Rust: bpf_throw is still a kfunc (so its callers meet the verifier)" \
		'grep -qE " T bpf_throw$" <<<"$nrsyms"'
	check "without Rust: no Rust unwinder" '! grep -qE " T bpf_exceptions_throw$" <<<"$nrsyms"'
fi

# arm64 (arm64.sh), if built: bpf_throw is a landing pad and a branch to the
# Rust entry, which the kprobe blacklist holds; no C stack walker.
a64=$cache/build/arm64-6.12/vmlinux
if [ -f "$a64" ]; then
	abody=$(llvm-objdump -d --no-show-raw-insn --disassemble-symbols=bpf_throw "$a64" |
		sed -n '/<bpf_throw>:/,$p' | tail -n +2 | grep -v '^$' | grep -v 'nop$')
	echo "  bpf_throw in the arm64 vmlinux:"
	echo "$abody" | sed 's/^ */    /'
	check "arm64: bpf_throw is bti c; b bpf_exceptions_throw" \
		'[ "$(grep -c . <<<"$abody")" = 2 ] && grep -q "bti	c" <<<"$abody" &&
		 grep -qE "	b	.*<bpf_exceptions_throw>" <<<"$abody"'
	check "arm64: bpf_exceptions_unwind and the verifier hooks are Rust" \
		'llvm-dwarfdump --name=bpf_exceptions_check_exit --show-parents "$a64" | grep DW_LANG_Rust >/dev/null'
	check "arm64: no arch_bpf_stack_walk" '! llvm-nm "$a64" | grep -E " arch_bpf_stack_walk$" >/dev/null'
	vmlinux=$a64 check "arm64: bpf_throw and bpf_exceptions_throw are on the kprobe blacklist" \
		'blacklisted bpf_throw bpf_exceptions_throw'
	# With a shadow call stack (tools/config/arm64.config) every function
	# that saves its return address pushes it on x18's stack too, and pops
	# it on return. A throw leaves x18 where the program's caller expects
	# it only if nothing between the program and the callback's return
	# pushes without popping: bpf_throw has no frame (above), the entry
	# does not touch x18, and the Rust it calls returns before the jump.
	# Stock's bpf_throw pushes, then calls the exception callback, which
	# never returns to pop: x18 stays one entry too high, and the
	# program's caller returns through bpf_throw's return address.
	unwind_sym=$(llvm-nm "$a64" | sed -n 's/^[0-9a-f]* [tT] \(.*bpf_exceptions_unwind\)$/\1/p' | head -n 1)
	unwind_body=$(llvm-objdump -d --no-show-raw-insn --disassemble-symbols="$unwind_sym" "$a64")
	entry_body=$(llvm-objdump -d --no-show-raw-insn --disassemble-symbols=bpf_exceptions_throw "$a64")
	check "arm64: built with a shadow call stack (the Rust unwinder pushes on x18 and pops)" \
		'grep -q "^CONFIG_SHADOW_CALL_STACK=y" "$cache/build/arm64-6.12/.config" &&
		 grep -qE "str	x30, \[x18\], #(0x)?8" <<<"$unwind_body" &&
		 grep -qE "ldr	x30, \[x18, #-(0x)?8\]!" <<<"$unwind_body"'
	check "arm64: bpf_exceptions_throw leaves x18 alone" \
		'grep -q "br	x16" <<<"$entry_body" && ! grep -qwE "[xw]18" <<<"$entry_body"'
	s64=$cache/build/stock-arm64-6.12/vmlinux
	if [ -f "$s64" ]; then
		stock_body=$(llvm-objdump -d --no-show-raw-insn --disassemble-symbols=bpf_throw "$s64")
		check "stock arm64: bpf_throw pushes on the shadow call stack (a throw leaves x18 high)" \
			'grep -qE "str	x30, \[x18\], #(0x)?8" <<<"$stock_body"'
	fi
fi
echo "vmlinux: $passed passed, $failed failed"
[ "$failed" = 0 ]
