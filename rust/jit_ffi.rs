// SPDX-License-Identifier: GPL-2.0

//! C entry points of the x86-64 BPF JIT's prologue and callee-saved register
//! restore (arch/x86/include/asm/bpf_jit.h). The layout is in [`crate::jit`].

use crate::{
    jit::{self, Frame},
    x86::{Code, Overflow},
};
use core::ffi::c_int;
use kernel::{bindings, error::code::E2BIG};

impl From<&bindings::bpf_jit_frame> for Frame {
    fn from(f: &bindings::bpf_jit_frame) -> Self {
        Frame {
            stack_depth: f.stack_depth,
            from_cbpf: f.from_cbpf,
            tail_call_reachable: f.tail_call_reachable,
            is_subprog: f.is_subprog,
            exception_cb: f.exception_cb,
            arena: f.arena,
            callee_regs_used: f.callee_regs_used,
            ibt: f.ibt,
        }
    }
}

// jit.rs restates the kernel's constant so that it also builds on the host.
const _: () = assert!(jit::MAX_TAIL_CALL_CNT as u32 == bindings::MAX_TAIL_CALL_CNT);

type Emitter = fn(&Frame, &mut Code<'_>) -> Result<usize, Overflow>;

/// Runs `emit` for `frame` into the C buffer.
///
/// # Safety
///
/// `buf` must be valid for writes of `size` bytes.
unsafe fn emit_into(buf: *mut u8, size: u32, frame: &Frame, emit: Emitter) -> c_int {
    // SAFETY: The caller gives a writable buffer of `size` bytes, which the
    // JIT does not touch while we fill it.
    let buf = unsafe { core::slice::from_raw_parts_mut(buf, size as usize) };
    match emit(frame, &mut Code::new(buf)) {
        // At most a few dozen bytes.
        Ok(len) => len as c_int,
        Err(Overflow) => E2BIG.to_errno(),
    }
}

/// Emits the prologue of a JITed BPF function after its CFI preamble, and
/// sets `frame->saved_regs` to what it saves, for `bpf_throw()`.
///
/// # Safety
///
/// `buf` must be valid for writes of `size` bytes and `frame` for reads and
/// writes.
#[no_mangle]
pub unsafe extern "C" fn bpf_jit_emit_prologue(
    buf: *mut u8,
    size: u32,
    frame: *mut bindings::bpf_jit_frame,
) -> c_int {
    // SAFETY: The caller gives a valid frame description, which the JIT
    // does not touch while we run.
    let frame = unsafe { &mut *frame };
    let f = Frame::from(&*frame);
    frame.saved_regs = f.saved_regs().0;
    // SAFETY: Our caller's guarantee for `buf` is what `emit_into` needs.
    unsafe { emit_into(buf, size, &f, jit::prologue) }
}

/// Emits the restore of the callee-saved registers that the prologue saved.
///
/// # Safety
///
/// `buf` must be valid for writes of `size` bytes and `frame` for reads.
#[no_mangle]
pub unsafe extern "C" fn bpf_jit_emit_restore_callee_saved(
    buf: *mut u8,
    size: u32,
    frame: *const bindings::bpf_jit_frame,
) -> c_int {
    // SAFETY: The caller gives a readable frame description.
    let f = Frame::from(unsafe { &*frame });
    // SAFETY: Our caller's guarantee for `buf` is what `emit_into` needs.
    unsafe { emit_into(buf, size, &f, jit::restore_callee_saved) }
}
