// SPDX-License-Identifier: GPL-2.0

//! A safe view of the verifier's state, for the checks in [`crate::verifier`].
//!
//! The verifier hands each hook a `struct bpf_verifier_env *`. A hook turns
//! it into an [`Env`] once, with the only `unsafe` its contract needs
//! ([`Env::from_raw`]); everything it then reads or changes goes through the
//! methods here, which check what the C code leaves to its callers (a NULL
//! `cur_state`, a frame beyond `curframe`, an index beyond `len`) and give
//! slices and references whose lifetimes the borrow checker holds to the
//! hook:
//!
//! - [`EnvRef`], what the checks read: the instructions, their index as
//!   loaded, the subprogs, the state being walked ([`State`], its frames
//!   [`Frame`] with their references, registers [`RegState`] and stack slots
//!   [`Slot`]).
//! - [`Env`], what a hook may change: the subprogs, the program (patched
//!   with `bpf_patch_insn_data()`), its `aux`, and the marks the verifier
//!   keeps on a state (`bpf_exceptions_mark_place()` and
//!   `bpf_exceptions_mark_precise()`), which take `&mut Env` and so cannot
//!   run while a [`State`] is borrowed.
//!
//! - [`Btf`], a BTF that the program holds: its own, vmlinux's, or a
//!   module's.
//!
//! No reference to the whole `bpf_verifier_env` is ever made: each view
//! borrows only the fields it reads, and never `log`, which [`verbose!`]
//! writes through the raw pointer. `prog->aux` is reached only through
//! [`Env`] as a [`ProgAux`] (shared or, with [`Env::split`], unique beside
//! an [`EnvRef`] that never reads it).
//!
//! [`verbose!`]: verbose

use core::ffi::{c_int, c_void, CStr};
use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::{code::*, Error, Result};

use crate::cleanup::Loc;
use crate::throw::ThrowSites;

/// Writes to the verifier log of `$env` (an [`Env`] or an [`EnvRef`]).
macro_rules! verbose {
    ($env:expr, $fmt:literal $(, $arg:expr)* $(,)?) => {
        // SAFETY: The environment is that of the running verification, the
        // format is a NUL-terminated literal and every argument has the C
        // type its conversion expects.
        unsafe {
            ::kernel::bindings::bpf_verifier_log_write(
                $env.log_ptr(),
                concat!($fmt, "\0").as_ptr().cast()
                $(, $arg)*
            )
        }
    };
}
pub(crate) use verbose;

/// The environment of a running verification, lent to one call of a hook.
pub(crate) struct Env<'a> {
    ptr: NonNull<bindings::bpf_verifier_env>,
    _env: PhantomData<&'a mut bindings::bpf_verifier_env>,
}

/// What the checks read of an [`Env`].
#[derive(Clone, Copy)]
pub(crate) struct EnvRef<'a> {
    ptr: NonNull<bindings::bpf_verifier_env>,
    _env: PhantomData<&'a bindings::bpf_verifier_env>,
}

impl<'a> Env<'a> {
    /// The view of `env`.
    ///
    /// # Safety
    ///
    /// `env` must be the environment of a running verification, in the
    /// state the verifier leaves it in when it calls the hook: `prog` its
    /// program with `prog->aux`, `insn_aux_data` an entry per instruction
    /// of `prog`, `subprog_cnt` subprogs, and `cur_state`, if not NULL,
    /// the state being walked with its `curframe + 1` frames. Nothing else
    /// may use it, nor the program or the state, for `'a` but through this
    /// view.
    pub(crate) unsafe fn from_raw(env: *mut bindings::bpf_verifier_env) -> Result<Self> {
        Ok(Self {
            ptr: NonNull::new(env).ok_or(EFAULT)?,
            _env: PhantomData,
        })
    }

