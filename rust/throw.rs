// SPDX-License-Identifier: GPL-2.0

//! The kernel side of `bpf_throw()`: reading JIT frames, classifying return
//! addresses with the BPF symbol table, and entering the exception callback.

use crate::unwind::{self, Boundary, Code, Layout, Programs, Stack};
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

/// The BPF symbol table and the programs' function arrays.
pub(crate) struct BpfSymbols;

/// The image of one JITed function, its end included: a call at the very
/// end of an image (to `bpf_throw()`, which does not return) leaves a
/// return address equal to the end.
///
/// # Safety
///
/// `f` must be a live, JITed program or function.
unsafe fn image(f: *const bindings::bpf_prog) -> core::ops::Range<usize> {
    // SAFETY: The caller guarantees `f` is live.
    let (start, len) = unsafe {
        (
            (*f).bpf_func.map_or(0, |p| p as usize),
            (*f).jited_len as usize,
        )
    };
    start..start + len + 1
}

impl Programs for BpfSymbols {
    type Prog = *mut bindings::bpf_prog;

    fn lookup(&mut self, ip: usize) -> Code<Self::Prog> {
        // SAFETY: Plain RCU read-side critical section, closed below;
        // nothing in between sleeps.
        unsafe { bindings::rcu_read_lock() };
        // SAFETY: The RCU read lock is held, as the latch tree lookup
        // requires.
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
            // program is running and can neither be freed nor have its
            // `aux` replaced until it returns, which is after we are done;
            // `func_idx` is set at JIT time.
            let main = unsafe { (*(*prog).aux).func_idx } == 0;
            Code::Prog { prog, main }
        };
        // SAFETY: Closes the section opened above.
        unsafe { bindings::rcu_read_unlock() };
        code
    }

    fn layout(&mut self, prog: Self::Prog) -> Layout {
        // SAFETY: `prog` came from `lookup` for an address on the stack, so
        // it and its function array (`aux->func[0..real_func_cnt]`, shared
        // by the main program and its subprograms) are live, as in `lookup`.
        unsafe {
            let aux = (*prog).aux;
            let (funcs, n) = ((*aux).func, (*aux).real_func_cnt as usize);
            if funcs.is_null() || n == 0 {
                let main = image(prog);
                return Layout {
                    span: main.clone(),
                    main,
                };
            }
            let main = image(*funcs);
            let mut span = main.clone();
            for i in 1..n {
                let f = image(*funcs.add(i));
                span = span.start.min(f.start)..span.end.max(f.end);
            }
            Layout { main, span }
        }
    }
}

/// An exception callback: `bpf_exception_cb(cookie, sp, bp, 0, 0)`.
type ExceptionCb = unsafe extern "C" fn(u64, u64, u64, u64, u64) -> u64;

/// The entry of a JITed function, as `struct bpf_prog` stores it.
type BpfFunc = unsafe extern "C" fn(*const c_void, *const bindings::bpf_insn) -> u32;

/// Returns the exception callback of the program that `prog` (its main
/// program or one of its subprograms) belongs to, if it is an exception
/// boundary: the function flagged `exception_cb` in its function array, the
/// one upstream stores in `aux->bpf_exception_cb` of the main program.
///
/// # Safety
///
/// `prog` must be live, as what `BpfSymbols::lookup` returns is.
unsafe fn exception_callback(prog: *mut bindings::bpf_prog) -> Option<ExceptionCb> {
    // SAFETY: As in `BpfSymbols::layout`.
    unsafe {
        let aux = (*prog).aux;
        // The main program itself, as the symbol table returns it, has it.
        if (*aux).bpf_exception_cb.is_some() {
            return (*aux)
                .bpf_exception_cb
                .filter(|_| (*aux).exception_boundary);
        }
        let (funcs, n) = ((*aux).func, (*aux).real_func_cnt as usize);
        if funcs.is_null() || n == 0 || !(*(**funcs).aux).exception_boundary {
            return None;
        }
        // From the end: the hidden default callback is the last function.
        for i in (1..n).rev() {
            let f = *funcs.add(i);
            if (*(*f).aux).exception_cb {
                let entry = (*f).bpf_func?;
                // SAFETY: The JIT compiled this function as the program's
                // exception callback, with the calling convention of
                // `bpf_exception_cb` (upstream stores this very pointer,
                // cast, in `aux->bpf_exception_cb`).
                return Some(core::mem::transmute::<BpfFunc, ExceptionCb>(entry));
            }
        }
        None
    }
}

/// Finds the exception boundary of the program that called `bpf_throw()`.
///
/// `frame` is a frame record on the current stack whose return address
/// points into BPF code, as the frame address of `bpf_throw()` is.
pub(crate) fn find_boundary(
    frame: *const c_void,
) -> core::result::Result<Boundary<*mut bindings::bpf_prog>, unwind::WalkError> {
    unwind::find_boundary(&FrameRecords, frame as usize, &mut BpfSymbols)
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
    // SAFETY: `boundary.prog` came from the symbol table for a return
    // address on this stack, so it is live.
    let Some(callback) = (unsafe { exception_callback(boundary.prog) }) else {
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
