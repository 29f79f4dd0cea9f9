// SPDX-License-Identifier: GPL-2.0

//! arm64: the entry of `bpf_throw()` into the unwinder and the jump into
//! the exception callback.
//!
//! The arm64 JIT's prologue is upstream's: every function pushes a frame
//! record (`stp x29, x30, [sp, #-16]!; mov x29, sp`), and the exception
//! boundary saves all of x19 to x28 below it, which the exception
//! callback's epilogue restores. So the unwinder only has to find the
//! boundary's frame record: the table says that no function saves
//! anything the unwinder must restore, and the callee-saved registers of
//! the program's caller come back from the boundary's save area when the
//! callback returns from the boundary's frame. A throw that releases
//! something reads each frame's R6 to R9 and R10 with the layout of its
//! function's prologue instead (`unwind::frames_arm64`).

use super::{bpf_exceptions_trace, bpf_exceptions_unwind};

/// Strips the pointer authentication code from a return address that a
/// JITed function signed (`paciasp`) before storing it in its frame record.
#[cfg(CONFIG_ARM64_PTR_AUTH_KERNEL)]
#[inline(always)]
pub(super) fn strip_return_address(v: u64) -> usize {
    let mut lr = v;
    // SAFETY: `xpaclri` (hint #7) only rewrites x30, which holds `lr` as an
    // explicit operand (the compiler saves and restores the link register
    // around it); without pointer authentication it is a no-op.
    unsafe {
        core::arch::asm!(
            "hint #7",
            inout("x30") lr,
            options(nomem, nostack, preserves_flags),
        )
    };
    lr as usize
}

/// Return addresses are stored as they are.
#[cfg(not(CONFIG_ARM64_PTR_AUTH_KERNEL))]
#[inline(always)]
pub(super) fn strip_return_address(v: u64) -> usize {
    v as usize
}

// bpf_exceptions_throw(cookie) is reached by a tail call from the C kfunc
// bpf_throw(), so every register is as the program left it: x0 holds the
// cookie, x1 (BPF's R2) the program's aux, loaded by the verifier before
// the call, x29 the throwing function's frame pointer and x30 the return
// address into it. It stores that return address and the cookie, then its
// own frame record, chained to the thrower's, so that the stack can be
// traced from within, and calls
// bpf_exceptions_unwind(cookie, aux, regs, fp, sp, scratch) with sp the
// address of the stored return address (as x86-64's call leaves it), regs
// the program's R9 to R6 (x22 to x19) and a zero (`unwind::Regs`), and
// scratch its R0 and R3 to R5 (x7, x2 to x4: `cleanup::Scratch`), which a
// throw may release; the walk for a release finds each frame's R6 to R9
// with the layouts read from the prologues (`unwind::frames_arm64`), and
// the unwind itself restores nothing. That returns the
// exception callback and the boundary's frame pointer (x0, x1), or does
// not return. The callback is entered as callback(cookie, fp, fp): the
// JIT's callback takes the frame pointer in x2, sets its stack pointer
// below the boundary's save area, and returns from the boundary's frame
// to the program's caller; everything below it is abandoned. Its entry is
// a `bti jc` landing pad, so a `br` may enter it.
//
// Before the unwind, two static branches (`branch_if_on!`) lead, while the
// bpf:bpf_throw tracepoint is on, to a call of bpf_exceptions_trace() with
// the same arguments, and while kernel.bpf_stats_enabled is on, to a call
// of bpf_exceptions_count_throw(aux); the arguments are kept across both.
//
// `branch_if_on!(label, target, key)`: at `label`, a branch to the
// following `target` taken while the static key at `key` is on, as the C
// static_branch_unlikely() does it: with CONFIG_JUMP_LABEL a nop in the
// jump table, which enabling the key turns into a branch; without, a test
// of the key's count (in x16, free here).
#[cfg(CONFIG_JUMP_LABEL)]
macro_rules! branch_if_on {
    ($label:literal, $target:literal, $key:literal) => {
        concat!(
            $label,
            ": nop\n",
            ".pushsection __jump_table, \"aw\"\n",
            ".align 3\n",
            ".long ",
            $label,
            "b - ., ",
            $target,
            "f - .\n",
            ".quad ",
            $key,
            " - .\n",
            ".popsection",
        )
    };
}
#[cfg(not(CONFIG_JUMP_LABEL))]
macro_rules! branch_if_on {
    ($label:literal, $target:literal, $key:literal) => {
        concat!(
            $label,
            ": adrp x16, ",
            $key,
            "\n",
            "ldr w16, [x16, :lo12:",
            $key,
            "]\n",
            "cmp w16, #0\n",
            "b.gt ",
            $target,
            "f",
        )
    };
}
core::arch::global_asm!(
    ".pushsection .text",
    ".globl bpf_exceptions_throw",
    ".type bpf_exceptions_throw, @function",
    ".p2align 2",
    "bpf_exceptions_throw:",
    "stp x30, x0, [sp, #-16]!",
    "stp x29, x30, [sp, #-16]!",
    "mov x29, sp",
    "sub sp, sp, #80",
    "stp x22, x21, [sp]",
    "stp x20, x19, [sp, #16]",
    "str xzr, [sp, #32]",
    "stp x7, x2, [sp, #40]",
    "stp x3, x4, [sp, #56]",
    "mov x2, sp",
    "ldr x3, [x29]",
    "add x4, x29, #16",
    branch_if_on!("1", "3", "{tp} + {key}"),
    branch_if_on!("4", "5", "{stats}"),
    "2: add x5, sp, #40",
    "bl {unwind}",
    "mov x16, x0",
    "mov x2, x1",
    "ldr x0, [x29, #24]",
    "br x16",
    "brk #0x800",
    "3: stp x0, x1, [sp, #-48]!",
    "stp x2, x3, [sp, #16]",
    "str x4, [sp, #32]",
    "bl {trace}",
    "ldp x2, x3, [sp, #16]",
    "ldr x4, [sp, #32]",
    "ldp x0, x1, [sp], #48",
    "b 4b",
    "5: stp x0, x1, [sp, #-48]!",
    "stp x2, x3, [sp, #16]",
    "str x4, [sp, #32]",
    "mov x0, x1",
    "bl {count}",
    "ldp x2, x3, [sp, #16]",
    "ldr x4, [sp, #32]",
    "ldp x0, x1, [sp], #48",
    "b 2b",
    ".size bpf_exceptions_throw, . - bpf_exceptions_throw",
    ".popsection",
    unwind = sym bpf_exceptions_unwind,
    trace = sym bpf_exceptions_trace,
    tp = sym super::__tracepoint_bpf_throw,
    key = const super::TRACEPOINT_KEY,
    count = sym kernel::bindings::bpf_exceptions_count_throw,
    stats = sym super::bpf_stats_enabled_key,
);