    /// What the checks read.
    pub(crate) fn get(&self) -> EnvRef<'_> {
        EnvRef {
            ptr: self.ptr,
            _env: PhantomData,
        }
    }

    /// For [`verbose!`] only.
    pub(crate) fn log_ptr(&self) -> *mut bindings::bpf_verifier_env {
        self.ptr.as_ptr()
    }

    /// The program's own BTF, if it has one.
    pub(crate) fn prog_btf(&self) -> Option<Btf<'_>> {
        // SAFETY: The program holds its BTF as long as it lives.
        unsafe { Btf::from_raw(self.prog_aux().btf) }
    }

    /// The program's `aux`.
    pub(crate) fn prog_aux(&self) -> &ProgAux {
        // SAFETY: Per `from_raw`, `prog` and its `aux` are valid and ours;
        // `ProgAux` is `bpf_prog_aux`, transparent.
        unsafe { &*(*self.get().prog()).aux.cast::<ProgAux>() }
    }

    /// The program's `aux`, to change.
    pub(crate) fn prog_aux_mut(&mut self) -> &mut ProgAux {
        self.split().1
    }

    /// What the checks read, and the program's `aux` to change: the first
    /// never reads the second.
    pub(crate) fn split(&mut self) -> (EnvRef<'_>, &mut ProgAux) {
        // SAFETY: Per `from_raw`, `prog` and its `aux` are valid and ours,
        // borrowed uniquely for as long as `self` is; `EnvRef` never reads
        // `prog->aux`.
        let aux = unsafe { &mut *(*self.get().prog()).aux.cast::<ProgAux>() };
        (
            EnvRef {
                ptr: self.ptr,
                _env: PhantomData,
            },
            aux,
        )
    }

    /// The subprogs' info, `subprog_info[subprog_cnt]` the end marker, to
    /// change.
    pub(crate) fn subprog_info_mut(&mut self) -> &mut [bindings::bpf_subprog_info] {
        // SAFETY: The array lies in the environment, ours per `from_raw`.
        unsafe { &mut (*self.ptr.as_ptr()).subprog_info }
    }

    /// Sets `subprog_cnt` and `hidden_subprog_cnt`.
    pub(crate) fn set_subprog_cnt(&mut self, cnt: u32, hidden: u32) -> Result {
        // `subprog_info[cnt]` is the end marker.
        if cnt as usize >= self.get().subprog_info().len() {
            return Err(EFAULT);
        }
        // SAFETY: The fields lie in the environment, ours per `from_raw`.
        unsafe {
            (*self.ptr.as_ptr()).subprog_cnt = cnt;
            (*self.ptr.as_ptr()).hidden_subprog_cnt = hidden;
        }
        Ok(())
    }

    /// Sets `seen_exception`.
    pub(crate) fn set_seen_exception(&mut self) {
        // SAFETY: As above.
        unsafe { (*self.ptr.as_ptr()).seen_exception = true };
    }

    /// Sets `exception_callback_subprog`.
    pub(crate) fn set_exception_callback_subprog(&mut self, i: c_int) {
        // SAFETY: As above.
        unsafe { (*self.ptr.as_ptr()).exception_callback_subprog = i };
    }

    /// The instructions of the program, to change.
    pub(crate) fn insns_mut(&mut self) -> &mut [bindings::bpf_insn] {
        let prog = self.get().prog();
        // SAFETY: Per `from_raw`, the program is valid and ours, and its
        // `insnsi` holds `len` instructions.
        unsafe {
            (*prog)
                .__bindgen_anon_1
                .__bindgen_anon_2
                .as_mut()
                .insnsi
                .as_mut_slice((*prog).len as usize)
        }
    }

    /// The aux data of instruction `j`, to change.
    pub(crate) fn insn_aux_mut(&mut self, j: usize) -> Option<&mut bindings::bpf_insn_aux_data> {
        let env = self.get();
        if j >= env.insns().len() || env.insn_aux_data().is_null() {
            return None;
        }
        // SAFETY: Per `from_raw`, `insn_aux_data` has an entry per
        // instruction, ours.
        Some(unsafe { &mut *env.insn_aux_data().add(j) })
    }

    /// Replaces instruction `at` by `patch` with `bpf_patch_insn_data()`,
    /// which moves the jumps, subprogs and aux data after it, and makes the
    /// patched program the environment's.
    pub(crate) fn patch(&mut self, at: usize, patch: &[bindings::bpf_insn]) -> Result {
        if at >= self.get().insns().len() || patch.is_empty() {
            return Err(EFAULT);
        }
        let at = u32::try_from(at).map_err(|_| EFAULT)?;
        let len = u32::try_from(patch.len()).map_err(|_| EFAULT)?;
        // SAFETY: `at` is an instruction of the program and `patch` holds
        // `len` instructions; the environment is ours per `from_raw`.
        let prog =
            unsafe { bindings::bpf_patch_insn_data(self.ptr.as_ptr(), at, patch.as_ptr(), len) };
        if prog.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: As above.
        unsafe { (*self.ptr.as_ptr()).prog = prog };
        Ok(())
    }

    /// Marks `loc` of frame `frame` of the state being walked as read, and
    /// the scalar there as precise too if `precise`.
    pub(crate) fn mark(&mut self, frame: u8, loc: Loc, precise: bool) -> Result {
        let f = self.get().state()?.frame(frame.into()).ok_or(EFAULT)?;
        // The C functions index `regs[regno]` and `stack[spi]` unchecked
        // (and shift a `u64` by `spi`).
        let (regno, spi) = match loc {
            Loc::Reg(n) if usize::from(n) < f.regs.len() => (c_int::from(n), 0),
            Loc::Slot(n) if usize::from(n) < f.slots().len().min(64) => (-1, c_int::from(n)),
            _ => return Err(EFAULT),
        };
        let env = self.ptr.as_ptr();
        // SAFETY: `frame` is a frame of the state being walked, with the
        // register `regno` or the allocated slot `spi` (checked above).
        let err = unsafe {
            if precise {
                bindings::bpf_exceptions_mark_precise(env, frame.into(), regno, spi)
            } else {
                bindings::bpf_exceptions_mark_place(env, frame.into(), regno, spi)
            }
        };
        if err < 0 {
            return Err(Error::from_errno(err));
        }
        Ok(())
    }

    /// Gives the table of explored states an entry per instruction of the
    /// program, all NULL, as it is between passes.
    ///
    /// # Safety
    ///
    /// The verification must be between passes: no entry of the table
    /// holds a state.
    pub(crate) unsafe fn resize_explored_states(&mut self) -> Result {
        let size = self.get().insns().len()
            * core::mem::size_of::<*mut bindings::bpf_verifier_state_list>();
        // SAFETY: Per `from_raw`, `explored_states` is the verifier's
        // `kvcalloc()`ed table, whose entries are all NULL between passes
        // (per the caller).
        let table = unsafe {
            bindings::kvrealloc(
                (*self.ptr.as_ptr())
                    .explored_states
                    .cast::<c_void>()
                    .cast_const(),
                size,
                bindings::GFP_KERNEL,
            )
        };
        if table.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `table` holds `size` bytes, and replaces the old table,
        // which `kvrealloc()` freed.
        unsafe {
            core::ptr::write_bytes(table.cast::<u8>(), 0, size);
            (*self.ptr.as_ptr()).explored_states = table.cast();
        }
        Ok(())
    }
}

