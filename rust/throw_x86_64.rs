// SPDX-License-Identifier: GPL-2.0

//! x86-64: the entry of `bpf_throw()` into the unwinder and the jump into
//! the exception callback.
//!
//! Every x86-64 JITed function saves only the callee-saved registers it
//! uses, the exception boundary included (the prologue is Rust,
//! [`crate::jit`]); the unwinder restores the program's caller's registers
//! from the frames' save areas, and this entry loads them before it enters
//! the callback.

use super::bpf_exceptions_unwind;

/// Return addresses are stored as they are.
#[inline(always)]
pub(super) fn strip_return_address(v: u64) -> usize {
    v as usize
}

// bpf_exceptions_throw(cookie) is reached by a tail call from the C kfunc
// bpf_throw(), so every register is as the program left it: rdi holds the
// cookie, rsi the program's aux (loaded by the verifier before the call),
// rbp the throwing function's frame pointer, [rsp] the return address into
// it. It keeps the cookie and pushes the callee-saved registers in the
// order of `unwind::Saved` for bpf_exceptions_unwind(), which replaces them
// with the values of the program's caller and returns the exception
// callback and the boundary's frame pointer, or does not return. It then
// pops them and jumps to callback(cookie, fp, fp), which takes over the
// boundary's frame and returns from it to the program's caller.
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
    "mov rdx, rsp",
    "mov rcx, rbp",
    "lea r8, [rsp + 48]",
    "call {unwind}",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop rbx",
    "pop r12",
    "pop rdi",
    "mov rsi, rdx",
    jmp_rax!(),
    "int3",
    ".size bpf_exceptions_throw, . - bpf_exceptions_throw",
    ".popsection",
    unwind = sym bpf_exceptions_unwind,
);
