// SPDX-License-Identifier: GPL-2.0

//! x86-64: the entry of `bpf_throw()` into the unwinder and the jump into
//! the exception callback.
//!
//! Every x86-64 JITed function saves only the callee-saved registers it
//! uses, the exception boundary included (the prologue is Rust,
//! [`crate::jit`]); the unwinder restores the program's caller's registers
//! from the frames' save areas, and this entry loads them before it enters
//! the callback.

use super::{bpf_exceptions_trace, bpf_exceptions_unwind};

/// Return addresses are stored as they are.
#[inline(always)]
pub(super) fn strip_return_address(v: u64) -> usize {
    v as usize
}

// bpf_exceptions_throw(cookie) is reached by a tail call from the C kfunc
// bpf_throw(), so every register is as the program left it: rdi holds the
// cookie, rsi the program's aux (loaded by the verifier before the call),
// rbp the throwing function's frame pointer, [rsp] the return address into
// it. It keeps the cookie, pushes the callee-saved registers in the order
// of `unwind::Saved` and then the program's R0 and R3-R5 (rax, rdx, rcx,
// r8: `cleanup::Scratch`, which a throw may release; R1 is the cookie and
// R2 the aux) for bpf_exceptions_unwind(), which replaces the former
// with the values of the program's caller and returns the exception
// callback and the boundary's frame pointer, or does not return. It then
// pops them and jumps to callback(cookie, fp, fp), which takes over the
// boundary's frame and returns from it to the program's caller.
//
// Before the unwind, two static branches (`branch_if_on!`) lead, while the
// bpf:bpf_throw tracepoint is on, to a call of bpf_exceptions_trace() with
// the same arguments, and while kernel.bpf_stats_enabled is on, to a call
// of bpf_exceptions_count_throw(aux); the arguments are kept across both.
#[cfg(not(CONFIG_MITIGATION_RETPOLINE))]
macro_rules! jmp_rax {
    () => {
        "jmp rax"
    };
}
#[cfg(CONFIG_MITIGATION_RETPOLINE)]
macro_rules! jmp_rax {
    () => {
        "jmp __x86_indirect_thunk_rax"
    };
}
// `branch_if_on!(label, target, key)`: at `label`, a branch to the
// following `target` taken while the static key at `key` is on, as the C
// static_branch_unlikely() does it: with CONFIG_JUMP_LABEL a 5-byte nop
// in the jump table, which enabling the key turns into a jump; without, a
// test of the key's count.
#[cfg(CONFIG_JUMP_LABEL)]
macro_rules! branch_if_on {
    ($label:literal, $target:literal, $key:literal) => {
        concat!(
            $label,
            ": .byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n",
            ".pushsection __jump_table, \"aw\"\n",
            ".balign 8\n",
            ".long ",
            $label,
            "b - .\n",
            ".long ",
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
            ": cmp dword ptr [rip + ",
            $key,
            "], 0\n",
            "jg ",
            $target,
            "f",
        )
    };
}
core::arch::global_asm!(
    ".pushsection .text",
    ".globl bpf_exceptions_throw",
    ".type bpf_exceptions_throw, @function",
    "bpf_exceptions_throw:",
    "push rdi",
    "push r12",
    "push rbx",
    "push r13",
    "push r14",
    "push r15",
    "push r8",
    "push rcx",
    "push rdx",
    "push rax",
    "lea rdx, [rsp + 32]",
    "mov rcx, rbp",
    "lea r8, [rsp + 80]",
    branch_if_on!("1", "3", "{tp} + {key}"),
    branch_if_on!("4", "5", "{stats}"),
    "2: mov r9, rsp",
    "call {unwind}",
    "add rsp, 32",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop rbx",
    "pop r12",
    "pop rdi",
    "mov rsi, rdx",
    jmp_rax!(),
    "int3",
    "3: push rdi",
    "push rsi",
    "push rdx",
    "push rcx",
    "push r8",
    "call {trace}",
    "pop r8",
    "pop rcx",
    "pop rdx",
    "pop rsi",
    "pop rdi",
    "jmp 4b",
    "5: push rdi",
    "push rsi",
    "push rdx",
    "push rcx",
    "push r8",
    "mov rdi, rsi",
    "call {count}",
    "pop r8",
    "pop rcx",
    "pop rdx",
    "pop rsi",
    "pop rdi",
    "jmp 2b",
    ".size bpf_exceptions_throw, . - bpf_exceptions_throw",
    ".popsection",
    unwind = sym bpf_exceptions_unwind,
    trace = sym bpf_exceptions_trace,
    tp = sym super::__tracepoint_bpf_throw,
    key = const super::TRACEPOINT_KEY,
    count = sym kernel::bindings::bpf_exceptions_count_throw,
    stats = sym super::bpf_stats_enabled_key,
);