impl<'a> EnvRef<'a> {
    /// For [`verbose!`] only.
    pub(crate) fn log_ptr(&self) -> *mut bindings::bpf_verifier_env {
        self.ptr.as_ptr()
    }

    fn prog(&self) -> *mut bindings::bpf_prog {
        // SAFETY: The field lies in the environment (see `Env::from_raw`).
        unsafe { (*self.ptr.as_ptr()).prog }
    }

    fn insn_aux_data(&self) -> *mut bindings::bpf_insn_aux_data {
        // SAFETY: As above.
        unsafe { (*self.ptr.as_ptr()).insn_aux_data }
    }

    /// The instructions of the program under verification.
    pub(crate) fn insns(&self) -> &'a [bindings::bpf_insn] {
        // SAFETY: `prog` is the program under verification (see
        // `Env::from_raw`), which changes only through `Env`, not while
        // this borrow lives.
        unsafe { crate::verifier::prog_insns(&*self.prog()) }
    }

    /// The index, in the program as loaded, of instruction `j` of the
    /// program as it is now; `u32::MAX` if there is no instruction `j`.
    pub(crate) fn orig_idx(&self, j: usize) -> u32 {
        self.insn_aux(j).map_or(u32::MAX, |a| a.orig_idx)
    }

    /// The aux data of instruction `j`.
    pub(crate) fn insn_aux(&self, j: usize) -> Option<&'a bindings::bpf_insn_aux_data> {
        if j >= self.insns().len() || self.insn_aux_data().is_null() {
            return None;
        }
        // SAFETY: `insn_aux_data` has an entry per instruction (see
        // `Env::from_raw`).
        Some(unsafe { &*self.insn_aux_data().add(j) })
    }

    /// All of `subprog_info`: the subprogs, then the end marker at
    /// `subprog_cnt`.
    pub(crate) fn subprog_info(&self) -> &'a [bindings::bpf_subprog_info] {
        // SAFETY: The array lies in the environment.
        unsafe { &(*self.ptr.as_ptr()).subprog_info }
    }

    /// The number of subprogs.
    pub(crate) fn subprog_cnt(&self) -> usize {
        // SAFETY: The field lies in the environment.
        let cnt = unsafe { (*self.ptr.as_ptr()).subprog_cnt } as usize;
        cnt.min(self.subprog_info().len() - 1)
    }

    /// The subprogs' info, without the end marker.
    pub(crate) fn subprogs(&self) -> &'a [bindings::bpf_subprog_info] {
        &self.subprog_info()[..self.subprog_cnt()]
    }

    /// The subprog that starts at instruction `j`, as `find_subprog()`
    /// finds it.
    pub(crate) fn find_subprog(&self, j: i64) -> Option<usize> {
        self.subprogs()
            .binary_search_by(|s| i64::from(s.start).cmp(&j))
            .ok()
    }

    /// The subprog that instruction `j` (of the program as it is now) lies
    /// in.
    pub(crate) fn subprog_at(&self, j: usize) -> Option<usize> {
        self.subprogs()
            .iter()
            .rposition(|sp| sp.start as usize <= j)
    }

    /// The instructions of subprog `i`: from its start to the next one's.
    pub(crate) fn subprog_range(&self, i: usize) -> Option<core::ops::Range<usize>> {
        if i >= self.subprog_cnt() {
            return None;
        }
        let info = self.subprog_info();
        Some(info[i].start as usize..info[i + 1].start as usize)
    }

    /// `hidden_subprog_cnt`.
    pub(crate) fn hidden_subprog_cnt(&self) -> u32 {
        // SAFETY: The field lies in the environment.
        unsafe { (*self.ptr.as_ptr()).hidden_subprog_cnt }
    }

    /// `exception_callback_subprog`.
    pub(crate) fn exception_callback_subprog(&self) -> c_int {
        // SAFETY: As above.
        unsafe { (*self.ptr.as_ptr()).exception_callback_subprog }
    }

    /// `seen_exception`: the program calls `bpf_throw()`.
    pub(crate) fn seen_exception(&self) -> bool {
        // SAFETY: As above.
        unsafe { (*self.ptr.as_ptr()).seen_exception }
    }

    /// The instruction being visited.
    pub(crate) fn insn_idx(&self) -> u32 {
        // SAFETY: As above.
        unsafe { (*self.ptr.as_ptr()).insn_idx }
    }

    /// The state being walked: `EFAULT` outside the walk.
    pub(crate) fn state(&self) -> Result<State<'a>> {
        // SAFETY: As above.
        let st = unsafe { (*self.ptr.as_ptr()).cur_state };
        if st.is_null() {
            return Err(EFAULT);
        }
        // SAFETY: A `cur_state` that is not NULL is the state being walked
        // (see `Env::from_raw`), which changes only through `Env`.
        Ok(State(unsafe { &*st }))
    }
}

