// SPDX-License-Identifier: GPL-2.0

//! The kernel side of `bpf_throw()`: the per-program map of JITed functions,
//! the entry from the kfunc, and the entry into the exception callback.
//!
//! The verifier loads the throwing program's `struct bpf_prog_aux` into R2
//! (`rsi` on x86-64, `x1` on arm64) before each call of `bpf_throw()`, and
//! the C kfunc tail calls `bpf_exceptions_throw` with every register as the
//! program left it. That entry, per architecture (`throw_x86_64.rs`,
//! `throw_arm64.rs`), saves what it must and calls
//! [`bpf_exceptions_unwind`], which unwinds with the program's
//! [`ExceptionTable`]; the entry then restores the registers of the
//! program's caller (x86-64; on arm64 the callback does) and jumps to the
//! exception callback.

use crate::unwind::{self, Func, Geometry, Map, Regs, SavedRegs, Stack};

use core::ffi::c_int;
use kernel::{
    alloc::{flags::GFP_KERNEL, KBox, KVec},
    bindings,
    error::code::{EINVAL, ENOMEM},
    prelude::*,
};

// The entry from `bpf_throw()` and the entry into the exception callback,
// which depend on the architecture's registers and its JIT.
#[cfg(CONFIG_X86_64)]
#[path = "throw_x86_64.rs"]
mod arch;
#[cfg(CONFIG_ARM64)]
#[path = "throw_arm64.rs"]
mod arch;

/// What `bpf_throw()` needs of one program, built when it is JITed and
/// pointed to by `aux->exception_table`.
pub struct ExceptionTable {
    geometry: Geometry,
    table: KVec<u8>,
    funcs: KVec<Func>,
}

impl ExceptionTable {
    /// Describes the JITed functions `funcs` of one program, the main
    /// function first.
    fn new(funcs: KVec<Func>) -> Result<Self> {
        let geometry = Geometry::of(&funcs).ok_or(EINVAL)?;
        let mut table = KVec::from_elem(0u8, geometry.len, GFP_KERNEL)?;
        // Fills the table; the map borrows it only for this.
        Map::build(geometry, &mut table, &funcs);
        Ok(Self {
            geometry,
            table,
            funcs,
        })
    }

    /// The map of the program's functions.
    pub fn map(&self) -> Map<'_> {
        Map::from_parts(self.geometry, &self.table, &self.funcs)
    }
}

/// Reads the stack `bpf_throw()` runs on.
struct ThreadStack;

impl Stack for ThreadStack {
    fn read(&self, addr: usize) -> u64 {
        // SAFETY: `unwind` reads only words from the throwing function's
        // stack pointer up to just past the last frame record it reaches,
        // each record above the previous one and at most `MAX_SPAN` above
        // that stack pointer: the frames it unwinds, live on this stack
        // above our own frame, which nothing else writes while we read.
        unsafe { core::ptr::read(addr as *const u64) }
    }

    fn return_address(&self, addr: usize) -> usize {
        arch::strip_return_address(self.read(addr))
    }
}

/// Builds the [`ExceptionTable`] of a program that can throw and stores it
/// in `aux->exception_table`. Called by the verifier once the program's
/// `cnt` functions in `func` are JITed at their final addresses.
///
/// # Safety
///
/// `aux` must be the program's own `struct bpf_prog_aux`, with no table
/// yet, and `func` must point to `cnt` JITed functions.
pub(crate) unsafe fn prepare(
    aux: *mut bindings::bpf_prog_aux,
    func: *mut *mut bindings::bpf_prog,
    cnt: u32,
) -> c_int {
    let mut funcs = KVec::new();
    for i in 0..cnt as usize {
        // SAFETY: The caller gives `cnt` live, JITed functions.
        let (start, len, saved) = unsafe {
            let f = *func.add(i);
            (
                (*f).bpf_func.map_or(0, |p| p as usize),
                (*f).jited_len as usize,
                (*(*f).aux).jit_saved_regs,
            )
        };
        let f = Func {
            start,
            end: start + len,
            saved: SavedRegs(saved),
            main: i == 0,
        };
        if funcs.push(f, GFP_KERNEL).is_err() {
            return ENOMEM.to_errno();
        }
    }
    let table = match ExceptionTable::new(funcs)
        .and_then(|t| KBox::new(t, GFP_KERNEL).map_err(Into::into))
    {
        Ok(t) => t,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: The caller gives the program's own aux, which owns the table
    // from here until `bpf_exceptions_release`.
    unsafe { (*aux).exception_table = KBox::into_raw(table).cast() };
    0
}

/// Frees `aux->exception_table`, if any. Called when the program is freed,
/// after the last run of it has ended.
///
/// # Safety
///
/// `aux` must be a program's `struct bpf_prog_aux` that no one runs anymore.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_release(aux: *mut bindings::bpf_prog_aux) {
    // SAFETY: The caller gives a valid aux; the program no longer runs.
    let table = unsafe { core::mem::replace(&mut (*aux).exception_table, core::ptr::null_mut()) };
    if !table.is_null() {
        // SAFETY: `prepare` stored a `KBox` of ours there.
        drop(unsafe { KBox::from_raw(table.cast::<ExceptionTable>()) });
    }
}

