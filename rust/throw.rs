// SPDX-License-Identifier: GPL-2.0

//! The kernel side of `bpf_throw()`: reading JIT frames, classifying return
//! addresses with the BPF symbol table, and entering the exception callback.

use crate::unwind::{self, Boundary, Code, Stack};
use core::ffi::c_void;
use kernel::{bindings, prelude::*};

/// Reads the frame records of the stack `bpf_throw()` runs on.
struct FrameRecords;

impl Stack for FrameRecords {
    fn read(&self, addr: usize) -> usize {
        // SAFETY: `find_boundary` reads only the two aligned words of a frame
        // record that is live below us on this stack: the record of
        // `bpf_throw()`, whose frame is active while we run, or a record
        // reached through a frame pointer that JITed BPF code or a BPF
        // trampoline saved, which are frame pointers of their callers'
        // frames, also active. Nothing else writes to them while we read.
        unsafe { core::ptr::read(addr as *const usize) }
    }
}

/// Tells what `ip` returns into.
pub(crate) fn classify(ip: usize) -> Code<*mut bindings::bpf_prog_aux> {
    // SAFETY: Plain RCU read-side critical section, closed below; nothing
    // in between sleeps.
    unsafe { bindings::rcu_read_lock() };
    // SAFETY: The RCU read lock is held, as the latch tree lookup requires.
    let prog = unsafe { bindings::bpf_prog_ksym_find(ip as _) };
    let code = if prog.is_null() {
        // SAFETY: Takes the RCU read lock itself; any address is valid.
        if unsafe { bindings::is_bpf_text_address(ip as _) } {
            Code::OtherBpf
        } else {
            Code::Kernel
        }
    } else {
        // SAFETY: `ip` is a return address on the current stack, so the
        // program is running and can neither be freed nor have its `aux`
        // replaced until it returns, which is after we are done.
        let aux = unsafe { (*prog).aux };
        // SAFETY: As above, `aux` is live; `func_idx` is set at JIT time.
        if unsafe { (*aux).func_idx } != 0 {
            Code::Subprog
        } else {
            Code::Main(aux)
        }
    };
    // SAFETY: Closes the section opened above.
    unsafe { bindings::rcu_read_unlock() };
    code
}

/// Finds the exception boundary of the program that called `bpf_throw()`.
///
/// `frame` is a frame record on the current stack whose return address
/// points into BPF code, as the frame address of `bpf_throw()` is.
pub(crate) fn find_boundary(
    frame: *const c_void,
) -> core::result::Result<Boundary<*mut bindings::bpf_prog_aux>, unwind::WalkError> {
    unwind::find_boundary(&FrameRecords, frame as usize, classify)
}

/// Unwinds the BPF program that called `bpf_throw(cookie)` and enters its
/// exception callback, which returns from the program's main function.
///
/// Returns only if no exception boundary is on the stack (the verifier rules
/// that out) or if the program has no exception callback (the verifier gives
/// every program that can throw one); both are reported.
///
/// # Safety
///
/// `frame` must be the frame address of `bpf_throw()` while it runs: a frame
/// record on the current stack whose saved frame pointer and return address
/// are those of the BPF function that called it.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_throw(cookie: u64, frame: *const c_void) {
    let boundary = match find_boundary(frame) {
        Ok(b) => b,
        Err(e) => {
            pr_emerg!("bpf_throw: no exception boundary: {:?}\n", e);
            return;
        }
    };
    let aux = boundary.prog;
    // SAFETY: `aux` belongs to the program whose main function is on the
    // stack (see `classify`), so it is live.
    let (is_boundary, callback) = unsafe { ((*aux).exception_boundary, (*aux).bpf_exception_cb) };
    let Some(callback) = callback.filter(|_| is_boundary) else {
        pr_emerg!("bpf_throw: program has no exception callback\n");
        return;
    };

    // The frames below the boundary are abandoned without returning, which
    // skips KASAN's own unpoisoning of their stack.
    #[cfg(CONFIG_KASAN_STACK)]
    // SAFETY: `sp` lies on the current task's stack, above our own frame.
    unsafe {
        bindings::kasan_unpoison_task_stack_below(boundary.sp as *const c_void)
    };

    // SAFETY: The JIT built `callback` as this program's exception callback:
    // it takes the boundary's stack and frame pointer, restores the
    // callee-saved registers that the boundary's prologue pushed, and
    // returns its value from the boundary frame to the program's caller.
    // Everything below `sp` (our frame, `bpf_throw()` and the unwound BPF
    // frames) is dead from here on; none of it holds a lock or reference.
    unsafe { callback(cookie, boundary.sp as u64, boundary.bp as u64, 0, 0) };
}