/// A state of a running verification.
#[derive(Clone, Copy)]
pub(crate) struct State<'a>(&'a bindings::bpf_verifier_state);

impl<'a> core::ops::Deref for State<'a> {
    type Target = bindings::bpf_verifier_state;

    fn deref(&self) -> &bindings::bpf_verifier_state {
        self.0
    }
}

impl<'a> State<'a> {
    /// The index of the innermost frame.
    pub(crate) fn cur(&self) -> usize {
        (self.0.curframe as usize).min(self.0.frame.len() - 1)
    }

    /// Frame `i`, 0 the outermost, if it is one of the state's.
    pub(crate) fn frame(&self, i: usize) -> Option<Frame<'a>> {
        if i > self.cur() {
            return None;
        }
        let f = self.0.frame[i];
        // SAFETY: Frames `0..=curframe` of a state are valid while it is.
        (!f.is_null()).then(|| Frame(unsafe { &*f }))
    }

    /// The innermost frame.
    pub(crate) fn cur_frame(&self) -> Result<Frame<'a>> {
        self.frame(self.cur()).ok_or(EFAULT)
    }

    /// The frames, the outermost first.
    pub(crate) fn frames(&self) -> impl Iterator<Item = Frame<'a>> + '_ {
        (0..=self.cur()).map_while(|i| self.frame(i))
    }

    /// Whether a frame is a callback's.
    pub(crate) fn in_callback(&self) -> bool {
        self.frames()
            .any(|f| f.in_callback_fn || f.in_async_callback_fn)
    }
}