/// Returns the entry of the exception callback of the program whose aux is
/// `aux`, as the verifier stored it.
///
/// # Safety
///
/// `aux` must be the aux of a program that is running, and so is alive.
pub(crate) unsafe fn callback(aux: *const bindings::bpf_prog_aux) -> Option<usize> {
    // SAFETY: The caller's guarantee; the field is set before the program
    // can run and never changes.
    unsafe { (*aux).bpf_exception_cb.map(|f| f as usize) }
}

/// Returns the table of the program whose aux is `aux`.
///
/// # Safety
///
/// `aux` must be the aux of a program that is running, and so is alive.
pub(crate) unsafe fn table<'a>(aux: *const bindings::bpf_prog_aux) -> Option<&'a ExceptionTable> {
    // SAFETY: The caller's guarantee; a running program's table is freed
    // only with the program.
    unsafe { (*aux).exception_table.cast::<ExceptionTable>().as_ref() }
}

/// Unwinds a throw of the program with the table `table` from the function
/// whose stack pointer at its call is `sp` and whose frame pointer is `fp`,
/// on this stack; see [`unwind::unwind`].
#[inline(always)]
pub(crate) fn unwind_with(
    table: &ExceptionTable,
    regs: &mut Regs,
    sp: usize,
    fp: usize,
) -> core::result::Result<usize, unwind::WalkError> {
    unwind::unwind(&ThreadStack, &table.map(), regs, sp, fp)
}

/// Where [`bpf_exceptions_unwind`] sends `bpf_exceptions_throw`: the
/// exception callback and the boundary's frame pointer (rax and rdx on
/// x86-64, x0 and x1 on arm64).
#[repr(C)]
pub(crate) struct Landing {
    callback: usize,
    fp: usize,
}

/// Unwinds the BPF program that called `bpf_throw()`: replaces `*regs`
/// with the callee-saved registers of the program's caller and returns the
/// program's exception callback and the frame it is to return from.
///
/// The verifier, the JIT and the attach checks leave no foreign frame
/// between a throw and its boundary, and `bpf_throw()` cannot be traced, so
/// the walk cannot fail for a program that passed them. If it fails all the
/// same (no table, a return address that is not the program's, a broken
/// chain of frame records: a kernel bug), this reports why and stops the
/// task with `BUG()`. Nothing safe is left to do: the code after the call
/// of `bpf_throw()` was verified as a program exit; returning the cookie to
/// a foreign caller (a trampoline) would hand it to BPF code verified to
/// expect the exact value the callee returns; and skipping the foreign
/// frame would give the program's caller registers that the foreign code
/// may have changed.
///
/// # Safety
///
/// Called only by `bpf_exceptions_throw`, on behalf of `bpf_throw()`
/// called from a JITed program: `aux` is that program's aux, `regs` its
/// callee-saved registers, `fp` the throwing function's frame pointer and
/// `sp` the address of the return address into it.
pub(crate) unsafe extern "C" fn bpf_exceptions_unwind(
    _cookie: u64,
    aux: *const bindings::bpf_prog_aux,
    regs: *mut Regs,
    fp: usize,
    sp: usize,
) -> Landing {
    // SAFETY: `aux` is the running program's.
    let (Some(table), Some(callback)) = (unsafe { (table(aux), callback(aux)) }) else {
        pr_emerg!("bpf_throw: program has no exception table or callback\n");
        stop();
    };
    // SAFETY: `regs` is on our caller's stack, for us to read and write.
    let regs = unsafe { &mut *regs };
    let fp = match unwind_with(table, regs, sp, fp) {
        Ok(fp) => fp,
        Err(e) => {
            pr_emerg!("bpf_throw: cannot unwind: {:?}\n", e);
            stop();
        }
    };

    // The frames below the boundary are abandoned without returning, which
    // skips KASAN's own unpoisoning of their stack.
    #[cfg(CONFIG_KASAN_STACK)]
    // SAFETY: `fp` lies on the current task's stack, above our own frame.
    unsafe {
        bindings::kasan_unpoison_task_stack_below(fp as *const core::ffi::c_void)
    };

    // The JIT built `callback` as this program's exception callback:
    // it takes over the boundary's frame at `fp` and returns from it to the
    // program's caller, with the registers that caller expects, which
    // `unwind` recovered into `regs`. Everything below that frame (our
    // frames, `bpf_throw()` and the unwound BPF frames) is dead from then
    // on; none of it holds a lock or reference.
    Landing { callback, fp }
}

/// Stops the task: see [`bpf_exceptions_unwind`]. Inlined, so that objtool
/// sees the call of the `BUG()` helper, which it knows does not return.
#[inline(always)]
fn stop() -> ! {
    // SAFETY: `BUG()` may be called from any context.
    unsafe { bindings::BUG() }
}

const _: () = assert!(core::mem::size_of::<Regs>() == 40);