/// A frame of a state of a running verification.
#[derive(Clone, Copy)]
pub(crate) struct Frame<'a>(&'a bindings::bpf_func_state);

impl<'a> core::ops::Deref for Frame<'a> {
    type Target = bindings::bpf_func_state;

    fn deref(&self) -> &bindings::bpf_func_state {
        self.0
    }
}

impl<'a> Frame<'a> {
    /// The references the frame holds (its callers' included).
    pub(crate) fn refs(&self) -> &'a [bindings::bpf_reference_state] {
        let f = self.0;
        if f.acquired_refs <= 0 || f.refs.is_null() {
            return &[];
        }
        // SAFETY: `refs` holds `acquired_refs` entries.
        unsafe { core::slice::from_raw_parts(f.refs, f.acquired_refs as usize) }
    }

    /// The stack slots, slot `n` at `fp - 8 * (n + 1)`.
    pub(crate) fn slots(&self) -> &'a [Slot] {
        let f = self.0;
        let n = f.allocated_stack / bindings::BPF_REG_SIZE as c_int;
        if n <= 0 || f.stack.is_null() {
            return &[];
        }
        // SAFETY: `stack` holds `allocated_stack / BPF_REG_SIZE` slots;
        // `Slot` is `bpf_stack_state`, transparent.
        unsafe { core::slice::from_raw_parts(f.stack.cast::<Slot>(), n as usize) }
    }

    /// Register `r`.
    pub(crate) fn reg(&self, r: u8) -> Option<&'a RegState> {
        let reg = self.0.regs.get(usize::from(r))?;
        // SAFETY: `RegState` is `bpf_reg_state`, transparent.
        Some(unsafe { &*core::ptr::from_ref(reg).cast::<RegState>() })
    }
}

/// A register of a [`Frame`], or the register state of a spilled [`Slot`].
#[repr(transparent)]
pub(crate) struct RegState(bindings::bpf_reg_state);

impl core::ops::Deref for RegState {
    type Target = bindings::bpf_reg_state;

    fn deref(&self) -> &bindings::bpf_reg_state {
        &self.0
    }
}

impl RegState {
    /// Its BTF type, if it is a `PTR_TO_BTF_ID`: its BTF and id.
    pub(crate) fn btf_id(&self) -> Option<(Btf<'_>, u32)> {
        if self.0.type_ & BASE_TYPE_MASK != bindings::bpf_reg_type_PTR_TO_BTF_ID {
            return None;
        }
        // SAFETY: A PTR_TO_BTF_ID register's union holds its BTF type.
        let t = unsafe { self.0.__bindgen_anon_1.__bindgen_anon_2 };
        // SAFETY: A BTF of a state's register is one the program holds for
        // the whole verification (see `Btf`).
        Some((unsafe { Btf::from_raw(t.btf) }?, t.btf_id))
    }
}

impl RegState {
    /// Where it points, if it is a pointer to the stack at a constant
    /// offset: the frame (its index in the state) and the offset from the
    /// frame's pointer.
    pub(crate) fn stack_pointer(&self) -> Option<(u32, i64)> {
        if self.0.type_ != bindings::bpf_reg_type_PTR_TO_STACK || self.0.var_off.mask != 0 {
            return None;
        }
        let off = i64::from(self.0.off).checked_add(self.0.var_off.value as i64)?;
        Some((self.0.frameno, off))
    }
}

/// A stack slot of a [`Frame`].
#[repr(transparent)]
pub(crate) struct Slot(bindings::bpf_stack_state);

impl core::ops::Deref for Slot {
    type Target = bindings::bpf_stack_state;

    fn deref(&self) -> &bindings::bpf_stack_state {
        &self.0
    }
}

impl Slot {
    /// The register state of what is spilled there.
    pub(crate) fn spilled(&self) -> &RegState {
        // SAFETY: `RegState` is `bpf_reg_state`, transparent.
        unsafe { &*core::ptr::from_ref(&self.0.spilled_ptr).cast::<RegState>() }
    }

    /// The BTF type of the iterator it is a slot of, if it is: its BTF and
    /// id.
    pub(crate) fn iter(&self) -> Option<(Btf<'_>, u32)> {
        let iter = bindings::bpf_stack_slot_type_STACK_ITER;
        if !self.0.slot_type.iter().all(|&t| u32::from(t) == iter) {
            return None;
        }
        // SAFETY: An iterator's slots hold its BTF type in `iter`.
        let it = unsafe { self.0.spilled_ptr.__bindgen_anon_1.iter };
        // SAFETY: As for a register's (see `RegState::btf_id`).
        Some((unsafe { Btf::from_raw(it.btf) }?, it.btf_id))
    }

    /// The dynptr it is a slot of, if it is: whether it is its first slot,
    /// and its type.
    pub(crate) fn dynptr(&self) -> Option<(bool, u32)> {
        let t = u32::from(self.0.slot_type[bindings::BPF_REG_SIZE as usize - 1]);
        if t != bindings::bpf_stack_slot_type_STACK_DYNPTR {
            return None;
        }
        // SAFETY: A dynptr slot's union holds its dynptr.
        let d = unsafe { self.0.spilled_ptr.__bindgen_anon_1.dynptr };
        Some((d.first_slot, d.type_))
    }
}

/// The `aux` of the program under verification.
#[repr(transparent)]
pub(crate) struct ProgAux(bindings::bpf_prog_aux);

impl core::ops::Deref for ProgAux {
    type Target = bindings::bpf_prog_aux;

    fn deref(&self) -> &bindings::bpf_prog_aux {
        &self.0
    }
}

impl ProgAux {
    /// Whether the verifier recorded anything to release.
    pub(crate) fn releases_any(&self) -> bool {
        // SAFETY: As for `throw_sites()`.
        unsafe { ThrowSites::releases_any(&self.0) }
    }

    /// The record of what the program's throws hold, made empty if there is
    /// none yet; `None` if memory runs out.
    pub(crate) fn throw_sites(&mut self) -> Option<&mut ThrowSites> {
        // SAFETY: A `ProgAux` is the program's own aux, which only `Env`
        // lends (see `Env::prog_aux`).
        unsafe { ThrowSites::pending(&mut self.0) }
    }

    /// The entries of `func_info`, one per function with BTF.
    pub(crate) fn func_info(&self) -> &[bindings::bpf_func_info] {
        if self.0.func_info.is_null() {
            return &[];
        }
        // SAFETY: `func_info` holds `func_info_cnt` entries.
        unsafe { core::slice::from_raw_parts(self.0.func_info, self.0.func_info_cnt as usize) }
    }

    /// The entries of `func_info_aux`, one per function with BTF, to
    /// change.
    pub(crate) fn func_info_aux_mut(&mut self) -> &mut [bindings::bpf_func_info_aux] {
        if self.0.func_info_aux.is_null() {
            return &mut [];
        }
        // SAFETY: `func_info_aux` holds `func_info_cnt` entries, which the
        // unique borrow of the aux lends.
        unsafe {
            core::slice::from_raw_parts_mut(self.0.func_info_aux, self.0.func_info_cnt as usize)
        }
    }
}

/// `BPF_BASE_TYPE_MASK`.
pub(crate) const BASE_TYPE_MASK: u32 = 0xff;

/// The size of `t`, a struct's BTF type.
pub(crate) fn type_size(t: &bindings::btf_type) -> u32 {
    // SAFETY: Both members of the union are `u32`: any bytes are one.
    unsafe { t.__bindgen_anon_1.size }
}

/// A BTF that the program under verification holds for `'a`: its own
/// (`aux->btf`), vmlinux's, which is never freed, or a module's, which the
/// program holds as long as it uses one of the module's kfuncs
/// (`kfunc_btf_tab`), a ksym of it (`used_btfs`), the function it attaches
/// to (`attach_btf`) or a map with a kptr of the module's types
/// (`btf_parse_kptr()`). The registers and slots of a state hold only
/// such BTFs. The lookups check the ids they are given.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Btf<'a> {
    ptr: NonNull<bindings::btf>,
    _btf: PhantomData<&'a bindings::btf>,
}

impl<'a> Btf<'a> {
    /// The view of `btf`, `None` if it is NULL.
    ///
    /// # Safety
    ///
    /// `btf` must be NULL or a BTF that lives for `'a`.
    pub(crate) unsafe fn from_raw(btf: *mut bindings::btf) -> Option<Self> {
        Some(Self {
            ptr: NonNull::new(btf)?,
            _btf: PhantomData,
        })
    }

    /// The address, as a key: two views of one BTF have the same.
    pub(crate) fn key(self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// Type `id`.
    pub(crate) fn type_by_id(self, id: u32) -> Option<&'a bindings::btf_type> {
        // SAFETY: The BTF lives for `'a`; the lookup checks `id`.
        let t = unsafe { bindings::btf_type_by_id(self.ptr.as_ptr(), id) };
        // SAFETY: A type of the BTF lives as long as it does.
        (!t.is_null()).then(|| unsafe { &*t })
    }

    /// The name of type `t`, one of this BTF's.
    pub(crate) fn name_of(self, t: &bindings::btf_type) -> Option<&'a CStr> {
        // SAFETY: The BTF lives for `'a`; the lookup checks the offset.
        let name = unsafe { bindings::btf_name_by_offset(self.ptr.as_ptr(), t.name_off) };
        // SAFETY: A name of the BTF is NUL-terminated and lives as long as
        // it does.
        (!name.is_null()).then(|| unsafe { CStr::from_ptr(name.cast()) })
    }

    /// Whether it is the kernel's: vmlinux's or a module's.
    pub(crate) fn is_kernel(self) -> bool {
        // SAFETY: The BTF lives for `'a`.
        unsafe { bindings::btf_is_kernel(self.ptr.as_ptr()) }
    }

    /// Whether it is a module's.
    pub(crate) fn is_module(self) -> bool {
        // SAFETY: The BTF lives for `'a`.
        unsafe { bindings::btf_is_module(self.ptr.as_ptr()) }
    }

    /// The BTF it is split from (vmlinux's, for a module's).
    pub(crate) fn base(self) -> Option<Btf<'a>> {
        // SAFETY: The BTF lives for `'a` and holds its base as long.
        unsafe { Btf::from_raw(bindings::btf_base_btf(self.ptr.as_ptr())) }
    }

    /// The number of its types, its base's included.
    pub(crate) fn nr_types(self) -> u32 {
        // SAFETY: The BTF lives for `'a`.
        unsafe { bindings::btf_nr_types(self.ptr.as_ptr()) }
    }

    /// The kfunc registered as the destructor of type `id`
    /// (`register_btf_id_dtor_kfuncs()`), by its type id.
    pub(crate) fn dtor_kfunc(self, id: u32) -> Option<u32> {
        // SAFETY: The BTF lives for `'a`; the lookup checks `id`.
        u32::try_from(unsafe { bindings::btf_find_dtor_kfunc(self.ptr.as_ptr(), id) }).ok()
    }

    /// The address of the `btf_struct_meta` of type `id`, 0 if it has
    /// none: for `bpf_obj_drop()`, which takes it as it is.
    pub(crate) fn struct_meta(self, id: u32) -> usize {
        // SAFETY: The BTF lives for `'a`, with its metadata.
        unsafe { bindings::btf_find_struct_meta(self.ptr.as_ptr(), id) as usize }
    }

    /// Its name: a module's is its module's.
    pub(crate) fn name(self) -> Option<&'a CStr> {
        // SAFETY: The BTF lives for `'a`.
        let name = unsafe { bindings::btf_get_name(self.ptr.as_ptr()) };
        // SAFETY: A BTF's name is NUL-terminated and lives as long as it
        // does.
        (!name.is_null()).then(|| unsafe { CStr::from_ptr(name.cast()) })
    }

    /// The value of the decl tag of type `t` (one of this BTF's) that
    /// starts with `key`: `Ok(None)` if there is none, `EEXIST` if there
    /// are several.
    pub(crate) fn decl_tag_value(
        self,
        t: &bindings::btf_type,
        key: &CStr,
    ) -> Result<Option<&'a CStr>> {
        // SAFETY: The BTF lives for `'a`, `t` is one of its types and
        // `key` is NUL-terminated.
        let v = unsafe {
            bindings::btf_find_decl_tag_value(self.ptr.as_ptr(), t, -1, key.as_ptr().cast())
        };
        let e = v as isize;
        if (-(bindings::MAX_ERRNO as isize)..0).contains(&e) {
            return match Error::from_errno(e as c_int) {
                err if err == ENOENT => Ok(None),
                err => Err(err),
            };
        }
        if v.is_null() {
            return Ok(None);
        }
        // SAFETY: A string of the BTF, which lives for `'a`.
        Ok(Some(unsafe { CStr::from_ptr(v.cast()) }))
    }

    /// The id of the type named `name` of kind `kind`.
    pub(crate) fn find_by_name_kind(self, name: &CStr, kind: u32) -> Result<u32> {
        // SAFETY: The BTF lives for `'a` and `name` is NUL-terminated.
        let ret = unsafe {
            bindings::btf_find_by_name_kind(self.ptr.as_ptr(), name.as_ptr().cast(), kind as u8)
        };
        u32::try_from(ret).map_err(|_| Error::from_errno(ret))
    }
}
