// SPDX-License-Identifier: GPL-2.0

//! The verifier's side of BPF exceptions.
//!
//! `kernel/bpf/verifier.c` calls these functions at the places where a
//! program's exceptions are checked or prepared:
//!
//! - [`bpf_exceptions_find_callback`] and [`bpf_exceptions_set_callback`]
//!   find the exception callback named by the main program's
//!   `exception_callback:<name>` BTF decl tag and mark its subprog.
//! - [`bpf_exceptions_scan`] finds, before the main pass, every subprog that
//!   may throw: one that calls `bpf_throw()` or calls one that may.
//! - [`bpf_exceptions_check_global_call`] rejects a call to a global subprog
//!   that may throw while the caller holds a reference, a lock, an RCU read
//!   section or disabled preemption. A global subprog is verified on its
//!   own, so without this check its throw would leave them held.
//! - [`bpf_exceptions_throw_kfunc`] and [`bpf_exceptions_check_exit`] treat
//!   a `bpf_throw()` call as a program exit.
//! - [`bpf_exceptions_check_throw_site`], [`bpf_exceptions_check_direct_call`]
//!   and [`bpf_exceptions_check_tail_call`] check the call graph: callbacks
//!   cannot throw, the exception callback is never called directly and
//!   makes no tail calls.
//! - [`bpf_exceptions_callback_start`], [`bpf_exceptions_enter_subprog`] and
//!   [`bpf_exceptions_check_attach`] check the callback itself: it is walked
//!   by `check_cfg()`, takes one scalar argument, and no fentry, fexit or
//!   freplace program attaches to it. The last also keeps an extension that
//!   may throw off a global function called while holding resources.
//! - [`bpf_exceptions_add_default_callback`] appends the hidden default
//!   callback (`r0 = r1; exit`) to a program that throws without one, and
//!   [`bpf_exceptions_jit_subprog`] and [`bpf_exceptions_jit_done`] hand the
//!   result to the JIT and the unwinder.
//!
//! The verifier log messages are upstream's, byte for byte, except for the
//! global-call check, which upstream does not have.
//!
//! Every function here runs under the verifier, which owns `env` and the
//! program being verified for the whole of `bpf_check()`.

use core::ffi::{c_char, c_int, c_uint, c_void, CStr};

use kernel::alloc::{Allocator, KVVec};
use kernel::bindings;
use kernel::error::{code::*, Error, Result};
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::callgraph::{CallGraph, SubprogSet};
use crate::cleanup::{self, Absent, Held, Iter, Kind, Loc, Release, Zeros, MAX_FRAMES};
use crate::env::{
    verbose, Btf, Env, EnvRef, Frame, ProgAux, RegState, Slot, State, BASE_TYPE_MASK,
};
use crate::insn::{Insn, Reg, BPF_PSEUDO_CALL};
use crate::throw::{
    Acquired, ChainIndex, DtorOf, Hint, IterSite, Noted, Pending, Shadow, Shared, ThrowSites,
    MAX_DTORS, MAX_STORED, RECORD_COST,
};

// Every subprog_info slot fits in a SubprogSet.
const _: () = assert!(crate::callgraph::MAX_SUBPROGS >= bindings::BPF_MAX_SUBPROGS as usize + 2);

/// `BPF_JMP | BPF_CALL`.
const JMP_CALL: u8 = 0x05 | 0x80;

/// The instructions of `prog`.
///
/// # Safety
///
/// `prog` must be a program whose `insnsi` holds `len` instructions, which
/// do not change while the returned slice lives.
pub(crate) unsafe fn prog_insns(prog: &bindings::bpf_prog) -> &[bindings::bpf_insn] {
    // SAFETY: Guaranteed by the caller.
    unsafe {
        prog.__bindgen_anon_1
            .__bindgen_anon_2
            .as_ref()
            .insnsi
            .as_slice(prog.len as usize)
    }
}

/// Returns whether `insn` calls the `bpf_throw()` kfunc.
fn is_throw(insn: &bindings::bpf_insn) -> bool {
    // SAFETY: `insn` is a valid instruction; the function only reads it.
    unsafe { bindings::bpf_is_throw_kfunc(insn) }
}

/// Returns whether `insn` calls a subprog of the same program.
fn is_pseudo_call(insn: &bindings::bpf_insn) -> bool {
    insn.code == JMP_CALL && insn.src_reg() == BPF_PSEUDO_CALL
}

/// The exception callback's subprog, found by its flag rather than by
/// `env->exception_callback_subprog`: the flag moves with its
/// `subprog_info` slot whenever subprogs are removed or added, so it stays
/// right after dead code removal and instruction patching.
fn callback_subprog(env: EnvRef<'_>) -> Option<usize> {
    env.subprogs().iter().position(|s| s.is_exception_cb())
}

fn to_c(r: Result<c_int>) -> c_int {
    r.unwrap_or_else(|e| e.to_errno())
}

fn find_callback(env: &Env<'_>) -> Result<c_int> {
    let aux = env.prog_aux();
    // A non-zero func_info_cnt implies valid BTF.
    let func_info = aux.func_info();
    if func_info.is_empty() {
        return Ok(0);
    }
    let btf = env.prog_btf().ok_or(EINVAL)?;
    let Some(t) = btf.type_by_id(func_info[0].type_id) else {
        verbose!(env, "invalid btf id for main subprog in func_info\n");
        return Err(EINVAL);
    };
    let name = match btf.decl_tag_value(t, c"exception_callback:") {
        Ok(Some(name)) => name,
        // No tag, no exception callback.
        Ok(None) => return Ok(0),
        Err(e) => {
            if e == EEXIST {
                verbose!(env, "multiple exception callback tags for main subprog\n");
            }
            return Err(e);
        }
    };
    let id = match btf.find_by_name_kind(name, bindings::BTF_KIND_FUNC) {
        Ok(id) => id,
        Err(e) => {
            verbose!(
                env,
                "exception callback '%s' could not be found in BTF\n",
                name.as_ptr()
            );
            return Err(e);
        }
    };
    let t = btf.type_by_id(id).ok_or(EINVAL)?;
    // btf_func_linkage(): the linkage of a FUNC is its vlen.
    if t.info & 0xffff != bindings::btf_func_linkage_BTF_FUNC_GLOBAL {
        verbose!(
            env,
            "exception callback '%s' must have global linkage\n",
            name.as_ptr()
        );
        return Err(EINVAL);
    }
    let mut insn_off = 0;
    for info in func_info.iter().filter(|info| info.type_id == id) {
        insn_off = info.insn_off as c_int;
        // Further func_info and subprog checks come later, so take this as
        // the right insn_off for now.
        if insn_off == 0 {
            verbose!(env, "invalid exception callback insn_off in func_info: 0\n");
            return Err(EINVAL);
        }
    }
    if insn_off == 0 {
        verbose!(env, "exception callback type id not found in func_info\n");
        return Err(EINVAL);
    }
    Ok(insn_off)
}

/// Returns the first instruction of the exception callback that the main
/// program names with its `exception_callback:<name>` BTF decl tag, 0 if it
/// names none, or an error (logged) if the tag is wrong: more than one tag,
/// no such function, not global, or not a subprog of this program.
///
/// # Safety
///
/// `env` must be the environment of a running verification.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_find_callback(
    env: *mut bindings::bpf_verifier_env,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    to_c(unsafe { Env::from_raw(env) }.and_then(|env| find_callback(&env)))
}

/// Marks subprog `i` as the program's exception callback.
fn mark_callback(env: &mut Env<'_>, i: usize) {
    let Some(info) = env.subprog_info_mut().get_mut(i) else {
        return;
    };
    info.set_is_cb(true);
    info.set_is_async_cb(true);
    info.set_is_exception_cb(true);
    env.set_exception_callback_subprog(i as c_int);
}

/// Makes the subprog that starts at `insn_off`, found by
/// [`bpf_exceptions_find_callback`], the program's exception callback.
///
/// # Safety
///
/// `env` must be the environment of a running verification, with a subprog
/// added at `insn_off`.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_set_callback(
    env: *mut bindings::bpf_verifier_env,
    insn_off: c_int,
) {
    // SAFETY: Guaranteed by the caller.
    let Ok(mut env) = (unsafe { Env::from_raw(env) }) else {
        return;
    };
    if let Some(i) = env.get().find_subprog(insn_off.into()).filter(|&i| i > 0) {
        mark_callback(&mut env, i);
    }
}

fn scan(env: &mut Env<'_>) -> Result {
    let r = env.get();
    let cnt = r.subprog_cnt();
    let mut calls = KVec::with_capacity(cnt, GFP_KERNEL)?;
    for _ in 0..cnt {
        calls.push(SubprogSet::new(), GFP_KERNEL)?;
    }
    let mut graph = CallGraph::new(&mut calls);
    let mut cur = 0;
    for (i, insn) in r.insns().iter().enumerate() {
        // subprog_info[cnt].start is the end of the program.
        while cur + 1 < cnt && i >= r.subprog_info()[cur + 1].start as usize {
            cur += 1;
        }
        if is_throw(insn) {
            graph.throw(cur);
        } else if is_pseudo_call(insn) {
            // check_subprogs() has made every target a subprog start.
            if let Some(callee) = r.find_subprog(i as i64 + i64::from(insn.imm) + 1) {
                graph.call(cur, callee);
            }
        }
    }
    let throws = graph.may_throw();
    for (s, info) in env.subprog_info_mut()[..cnt].iter_mut().enumerate() {
        info.set_might_throw(throws.contains(s));
    }
    Ok(())
}

/// Marks each subprog that may throw: it calls `bpf_throw()`, or calls a
/// subprog that may throw. Runs once the subprogs are known and before the
/// program is walked.
///
/// # Safety
///
/// `env` must be the environment of a running verification, after
/// `check_subprogs()`.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_scan(env: *mut bindings::bpf_verifier_env) -> c_int {
    // SAFETY: Guaranteed by the caller.
    to_c(unsafe { Env::from_raw(env) }.and_then(|mut env| scan(&mut env).map(|()| 0)))
}

/// Rejects a call to global subprog `subprog` (named `name`) that may throw
/// while the caller holds what a throw would leave held: a lock, an RCU read
/// section, disabled preemption or a reference. Such a subprog is verified
/// on its own, with nothing held, so its throws cannot see these.
///
/// # Safety
///
/// `env` must be the environment of a running verification, at a call of
/// global subprog `subprog`; `name` must be a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_check_global_call(
    env: *mut bindings::bpf_verifier_env,
    subprog: c_int,
    name: *const c_char,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    let env = unsafe { Env::from_raw(env) };
    to_c(env.and_then(|mut env| check_global_call(&mut env, subprog, name)))
}

/// See [`bpf_exceptions_check_global_call`].
fn check_global_call(env: &mut Env<'_>, subprog: c_int, name: *const c_char) -> Result<c_int> {
    let r = env.get();
    let st = r.state()?;
    // The current frame's references include the callers' (they are
    // copied into each new frame).
    let frame = st.cur_frame()?;
    // An extension that replaces a global subprog and throws is its own
    // exception boundary: its throw returns to this caller, which still
    // releases what it holds. Only the subprog's own throws matter here.
    let sub = usize::try_from(subprog)
        .ok()
        .and_then(|i| r.subprogs().get(i));
    if !sub.ok_or(EFAULT)?.might_throw() {
        return Ok(0);
    }
    // On x86-64 and arm64 a throw releases what the callers hold, as for
    // a throw of their own; 6.12 refuses a global call with a lock held or
    // preemption disabled before this.
    if st.active_preempt_lock == 0 && releases_at(st) {
        // The callee clobbers R0-R5: only R6-R9 and the stack count.
        return record(env, c"call of a global function that may throw", false).map(|()| 0);
    }
    let what = if !st.active_lock.ptr.is_null() {
        c"bpf_spin_lock-ed region"
    } else if st.active_rcu_lock {
        c"bpf_rcu_read_lock-ed region"
    } else if st.active_preempt_lock != 0 {
        c"bpf_preempt_disable-ed region"
    } else if let Some(held) = frame.refs().first() {
        verbose!(
            r,
            "Func#%d ('%s') may throw: bpf_throw would leak reference id=%d alloc_insn=%d\n",
            subprog,
            name,
            held.id,
            held.insn_idx,
        );
        return Err(EINVAL);
    } else {
        return Ok(0);
    };
    verbose!(
        r,
        "Func#%d ('%s') may throw: bpf_throw cannot be used inside %s\n",
        subprog,
        name,
        what.as_ptr(),
    );
    Err(EINVAL)
}

/// Handles the verifier's visit of a `bpf_throw()` call (the kfunc
/// `func_name`, `func_id`): the JIT must support exceptions, and the program
/// is marked as throwing. Returns 1 if the cookie in R1 must then be checked
/// as the program's return value, because the default callback will return
/// it; 0 if the program has its own callback; or an error.
///
/// # Safety
///
/// `env` must be the environment of a running verification; `func_name`
/// must be a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_throw_kfunc(
    env: *mut bindings::bpf_verifier_env,
    func_name: *const c_char,
    func_id: u32,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    let env = unsafe { Env::from_raw(env) };
    to_c(env.and_then(|mut env| throw_kfunc(&mut env, func_name, func_id)))
}

/// See [`bpf_exceptions_throw_kfunc`].
fn throw_kfunc(env: &mut Env<'_>, func_name: *const c_char, func_id: u32) -> Result<c_int> {
    // SAFETY: Only reads a constant of the JIT.
    if !unsafe { bindings::bpf_jit_supports_exceptions() } {
        verbose!(
            env,
            "JIT does not support calling kfunc %s#%d\n",
            func_name,
            func_id
        );
        return Err(Error::from_errno(-(bindings::ENOTSUPP as c_int)));
    }
    env.set_seen_exception();
    // What the throw leaves held, recorded before the call clobbers R0-R5
    // in the state: the unwinder's entry saves R0 and R3-R5.
    if releases_at(env.get().state()?) {
        record(env, c"bpf_throw", true)?;
    }
    Ok(c_int::from(callback_subprog(env.get()).is_none()))
}

/// Whether a throw or a global call in state `st` records what it leaves
/// held, for the unwinder to release: on x86-64 and arm64 (`RELEASES`),
/// outside callbacks (whose throws are refused later, with their own
/// message) and without a lock (refused at once, with upstream's message).
fn releases_at(st: State<'_>) -> bool {
    RELEASES && st.active_lock.ptr.is_null() && !st.in_callback()
}

/// Checks the program exit being visited, a `BPF_EXIT` or, if `throw`, a
/// `bpf_throw()` call: no lock, RCU read section or disabled preemption
/// may be left at the exit of the main program, nor at any throw.
///
/// # Safety
///
/// `env` must be the environment of a running verification, at an exit.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_check_exit(
    env: *mut bindings::bpf_verifier_env,
    throw: bool,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    to_c(unsafe { Env::from_raw(env) }.and_then(|env| check_exit(env.get(), throw)))
}

/// See [`bpf_exceptions_check_exit`].
fn check_exit(env: EnvRef<'_>, throw: bool) -> Result<c_int> {
    let st = env.state()?;
    if !throw && st.curframe != 0 {
        return Ok(0);
    }
    // bpf_exceptions_throw_kfunc() has recorded what the throw releases.
    if throw && releases_at(st) {
        return Ok(0);
    }
    if !st.active_lock.ptr.is_null() {
        if throw {
            verbose!(
                env,
                "bpf_throw cannot be used inside bpf_spin_lock-ed region\n"
            );
        } else {
            verbose!(env, "bpf_spin_unlock is missing\n");
        }
        return Err(EINVAL);
    }
    if st.active_rcu_lock {
        if throw {
            verbose!(
                env,
                "bpf_throw cannot be used inside bpf_rcu_read_lock-ed region\n"
            );
        } else {
            verbose!(env, "bpf_rcu_read_unlock is missing\n");
        }
        return Err(EINVAL);
    }
    let n = st.active_preempt_lock;
    if n != 0 {
        if throw {
            verbose!(
                env,
                "bpf_throw cannot be used inside bpf_preempt_disable-ed region\n"
            );
        } else {
            let are = if n == 1 { c" is" } else { c"(s) are" };
            verbose!(env, "%d bpf_preempt_enable%s missing\n", n, are.as_ptr());
        }
        return Err(EINVAL);
    }
    if throw {
        // What upstream's check_reference_leak() reports.
        let refs = st.cur_frame()?.refs();
        for r in refs {
            verbose!(
                env,
                "Unreleased reference id=%d alloc_insn=%d\n",
                r.id,
                r.insn_idx
            );
        }
        if !refs.is_empty() {
            return Err(EINVAL);
        }
    }
    Ok(0)
}

/// Whether a throw releases what the program holds: on x86-64, whose JIT
/// and unwinder give every frame's R6 to R9 and stack, and on arm64, whose
/// prologues the unwinder reads for them. Elsewhere a throw that leaves
/// anything held is refused, as upstream refuses it.
pub(crate) const RELEASES: bool = cfg!(CONFIG_X86_64) || cfg!(CONFIG_ARM64);

/// The address of the BTF destructor of kernel type `id` of `btf`, if it
/// has one (`register_btf_id_dtor_kfuncs()`) that a throw may call: a type
/// of vmlinux or of a module.
///
/// `dtors` keeps what earlier lookups found: a lookup searches the
/// kernel's symbols (`kallsyms_lookup_name()`), and a walk looks up every
/// reference it holds. Without it, a program holding 63 tasks at each of
/// 20 000 calls of a global function took 26 times stock's time to verify.
///
/// A module's destructor stays as long as the program can run: the
/// program got the object from one of the module's kfuncs, whose module
/// it holds (`kfunc_btf_tab`) until it is freed, or out of a map's kptr
/// field, whose map holds the module of the field's type
/// (`btf_parse_kptr()`) and is held by the program. A module's BTF
/// describes only its own types and vmlinux's, so no other module's
/// kfunc returns one of its types.
///
/// A module's BTF is split: its first types are vmlinux's, and a module's
/// kfunc may acquire a vmlinux object (a task), whose register then has
/// the module's BTF. Its destructor is registered in vmlinux's BTF.
fn dtor_of(btf: Btf<'_>, id: u32, dtors: &mut KVec<DtorOf>) -> Option<usize> {
    kernel_type(btf, id)?;
    let btf = defining_btf(btf, id);
    let key = btf.key();
    let addr = match dtors.iter().find(|d| d.btf == key && d.id == id) {
        Some(d) => d.addr,
        None => {
            let addr = lookup_dtor(btf, id).unwrap_or(0);
            // Not kept if full (or out of memory): the next walk looks
            // it up again.
            if dtors.len() < MAX_DTORS {
                let _ = dtors.push(DtorOf { btf: key, id, addr }, GFP_KERNEL);
            }
            addr
        }
    };
    (addr != 0).then_some(addr)
}

/// The BTF that defines type `id` of `btf`: `btf` or, for a type of its
/// base, the base's (vmlinux's, for a module's BTF).
fn defining_btf(btf: Btf<'_>, id: u32) -> Btf<'_> {
    let mut b = btf;
    while let Some(base) = b.base().filter(|base| id < base.nr_types()) {
        b = base;
    }
    b
}

/// [`dtor_of`] for type `id` of the kernel's `btf`, not kept.
fn lookup_dtor(btf: Btf<'_>, id: u32) -> Option<usize> {
    let k = btf.dtor_kfunc(id)?;
    let (_, name) = kernel_type(btf, k)?;
    let addr = if btf.is_module() {
        module_symbol(btf, name)?
    } else {
        // SAFETY: `name` is NUL-terminated.
        unsafe { bindings::kallsyms_lookup_name(name.as_ptr().cast()) }
    };
    (addr != 0 && callable(addr)).then_some(addr)
}

/// The address of `name` in the module that `btf`, a module's BTF,
/// describes, by its name "MODULE:NAME" (`module_kallsyms_lookup_name()`),
/// so that no other module's symbol of that name is taken for it.
fn module_symbol(btf: Btf<'_>, name: &CStr) -> Option<usize> {
    // A module's BTF is named after its module.
    let module = btf.name()?.to_bytes();
    let name = name.to_bytes_with_nul();
    let mut sym = KVec::with_capacity(module.len() + 1 + name.len(), GFP_KERNEL).ok()?;
    sym.extend_from_slice(module, GFP_KERNEL).ok()?;
    sym.push(b':', GFP_KERNEL).ok()?;
    sym.extend_from_slice(name, GFP_KERNEL).ok()?;
    // SAFETY: `sym` is NUL-terminated.
    Some(unsafe { bindings::kallsyms_lookup_name(sym.as_ptr().cast()) })
}

/// Whether a throw may call the destructor at `addr` through a pointer.
///
/// With IBT, objtool seals every function whose address the kernel never
/// takes (its `endbr64` becomes a 4-byte NOP, whatever the CPU), and an
/// indirect call of it faults on a CPU with IBT. vmlinux marks its
/// destructors `CFI_NOSEAL()`; a module may not (6.12's `bpf_testmod`
/// does not), so a destructor is used only if it starts with `endbr64`:
/// the verdict is then the same on every CPU. (This crate is not built
/// with `CONFIG_CFI_CLANG`, see `Kconfig`: FineIBT poisons the `endbr64`
/// of every function's entry, so this would refuse every destructor, and
/// kCFI would trap a call of one whose prototype is not `void (void *)`,
/// such as `bpf_testmod`'s.)
#[cfg(CONFIG_X86_KERNEL_IBT)]
fn callable(addr: usize) -> bool {
    /// `endbr64`: f3 0f 1e fa.
    const ENDBR64: u32 = 0xfa1e_0ff3;
    let mut first = 0u32;
    // SAFETY: Reads four bytes at `addr`, a kernel address, into `first`,
    // or fails.
    let r = unsafe {
        bindings::copy_from_kernel_nofault(
            core::ptr::addr_of_mut!(first).cast(),
            addr as *const c_void,
            4,
        )
    };
    r == 0 && first == ENDBR64
}

/// As above, without sealed functions.
#[cfg(not(CONFIG_X86_KERNEL_IBT))]
fn callable(_addr: usize) -> bool {
    true
}

/// [`Kind::PutFile`] if type `id` of `btf` is vmlinux's `struct file`: a
/// file of `bpf_get_task_exe_file()`, the only kfunc of 6.12 that acquires
/// one (with `CONFIG_BPF_LSM`), which `bpf_put_file()` releases.
fn file_of(btf: Btf<'_>, id: u32) -> Option<Kind> {
    if !cfg!(CONFIG_BPF_LSM) {
        return None;
    }
    let (t, name) = vmlinux_type(btf, id)?;
    // BTF_INFO_KIND(): bits 24-28.
    let kind = (t.info >> 24) & 0x1f;
    (kind == bindings::BTF_KIND_STRUCT && name.to_bytes() == b"file").then_some(Kind::PutFile)
}

/// Type `id` of `btf` and its name, if `btf` is vmlinux's: the iterators a
/// throw destroys and the files it puts are vmlinux's only.
fn vmlinux_type(btf: Btf<'_>, id: u32) -> Option<(&bindings::btf_type, &CStr)> {
    if btf.is_module() {
        return None;
    }
    kernel_type(btf, id)
}

/// Type `id` of `btf` and its name, if `btf` is the kernel's: vmlinux's or
/// a module's.
fn kernel_type(btf: Btf<'_>, id: u32) -> Option<(&bindings::btf_type, &CStr)> {
    if !btf.is_kernel() {
        return None;
    }
    let t = btf.type_by_id(id)?;
    Some((t, btf.name_of(t)?))
}

/// How a throw releases the reference in `reg`, a register or spilled
/// slot whose `ref_obj_id` is that reference's, and how far into the
/// object `reg` points (a constant offset, such as that of the list node
/// of an object popped from a list): `None` if it cannot.
fn kind_of(reg: &RegState, dtors: &mut KVec<DtorOf>) -> Option<(Kind, i16)> {
    if reg.var_off.mask != 0 {
        return None;
    }
    let off = i16::try_from(i64::from(reg.off).checked_add(reg.var_off.value as i64)?).ok()?;
    kind_at(reg, dtors).map(|k| (k, off))
}

/// [`kind_of`] without the offset.
fn kind_at(reg: &RegState, dtors: &mut KVec<DtorOf>) -> Option<Kind> {
    let base = reg.type_ & BASE_TYPE_MASK;
    let flags = reg.type_ & !BASE_TYPE_MASK;
    if let Some((btf, id)) = reg.btf_id() {
        if flags & bindings::bpf_type_flag_MEM_ALLOC != 0 {
            if flags & bindings::bpf_type_flag_MEM_PERCPU != 0 {
                return Some(Kind::PercpuObjDrop);
            }
            return Some(Kind::ObjDrop(btf.struct_meta(id)));
        }
        return dtor_of(btf, id, dtors)
            .map(Kind::Dtor)
            .or_else(|| file_of(btf, id));
    }
    if base == bindings::bpf_reg_type_PTR_TO_MEM && flags & bindings::bpf_type_flag_MEM_RINGBUF != 0
    {
        return Some(Kind::RingbufDiscard);
    }
    // A socket of `bpf_sk_lookup_tcp()` and the like, or of a lookup in a
    // sockmap; `bpf_tcp_sock()` and `bpf_sk_fullsock()` return the same
    // pointer with the same reference, or NULL.
    #[cfg(CONFIG_INET)]
    if base == bindings::bpf_reg_type_PTR_TO_SOCKET
        || base == bindings::bpf_reg_type_PTR_TO_SOCK_COMMON
        || base == bindings::bpf_reg_type_PTR_TO_TCP_SOCK
    {
        return Some(Kind::SkRelease);
    }
    None
}

/// How a throw destroys the open-coded iterator whose first slot is slot
/// `n` of `slots`, a frame's stack: by `bpf_iter_<type>_destroy()` of its
/// vmlinux type. `None`, and the throw is refused, for an iterator of
/// another type ([`Iter::of_name`]), or if a slot of the iterator is no
/// longer the iterator's: the verifier lets a program overwrite an
/// iterator's other slots (it then cannot pass it to its kfuncs, and
/// leaks it), and a destroy of what it wrote there could free memory of
/// the program's choosing. The checks are `is_iter_reg_valid_init()`'s.
fn iter_at(slots: &[Slot], n: usize) -> Option<Kind> {
    let (btf, id) = slots.get(n)?.iter()?;
    let (t, name) = vmlinux_type(btf, id)?;
    let size = crate::env::type_size(t);
    let iter = Iter::of_name(name.to_bytes())?;
    let nr_slots = (size / bindings::BPF_REG_SIZE) as usize;
    if nr_slots == 0 {
        return None;
    }
    for i in 0..nr_slots {
        let slot = slots.get(n.checked_sub(i)?)?;
        let st = &slot.spilled_ptr;
        let ours = st.type_ & bindings::bpf_type_flag_PTR_UNTRUSTED == 0
            && (i == 0) == (st.ref_obj_id != 0)
            && slot.iter() == Some((btf, id));
        if !ours {
            return None;
        }
    }
    Some(Kind::IterDestroy(iter))
}

/// The registers a throw may release in frame `fi` of `frames`: R6 to R9,
/// and in the innermost frame at a call of `bpf_throw()` (`scratch`) also
/// R0 and R3 to R5, which the unwinder's entry saves (R1 is the cookie, R2
/// the aux that the verifier loads before the call).
fn regs_of(frames_len: usize, fi: usize, scratch: bool) -> &'static [u8] {
    if scratch && fi + 1 == frames_len {
        &[0, 3, 4, 5, 6, 7, 8, 9]
    } else {
        &[6, 7, 8, 9]
    }
}

/// Whether `loc` of frame `f` of `frames` is the slot of its own of an
/// acquiring call of the frame's subprog (see [`shadow`]).
fn is_shadow(frames: &[Frame<'_>], shadows: &[Shadow], f: u8, loc: Loc) -> bool {
    let (Loc::Slot(n), Some(fr)) = (loc, frames.get(usize::from(f))) else {
        return false;
    };
    shadows
        .iter()
        .any(|s| s.subprog == fr.subprogno && s.slot == n)
}

/// A place of a walk's frames whose register state has a `ref_obj_id`:
/// a register a throw may release ([`regs_of`]) or a stack slot.
#[derive(Clone, Copy)]
struct Holder {
    /// The reference.
    id: u32,
    /// The frame, 0 the outermost.
    frame: u8,
    /// Where in the frame.
    loc: Loc,
}

/// The places of `frames` that hold part of a reference, sorted by
/// reference, then frame and place: one scan of the frames per walk. A
/// scan per reference held, as before, cost each walk the references
/// times the places.
///
fn holders(frames: &[Frame<'_>], scratch: bool) -> Result<KVec<Holder>> {
    let mut list = KVec::new();
    for (fi, f) in frames.iter().enumerate() {
        let frame = fi as u8;
        for &r in regs_of(frames.len(), fi, scratch) {
            let id = f.regs[usize::from(r)].ref_obj_id;
            if id != 0 {
                let loc = Loc::Reg(r);
                list.push(Holder { id, frame, loc }, GFP_KERNEL)?;
            }
        }
        for (n, slot) in f.slots().iter().enumerate() {
            let id = slot.spilled_ptr.ref_obj_id;
            if id != 0 {
                let loc = Loc::Slot(n as u16);
                list.push(Holder { id, frame, loc }, GFP_KERNEL)?;
            }
        }
    }
    list.sort_unstable_by_key(|h| (h.id, h.frame, h.loc));
    Ok(list)
}

/// The places of `list`, sorted by [`holders`], that hold reference `id`.
fn holders_of(list: &[Holder], id: u32) -> &[Holder] {
    let first = list.partition_point(|h| h.id < id);
    let end = list.partition_point(|h| h.id <= id);
    list.get(first..end).unwrap_or(&[])
}

/// Where, among `frames` (the outermost first), a throw finds reference
/// `id` and how it releases it: see [`cleanup::choose`], but a place whose
/// type says it may be NULL only if no other holds it and only if it is
/// the acquiring call's result (a cast such as `bpf_sk_fullsock()` may be
/// NULL where the reference is not: never), and a
/// pointer into the object (to one of its fields) only if no place holds
/// a pointer to its start. An iterator or a ring buffer dynptr is released
/// in its stack slots, and a pointer into its memory never released.
/// Before all of these comes the slot of its own that an earlier pass gave
/// the acquiring call (`shadows`, see [`shadow`]), then a place that an
/// earlier pass of the verifier
/// hinted for the chain (`hinted`, see [`cleanup::hints`], in its order)
/// with the same kind at the same offset, then one where `prior`, what earlier walks of
/// the chain release, releases the same kind at the same offset: walks
/// that keep the reference in several places then agree where they can
/// (`cleanup::merge` still checks every place).
/// `None` if no place holds it as something a throw can release.
///
/// `held` are the places of `frames` that hold `id` ([`holders_of`]).
fn place_of(
    frames: &[Frame<'_>],
    id: u32,
    held: &[Holder],
    prior: &[Release],
    hinted: &[Release],
    shadows: &[Shadow],
    dtors: &mut KVec<DtorOf>,
) -> Option<(u8, Loc, Kind, i16)> {
    type Key = (bool, usize, usize, bool, bool, (u8, u8, Loc));
    type Best = Option<(Key, (u8, Loc, (Kind, i16)))>;
    let plain = |f: u8, l: Loc| !is_shadow(frames, shadows, f, l);
    // A place hinted, or where an earlier walk of the chain released the
    // same kind, so that walks which keep the reference in several places
    // agree: its index among them. The hints are in the order found, and
    // few (conflicts only); what the chain releases is sorted by place,
    // one reference per place, so a binary search finds it.
    // A release by a handle stands for the resource in place that it
    // finds: a dynptr and its clone, or their iterator, are then chosen
    // where the handle found it before.
    let same = |r: &Release, f: u8, l: Loc, k: (Kind, i16)| {
        (r.frame, r.loc, r.kind, r.off) == (f, l, k.0, k.1)
            || (r.kind.by_handle()
                && k.0.with_handle() == Some(r.kind)
                && (r.frame, r.first_slot().map(Loc::Slot)) == (f, Some(l)))
    };
    let hint = |f: u8, l: Loc, k: (Kind, i16)| {
        hinted
            .iter()
            .position(|r| same(r, f, l, k))
            .unwrap_or(usize::MAX)
    };
    let released = |f: u8, l: Loc, k: (Kind, i16)| match prior
        .binary_search_by(|r| (r.frame, r.loc).cmp(&(f, l)))
        .ok()
        .and_then(|i| Some((i, prior.get(i)?)))
    {
        Some((i, r)) if (r.kind, r.off) == k => i,
        // A handle's place is elsewhere: one scan, for a resource in
        // place only.
        _ if k.0.in_place() => prior
            .iter()
            .position(|r| same(r, f, l, k))
            .unwrap_or(usize::MAX),
        _ => usize::MAX,
    };
    // A call's own slot (see `shadow`), then hinted (the first hints
    // first: see `cleanup::hints`), then released before, then not NULL,
    // then at the object rather than into it, then by rank: the least
    // key, computed once per place.
    let best_of = |best: Best, null: bool, fi: u8, loc: Loc, kind: (Kind, i16)| {
        let key = (
            plain(fi, loc),
            hint(fi, loc, kind),
            released(fi, loc, kind),
            null,
            kind.1 != 0,
            cleanup::rank(fi, loc),
        );
        match best {
            Some((k, _)) if k <= key => best,
            _ => Some((key, (fi, loc, kind))),
        }
    };
    // A dynptr's slots, or an iterator's first slot, hold its reference:
    // the first found, frame by frame and slot by slot.
    let slot_of = |h: &Holder| match h.loc {
        Loc::Slot(n) => frames
            .get(usize::from(h.frame))
            .map(|f| f.slots())
            .and_then(|s| Some((s, usize::from(n), s.get(usize::from(n))?))),
        Loc::Reg(_) => None,
    };
    let mut in_stack = false;
    let mut best = None;
    for h in held {
        let Some((slots, n, slot)) = slot_of(h) else {
            continue;
        };
        let t = u32::from(slot.slot_type[bindings::BPF_REG_SIZE as usize - 1]);
        if t == bindings::bpf_stack_slot_type_STACK_ITER {
            return iter_at(slots, n).map(|k| (h.frame, h.loc, k, 0));
        }
        if let Some((first, type_)) = slot.dynptr() {
            in_stack = true;
            if first && type_ == bindings::bpf_dynptr_type_BPF_DYNPTR_TYPE_RINGBUF {
                best = best_of(best, false, h.frame, h.loc, (Kind::DynptrDiscard, 0));
            }
        }
    }
    if in_stack {
        return best.map(|(_, (f, l, (k, o)))| (f, l, k, o));
    }
    for h in held {
        let reg = match h.loc {
            Loc::Reg(r) => match frames.get(usize::from(h.frame)) {
                Some(f) => match f.reg(r) {
                    Some(reg) => reg,
                    None => continue,
                },
                None => continue,
            },
            Loc::Slot(_) => match slot_of(h) {
                Some((_, _, slot))
                    if u32::from(slot.slot_type[bindings::BPF_REG_SIZE as usize - 1])
                        == bindings::bpf_stack_slot_type_STACK_SPILL =>
                {
                    slot.spilled()
                }
                _ => continue,
            },
        };
        if reg.ref_obj_id != id {
            continue;
        }
        let null = reg.type_ & bindings::bpf_type_flag_PTR_MAYBE_NULL != 0;
        // A place that may be NULL must be the acquiring call's own
        // result (or a copy), NULL only if nothing was acquired; a
        // cast such as `bpf_sk_fullsock()` may be NULL where the
        // reference is not.
        if null && reg.id != reg.ref_obj_id {
            continue;
        }
        if let Some(kind) = kind_of(reg, dtors) {
            best = best_of(best, null, h.frame, h.loc, kind);
        }
    }
    best.map(|(_, (f, l, (k, o)))| (f, l, k, o))
}

/// The handle of the iterator that the call `site` (by index as loaded)
/// made at slot `n` of frame `fi` of `frames`, if the call has one (see
/// [`handle`]) and it holds the frame's pointer: its slot, in the same
/// frame, and how far below that pointer the iterator starts.
fn handle_of(
    frames: &[Frame<'_>],
    shadows: &[Shadow],
    site: u32,
    fi: u8,
    n: usize,
) -> Option<(u16, i16)> {
    let f = frames.get(usize::from(fi))?;
    let sh = shadows
        .iter()
        .find(|s| s.handle && s.site == site && s.subprog == f.subprogno)?;
    let slot = f.slots().get(usize::from(sh.slot))?;
    let spill = bindings::bpf_stack_slot_type_STACK_SPILL;
    if !slot.slot_type.iter().all(|&t| u32::from(t) == spill) {
        return None;
    }
    // The program stores the frame's own pointer there, r10.
    if slot.spilled().stack_pointer()? != (u32::from(fi), 0) {
        return None;
    }
    let off = 8 * (i16::try_from(n).ok()? + 1);
    Some((sh.slot, off))
}

/// Whether `reg` is a scalar known to be zero.
fn is_zero(reg: &bindings::bpf_reg_state) -> bool {
    reg.type_ == bindings::bpf_reg_type_SCALAR_VALUE
        && reg.var_off.mask == 0
        && reg.var_off.value == 0
}

/// The most passes of the verifier over a program, the first included:
/// each one after the first has hints that the one before lacked.
const MAX_PASSES: u8 = 4;

/// The most slots a program gets from [`shadow`] and [`zero_on_entry`]:
/// each costs a copy of the program's instructions and aux data.
const MAX_OWN_SLOTS: usize = 64;

/// The most acquiring calls that the walks of one chain note, and the
/// most calls of subprogs that returned a pointer that a pass notes.
const MAX_SITES: usize = 4 * MAX_OWN_SLOTS;

/// Inserts `v` into `list`, sorted by `key`, unless an element has its
/// key or the list has `MAX_SITES` elements: a lookup and an insertion
/// cost a binary search and a move of at most `MAX_SITES` elements.
/// Returns whether it inserted it.
fn insert_sorted<T: Copy, K: Ord, A: Allocator>(
    list: &mut kernel::alloc::Vec<T, A>,
    v: T,
    key: impl Fn(&T) -> K,
) -> Result<bool> {
    let Err(i) = list.binary_search_by_key(&key(&v), &key) else {
        return Ok(false);
    };
    if list.len() >= MAX_SITES {
        return Ok(false);
    }
    list.push(v, GFP_KERNEL)?;
    if let Some(tail) = list.get_mut(i..) {
        tail.rotate_right(1);
    }
    Ok(true)
}

/// What `list` records of `chain`: the releases of its walks.
fn of_chain<'a>(list: &'a [Pending], by_chain: &ChainIndex, chain: &[u32]) -> &'a [Release] {
    by_chain
        .find(list, chain)
        .and_then(|i| list.get(i))
        .map_or(&[], |p| &p.releases[..])
}

/// The places that `list`, sorted by chain, hints for `chain`: a binary
/// search.
fn sorted_hints_of<'a>(list: &'a [Hint], chain: &[u32]) -> &'a [Release] {
    list.binary_search_by(|h| h.calls().cmp(chain))
        .ok()
        .and_then(|i| list.get(i))
        .map_or(&[], |h| &h.places[..])
}

/// Adds `places` to the hints of `list` for the chain `calls`: entry
/// `at` of `list` if given, else a new entry, whose index goes to `at`.
/// Each chain has a record, which keeps its entry's index: a lookup per
/// conflict in the list, as before, made a program with a conflict in
/// each of 10^5 chains cost 10^10 comparisons.
fn add_hints(
    list: &mut KVVec<Hint>,
    at: &mut Option<u32>,
    calls: &[u32],
    places: &[Release],
) -> Result {
    let i = match at.map(|i| i as usize).filter(|&i| i < list.len()) {
        Some(i) => i,
        None => {
            let mut chain = [0u32; MAX_FRAMES];
            chain
                .get_mut(..calls.len())
                .ok_or(EFAULT)?
                .copy_from_slice(calls);
            list.push(
                Hint {
                    chain,
                    depth: calls.len() as u8,
                    places: KVec::new(),
                },
                GFP_KERNEL,
            )?;
            *at = Some(u32::try_from(list.len() - 1).map_err(|_| E2BIG)?);
            list.len() - 1
        }
    };
    let hint = list.get_mut(i).ok_or(EFAULT)?;
    for p in places {
        hint.places.push(*p, GFP_KERNEL)?;
    }
    Ok(())
}

/// On a walk of the chain of `p` that conflicts with its earlier walks
/// (`p.releases`, what they release; `new` and `new_zeros`, the walk's
/// own), notes in `next` the hints that a new pass of the verifier gets
/// ([`cleanup::hints`]; `hinted` are this pass's), but a call's own slot
/// (`own`), which every walk prefers anyway. Returns whether there were
/// new ones; an error only if memory runs out.
fn hint_next(
    next: &mut KVVec<Hint>,
    p: &mut Pending,
    shared: &mut Shared,
    new: &[Release],
    new_zeros: &Zeros,
    hinted: &[Release],
    own: impl Fn(u8, Loc) -> bool,
) -> Result<bool> {
    let noted = p
        .next_hint
        .and_then(|i| next.get(i as usize))
        .map_or(&[][..], |h| &h.places[..]);
    let mut known = KVec::with_capacity(hinted.len() + noted.len(), GFP_KERNEL)?;
    for h in Iterator::chain(hinted.iter(), noted.iter()) {
        known.push(*h, GFP_KERNEL)?;
    }
    let Ok(found) = cleanup::hints(&p.releases, new, new_zeros, &known) else {
        return Ok(false);
    };
    let mut add = KVec::new();
    for h in found.filter(|h| !own(h.frame, h.loc)) {
        add.push(h, GFP_KERNEL)?;
    }
    if add.is_empty() {
        return Ok(false);
    }
    shared.charge(add.len())?;
    add_hints(next, &mut p.next_hint, p.held.calls(), &add)?;
    Ok(true)
}

/// The calls that get a slot of their own when the walks of a chain, whose
/// innermost walk has `frames`, conflict: each acquiring call of `sites`
/// that lies in a subprog of the frames, and for one that does not (a
/// subprog that has returned acquired the pointer), the calls in the
/// frames' subprogs that returned its pointer in this pass (`returns`,
/// sorted by acquiring call), but the chain's own, which have not
/// returned. A lookup in `returns` is a binary search, and each of its
/// notes is looked at for one acquiring call at most.
fn own_slot_calls(
    env: EnvRef<'_>,
    frames: &[Frame<'_>],
    sites: &[Acquired],
    returns: &[Noted],
) -> Result<KVec<u32>> {
    let mut calls = KVec::new();
    for a in sites {
        if a.here {
            calls.push(a.site, GFP_KERNEL)?;
            continue;
        }
        let first = returns.partition_point(|n| n.site < a.site);
        let notes = returns.get(first..).unwrap_or(&[]);
        for n in notes.iter().take_while(|n| n.site == a.site) {
            let in_frames = frames.iter().any(|f| f.subprogno == n.subprog);
            let chain_call = frames
                .iter()
                .skip(1)
                .any(|f| env.orig_idx(f.callsite as usize) == n.at);
            if in_frames && !chain_call {
                calls.push(n.at, GFP_KERNEL)?;
            }
        }
    }
    Ok(calls)
}

/// On a walk that conflicts with the earlier walks of its chain in a way
/// that no hint resolves (two kinds of resource, or a pointer and a
/// scalar, in one place), asks a slot of its own for each call that
/// acquired a pointer held on a walk of the chain (`sites`, by index as
/// loaded): see [`shadow`]. Returns whether there was a call that has
/// none yet and is not asked for yet.
fn ask_shadows(
    asked: &mut KVec<u32>,
    shadows: &[Shadow],
    others: usize,
    sites: impl Iterator<Item = u32>,
) -> Result<bool> {
    let mut added = false;
    for site in sites {
        if shadows.iter().any(|s| s.site == site) || asked.iter().any(|&a| a == site) {
            continue;
        }
        if shadows.len() + others + asked.len() >= MAX_OWN_SLOTS {
            return Ok(false);
        }
        asked.push(site, GFP_KERNEL)?;
        added = true;
    }
    Ok(added)
}

/// On a walk that conflicts with the earlier walks of its chain in a way
/// that neither a hint nor a call's own slot resolves, asks that the slots
/// of each iterator and dynptr that a walk of the chain releases (`rel`),
/// its first and the one its destroy reads ([`cleanup::Release::absent`]),
/// be zeroed on entry to the subprog of their frame (of `frames`, the
/// walk's): see [`zero_on_entry`]. Returns whether there was a slot not
/// zeroed nor asked for yet.
fn ask_zeros<'a>(
    asked: &mut KVec<(u32, u16)>,
    shadows: &[Shadow],
    others: usize,
    frames: &[Frame<'_>],
    rel: impl Iterator<Item = &'a Release>,
) -> Result<bool> {
    let mut added = false;
    for r in rel.filter(|r| r.kind.in_place()) {
        let Some(f) = frames.get(usize::from(r.frame)) else {
            continue;
        };
        let absent = match r.absent() {
            Absent::Zero(_, Loc::Slot(n)) => Some(n),
            _ => None,
        };
        let first = match r.loc {
            Loc::Slot(n) => Some(n),
            Loc::Reg(_) => None,
        };
        for slot in Iterator::chain(first.into_iter(), absent) {
            let want = (f.subprogno, slot);
            if shadows.iter().any(|s| (s.subprog, s.slot) == want)
                || asked.iter().any(|&a| a == want)
            {
                continue;
            }
            if shadows.len() + others + asked.len() >= MAX_OWN_SLOTS {
                return Ok(false);
            }
            asked.push(want, GFP_KERNEL)?;
            added = true;
        }
    }
    Ok(added)
}

/// On a walk that conflicts with the earlier walks of its chain in a way
/// that zeroing on entry did not resolve (something else than an iterator
/// where its destroy reads), asks a handle for each call of `iters`
/// (noted by [`record_in`]) that made an iterator that a walk of the chain
/// destroys in place (`rel`) in a frame of `frames`, the walk's: see
/// [`handle`]. Returns whether there was a call that has none yet and is
/// not asked for yet.
fn ask_handles<'a>(
    asked: &mut KVec<u32>,
    shadows: &[Shadow],
    others: usize,
    frames: &[Frame<'_>],
    iters: &[IterSite],
    rel: impl Iterator<Item = &'a Release>,
) -> Result<bool> {
    let mut added = false;
    for r in rel.filter(|r| r.kind.with_handle().is_some()) {
        let (Loc::Slot(n), Some(f)) = (r.loc, frames.get(usize::from(r.frame))) else {
            continue;
        };
        // `iters` is sorted by place: a binary search.
        let place = (f.subprogno, n);
        let first = iters.partition_point(|i| (i.subprog, i.slot) < place);
        let here = iters.get(first..).unwrap_or(&[]);
        for it in here.iter().take_while(|i| (i.subprog, i.slot) == place) {
            let has = |s: &Shadow| s.handle && s.site == it.site;
            if shadows.iter().any(has) || asked.iter().any(|&a| a == it.site) {
                continue;
            }
            if shadows.len() + others + asked.len() >= MAX_OWN_SLOTS {
                return Ok(false);
            }
            asked.push(it.site, GFP_KERNEL)?;
            added = true;
        }
    }
    Ok(added)
}

/// Whether a walk with `frames` wrote something else than zero where the
/// release of `r`, an iterator or a dynptr in place, reads
/// ([`Release::absent`]): a zero on entry cannot make the walks agree
/// then.
fn overwritten(frames: &[Frame<'_>], r: &Release) -> bool {
    let (Some(_), Absent::Zero(f, Loc::Slot(m))) = (r.kind.with_handle(), r.absent()) else {
        return false;
    };
    let Some(slot) = frames
        .get(usize::from(f))
        .and_then(|fr| fr.slots().get(usize::from(m)))
    else {
        return false;
    };
    let is = |k: u32| slot.slot_type.iter().all(|&t| u32::from(t) == k);
    let untouched = slot.slot_type.iter().all(|&t| {
        let t = u32::from(t);
        t == bindings::bpf_stack_slot_type_STACK_INVALID
            || t == bindings::bpf_stack_slot_type_STACK_ZERO
    });
    // An iterator or a dynptr there is this walk's own, not what
    // conflicts.
    let spilled_zero = is(bindings::bpf_stack_slot_type_STACK_SPILL) && is_zero(slot.spilled());
    let own = is(bindings::bpf_stack_slot_type_STACK_ITER) || slot.dynptr().is_some();
    !untouched && !spilled_zero && !own
}

/// Gives the call `site` (by index as loaded), which makes an iterator in
/// its own frame, a stack slot of its own, below everything its subprog
/// used in the last pass, for the frame's pointer: the iterator's
/// *handle*. The program stores r10 there after the call (`*(u64 *)(r10 -
/// off) = r10`) and zeroes it on entry to the subprog, both inserted with
/// `bpf_patch_insn_data()`, and a later pass may have it cleared after the
/// iterator's destroy (see [`clear_after`]). The next pass walks those
/// instructions as the program's own: where the slot holds the frame's
/// pointer and the iterator that the call made lies in the frame, a throw
/// destroys the iterator by it ([`Kind::IterAt`]), and where the slot
/// holds zero, destroys nothing there, whatever the iterator's slots then
/// hold. Paths that leave the iterator's slots with something else in
/// them (a scalar that the destroy would free) then merge. A ring buffer
/// dynptr that `bpf_ringbuf_reserve_dynptr()` made gets a handle the same
/// way ([`Kind::DynptrAt`]).
///
/// `None` if the call is not found (removed) or the slot does not fit in
/// the subprog's 512 bytes.
fn handle(env: &mut Env<'_>, site: u32) -> Result<Option<Shadow>> {
    own_slot(env, site, true)
}

/// Gives the acquiring call `site` (by index as loaded) a stack slot of its
/// own, below everything its subprog used in the last pass: the program
/// stores there what the call returns (`*(u64 *)(r10 - off) = r0` after
/// it) and zeroes it on entry to the subprog (`*(u64 *)(r10 - off) = 0`
/// before its first instruction), both inserted with
/// `bpf_patch_insn_data()`. The next pass walks those instructions as the
/// program's own, so the slot holds the pointer wherever the verifier says
/// so, zero where the call did not run, and whatever else the program's
/// paths leave there (a pointer released since is not zero, and a throw
/// cannot rely on that slot then). A throw prefers it to every other place
/// that holds the pointer; two calls then never share a place.
///
/// `None` if the call is not found (removed) or the slot does not fit in
/// the subprog's 512 bytes.
fn shadow(env: &mut Env<'_>, site: u32) -> Result<Option<Shadow>> {
    own_slot(env, site, false)
}

/// [`shadow`], or for a `handle` [`handle`]: the slot, the zero on entry
/// and the store of r0, or of r10, after the call.
fn own_slot(env: &mut Env<'_>, site: u32, handle: bool) -> Result<Option<Shadow>> {
    let r = env.get();
    let insns = r.insns();
    let Some(s) = (0..insns.len()).find(|&j| r.orig_idx(j) == site && insns[j].code == JMP_CALL)
    else {
        return Ok(None);
    };
    let Some(i) = r.subprog_at(s) else {
        return Ok(None);
    };
    let range = r.subprog_range(i).ok_or(EFAULT)?;
    // The call is not its subprog's last instruction (which must jump or
    // exit): the store goes after it, in the same subprog.
    let after = s + 1;
    if after >= range.end {
        return Ok(None);
    }
    let depth = (r.subprogs()[i].stack_depth as usize).next_multiple_of(8);
    if depth + 8 > bindings::MAX_BPF_STACK as usize {
        return Ok(None);
    }
    let off = -((depth + 8) as i16);
    let src = if handle { Reg::R10 } else { Reg::R0 };
    let store = to_bpf(Insn::stx_dw(Reg::R10, src, off));
    let zero = to_bpf(Insn::st_dw(Reg::R10, off, 0));
    // A static subprog that returned the pointer on some paths may leave
    // R0 unwritten on others, which the verifier allows as long as the
    // caller does not read it: the store would. R0 is set on entry to the
    // callee, which cannot read it before it writes it, unless it is
    // already.
    let callee = (!handle && insns[s].src_reg() == BPF_PSEUDO_CALL)
        .then(|| s as i64 + i64::from(insns[s].imm) + 1)
        .and_then(|c| usize::try_from(c).ok())
        .filter(|&c| !is_r0_zero(insns.get(c)));
    let r0 = to_bpf(Insn::mov64_imm(Reg::R0, 0));
    // The subprog's start first: the call moves down by one.
    let start = range.start;
    insert_before(env, start, zero)?;
    let mut after = after + 1;
    if let Some(c) = callee {
        // The zero moved the callee down by one if it lies at or after
        // the caller's start.
        let c = if c >= start { c + 1 } else { c };
        insert_before(env, c, r0)?;
        if c <= after {
            after += 1;
        }
    }
    insert_before(env, after, store)?;
    let info = env.subprog_info_mut().get_mut(i).ok_or(EFAULT)?;
    info.stack_depth = (depth + 8) as u16;
    Ok(Some(Shadow {
        site,
        subprog: i as u32,
        slot: (depth / 8) as u16,
        handle,
    }))
}

/// Whether `insn` is `r0 = 0`.
fn is_r0_zero(insn: Option<&bindings::bpf_insn>) -> bool {
    let r0 = to_bpf(Insn::mov64_imm(Reg::R0, 0));
    insn.is_some_and(|i| {
        (i.code, i.dst_reg(), i.src_reg(), i.off, i.imm)
            == (r0.code, r0.dst_reg(), r0.src_reg(), r0.off, r0.imm)
    })
}

/// `insn` as the kernel's `struct bpf_insn`.
fn to_bpf(insn: Insn) -> bindings::bpf_insn {
    let mut b = bindings::bpf_insn {
        code: insn.code,
        off: insn.off,
        imm: insn.imm,
        ..Default::default()
    };
    b.set_dst_reg(insn.regs & 0x0f);
    b.set_src_reg(insn.regs >> 4);
    b
}

/// Where an instruction keeps its relative target (`target = index +
/// value + 1`): in `off`, or in `imm` (gotol, a call of a subprog, a
/// callback's address); `jump` if it is a jump rather than a call or a
/// callback reference.
#[derive(Clone, Copy)]
struct Target {
    imm: bool,
    jump: bool,
}

impl Target {
    /// `None` for an instruction without a relative target.
    fn of(insn: &bindings::bpf_insn) -> Option<Target> {
        let class = insn.code & 0x07;
        let op = insn.code & 0xf0;
        if insn.code == 0x18 && u32::from(insn.src_reg()) == bindings::BPF_PSEUDO_FUNC {
            // BPF_LD | BPF_IMM | BPF_DW of a callback's address.
            return Some(Target {
                imm: true,
                jump: false,
            });
        }
        if class != 0x05 && class != 0x06 {
            // Not BPF_JMP nor BPF_JMP32.
            return None;
        }
        match op {
            // BPF_CALL: of a subprog only.
            0x80 => (u32::from(insn.src_reg()) == bindings::BPF_PSEUDO_CALL).then_some(Target {
                imm: true,
                jump: false,
            }),
            // BPF_EXIT.
            0x90 => None,
            // BPF_JMP32 | BPF_JA, gotol, has its offset in imm.
            _ => Some(Target {
                imm: insn.code == 0x06,
                jump: true,
            }),
        }
    }

    fn get(self, insn: &bindings::bpf_insn) -> i64 {
        if self.imm {
            i64::from(insn.imm)
        } else {
            i64::from(insn.off)
        }
    }

    fn set(self, insn: &mut bindings::bpf_insn, v: i64) -> Result {
        if self.imm {
            insn.imm = i32::try_from(v).map_err(|_| ERANGE)?;
        } else {
            insn.off = i16::try_from(v).map_err(|_| ERANGE)?;
        }
        Ok(())
    }
}

/// Inserts `insn` before instruction `at` with `bpf_patch_insn_data()`.
/// The patch keeps the old instruction's aux data for it, now at `at + 1`;
/// calls and callback references to `at` land on `insn`, jumps within the
/// function on the old instruction. `insn` gets the old instruction's
/// checkpoint and jump-point flags.
fn insert_before(env: &mut Env<'_>, at: usize, insn: bindings::bpf_insn) -> Result {
    let patch = [insn, *env.get().insns().get(at).ok_or(EFAULT)?];
    env.patch(at, &patch)?;
    let i = env.get().subprog_at(at).ok_or(EFAULT)?;
    let range = env.get().subprog_range(i).ok_or(EFAULT)?;
    let code = env.insns_mut();
    // `bpf_adj_branches()` leaves the patch's own instructions alone: the
    // old instruction, now at `at + 1`, keeps its relative target, which
    // is one too far if it lies at or before `at` (a backward jump, or a
    // call or callback reference to an earlier subprog or its own start,
    // which the inserted instruction now is). Upstream's patches that move
    // a jump correct it the same way (may_goto's `off - 1`).
    if let Some(moved) = code.get_mut(at + 1) {
        if let Some(t) = Target::of(moved) {
            if t.get(moved) <= -1 {
                t.set(moved, t.get(moved) - 1)?;
            }
        }
    }
    // Jumps within the function to `at` now land on the inserted
    // instruction: send them to the old one, so that it runs only where
    // the function is entered (by a call, or at the program's start) or
    // the acquiring call falls through to it. Calls and callback
    // references are left to land on it.
    let end = range.end.min(code.len());
    for j in (range.start..end).filter(|&j| j != at) {
        let Some(insn) = code.get_mut(j) else { break };
        let Some(t) = Target::of(insn).filter(|t| t.jump) else {
            continue;
        };
        let v = t.get(insn);
        if (j as i64) + v + 1 == at as i64 {
            t.set(insn, v + 1)?;
        }
    }
    let old = env.get().insn_aux(at + 1).ok_or(EFAULT)?;
    let (prune, jmp, force) = (old.prune_point, old.jmp_point, old.force_checkpoint);
    let new = env.insn_aux_mut(at).ok_or(EFAULT)?;
    new.prune_point = prune;
    new.jmp_point = jmp;
    new.force_checkpoint = force;
    Ok(())
}

/// Zeroes slot `slot` of subprog `subprog` on entry to it (`*(u64 *)(r10 -
/// 8 * (slot + 1)) = 0` before its first instruction): a slot where an
/// iterator or a dynptr lies on some paths, so that on the paths that
/// never write it, it holds the zero that lets a throw destroy nothing
/// there (see [`cleanup::Release::absent`]). The next pass walks it as the
/// program's own; a path that writes something else there still
/// conflicts.
fn zero_on_entry(env: &mut Env<'_>, subprog: u32, slot: u16) -> Result<Option<Shadow>> {
    let i = subprog as usize;
    let Some(info) = env.get().subprogs().get(i) else {
        return Ok(None);
    };
    if 8 * (usize::from(slot) + 1) > info.stack_depth as usize {
        return Ok(None);
    }
    let zero = to_bpf(Insn::st_dw(Reg::R10, -8 * (slot as i16 + 1), 0));
    insert_before(env, info.start as usize, zero)?;
    Ok(Some(Shadow {
        site: u32::MAX,
        subprog,
        slot,
        handle: false,
    }))
}

/// Called by `prepare_func_exit()` when the verifier returns from a static
/// subprog, called at instruction `callsite`, that returns reference
/// `ref_obj_id` in R0 (0 for none): notes the call, for the reference's
/// acquiring call, in a sorted list of at most `MAX_SITES` per pass. A
/// call whose pointer is in conflict at a throw, and whose frame is gone,
/// then gets a slot of its own at the calls that returned its pointer to a
/// frame the throw unwinds (see [`shadow`]). A call that cannot be noted
/// is left out: the program may then be refused, never wrongly released.
///
/// # Safety
///
/// `env` must be the environment of a running verification, returning
/// from a subprog: its current frame is still the callee's.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_note_return(
    env: *mut bindings::bpf_verifier_env,
    callsite: c_int,
    ref_obj_id: c_int,
) {
    // SAFETY: Guaranteed by the caller.
    let Ok(mut env) = (unsafe { Env::from_raw(env) }) else {
        return;
    };
    if ref_obj_id > 0 && callsite >= 0 {
        let _ = note_return(&mut env, callsite as usize, ref_obj_id);
    }
}

/// See [`bpf_exceptions_note_return`].
fn note_return(env: &mut Env<'_>, callsite: usize, id: c_int) -> Result {
    let (r, aux) = env.split();
    if aux.throw_sites.is_null() {
        return Ok(());
    }
    // The frame `curframe` is still the callee's.
    let f = r.state()?.cur_frame()?;
    let Some(held) = f.refs().iter().find(|h| h.id == id) else {
        return Ok(());
    };
    let (at, site) = (r.orig_idx(callsite), r.orig_idx(held.insn_idx as usize));
    let subprog = r.subprog_at(callsite).ok_or(EFAULT)? as u32;
    let ts = aux.throw_sites().ok_or(ENOMEM)?;
    let noted = Noted {
        at,
        site,
        subprog,
        asked: false,
    };
    insert_sorted(&mut ts.returns, noted, |n| (n.site, n.at))?;
    Ok(())
}

/// Called by `release_reference()` before the verifier releases reference
/// `ref_obj_id` at the call being visited (a release kfunc or helper, a
/// kfunc that consumes it), and by `check_helper_call()` and
/// `check_kfunc_call()` before `bpf_kptr_xchg()` moves it into a map and
/// before a push into a list or an rbtree makes its copies non-owning.
/// If a frame holds the pointer in its acquiring call's own slot (see
/// [`shadow`]), notes the release, or in a caller of the frame that
/// releases, its call that led there: a later pass may have the program
/// clear the slot after it (see [`clear_after`]). At most
/// `MAX_OWN_SLOTS` releases are noted per pass, and one that cannot be
/// noted (no memory) is left out: the program may then be refused, never
/// wrongly released. Returns 0.
///
/// # Safety
///
/// `env` must be the environment of a running verification, at a call.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_note_release(
    env: *mut bindings::bpf_verifier_env,
    ref_obj_id: c_int,
) -> c_int {
    // Never fails: a failure would have to be handled before every
    // release the verifier makes.
    // SAFETY: Guaranteed by the caller.
    if let Ok(mut env) = unsafe { Env::from_raw(env) } {
        let _ = note_release(&mut env, ref_obj_id);
    }
    0
}

/// See [`bpf_exceptions_note_release`].
fn note_release(env: &mut Env<'_>, ref_obj_id: c_int) -> Result {
    let (r, aux) = env.split();
    if aux.throw_sites.is_null() || ref_obj_id <= 0 {
        return Ok(());
    }
    let st = r.state()?;
    let cur = st.cur();
    // The call that acquired it, by index as loaded and as now: an
    // iterator's, for its handle.
    let acquired = st
        .cur_frame()?
        .refs()
        .iter()
        .find(|h| h.id == ref_obj_id)
        .map(|h| h.insn_idx as usize);
    let site = acquired.map(|at| r.orig_idx(at));
    let ts = aux.throw_sites().ok_or(ENOMEM)?;
    for k in 0..=cur.min(MAX_FRAMES - 1) {
        let f = st.frame(k).ok_or(EFAULT)?;
        // The release itself, or in a frame that called into the one that
        // releases, the call there that led to it: the slot is cleared
        // after that call returns.
        let at = if k == cur {
            r.orig_idx(r.insn_idx() as usize)
        } else {
            r.orig_idx(st.frame(k + 1).ok_or(EFAULT)?.callsite as usize)
        };
        note_release_in(ts, f, at, ref_obj_id, site)?;
        // An iterator or a dynptr that its call made in this frame: a
        // handle that a later pass gives the call is cleared after `at`
        // from the start.
        let made_here = acquired.and_then(|a| r.subprog_at(a)) == Some(f.subprogno as usize);
        let iter = |s: &Slot| {
            (s.iter().is_some() || s.dynptr().is_some())
                && s.spilled_ptr.ref_obj_id == ref_obj_id as u32
        };
        if let (true, Some(site)) = (made_here && f.slots().iter().any(iter), site) {
            let noted = Noted {
                at,
                site,
                subprog: f.subprogno,
                asked: false,
            };
            if ts.iter_released.len() < MAX_SITES {
                insert_sorted(&mut ts.iter_released, noted, |n| (n.site, n.at))?;
            }
        }
    }
    Ok(())
}

/// Notes, for [`note_release`], the release at `at` of reference
/// `ref_obj_id`, acquired by the call `site`, if frame `f` holds it in its
/// acquiring call's own slot, or it is an iterator that the call made
/// whose handle in `f` is set.
fn note_release_in(
    ts: &mut ThrowSites,
    f: Frame<'_>,
    at: u32,
    ref_obj_id: c_int,
    site: Option<u32>,
) -> Result {
    let slots = f.slots();
    for sh in ts.shadows.iter().filter(|s| s.subprog == f.subprogno) {
        let Some(slot) = slots.get(usize::from(sh.slot)) else {
            continue;
        };
        let spill = bindings::bpf_stack_slot_type_STACK_SPILL;
        let spilled = slot.slot_type.iter().all(|&t| u32::from(t) == spill);
        let holds = if sh.handle {
            site == Some(sh.site) && slot.spilled().stack_pointer().is_some()
        } else {
            slot.spilled_ptr.ref_obj_id == ref_obj_id as u32
        };
        // A slot zeroed on entry has no call (`site` is `u32::MAX`).
        if sh.site == u32::MAX
            || !spilled
            || !holds
            || ts.released.len() >= MAX_OWN_SLOTS
            || ts.released.iter().any(|r| (r.at, r.site) == (at, sh.site))
            || ts.clears.iter().any(|&c| c == (at, sh.site))
        {
            continue;
        }
        let noted = Noted {
            at,
            site: sh.site,
            subprog: sh.subprog,
            asked: false,
        };
        ts.released.push(noted, GFP_KERNEL)?;
    }
    Ok(())
}

/// On a walk that conflicts with the earlier walks of its chain in a way
/// that neither a hint, a call's own slot nor a zeroing on entry resolves,
/// asks that the program clear the own slot of each call whose release
/// this pass walked (`released`, see [`bpf_exceptions_note_release`]) in a
/// subprog of the walk's `frames`, after the release: a path that released
/// the pointer then leaves zero there, not the stale pointer. Returns
/// whether there was a release not cleared nor asked for yet.
///
/// Each noted release is asked for once, so a conflict costs a scan of at
/// most `MAX_OWN_SLOTS` notes, and at most `MAX_OWN_SLOTS` clears are
/// made per program.
fn ask_clears(
    asked: &mut KVec<(u32, u32)>,
    clears: usize,
    released: &mut [Noted],
    frames: &[Frame<'_>],
) -> Result<bool> {
    let mut added = false;
    for n in released.iter_mut().filter(|n| !n.asked) {
        if !frames.iter().any(|f| f.subprogno == n.subprog) {
            continue;
        }
        if clears + asked.len() >= MAX_OWN_SLOTS {
            break;
        }
        asked.push((n.at, n.site), GFP_KERNEL)?;
        n.asked = true;
        added = true;
    }
    Ok(added)
}

/// Has the program clear `sh`, a call's own slot, after the call `at` (its
/// index as loaded, in the same subprog) that released the slot's pointer,
/// or called a subprog that did: `*(u64 *)(r10 - off) = 0` right after
/// it. The next pass walks it as the program's own: a path that released
/// the slot's pointer there holds zero in the slot, and one where the
/// subprog did not release it holds the pointer elsewhere, or is refused.
/// `false` if there is no such call.
fn clear_after(env: &mut Env<'_>, at: u32, sh: &Shadow) -> Result<bool> {
    let r = env.get();
    let Some(range) = r.subprog_range(sh.subprog as usize) else {
        return Ok(false);
    };
    let insns = r.insns();
    let Some(j) = range
        .clone()
        .find(|&j| r.orig_idx(j) == at && insns.get(j).is_some_and(|i| i.code == JMP_CALL))
    else {
        return Ok(false);
    };
    // The call is not its subprog's last instruction (which must jump or
    // exit).
    if j + 1 >= range.end {
        return Ok(false);
    }
    let off = -8 * (i16::try_from(sh.slot).map_err(|_| EFAULT)? + 1);
    let zero = to_bpf(Insn::st_dw(Reg::R10, off, 0));
    insert_before(env, j + 1, zero)?;
    Ok(true)
}

/// Called by `bpf_check()` after a pass of the verifier over the program
/// that succeeded. If the pass found hints (see [`cleanup::hints`]), makes
/// them the next pass's, forgets what the pass recorded and returns 1: the
/// verifier then walks the program again. Else returns 0, and the pass's
/// records stand; or an error.
///
/// # Safety
///
/// `env` must be the environment of a verification between passes.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_verify_again(
    env: *mut bindings::bpf_verifier_env,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    to_c(unsafe { Env::from_raw(env) }.and_then(|mut env| verify_again(&mut env)))
}

/// See [`bpf_exceptions_verify_again`].
fn verify_again(env: &mut Env<'_>) -> Result<c_int> {
    let asked = {
        let (r, aux) = env.split();
        if aux.throw_sites.is_null() {
            return Ok(0);
        }
        let ts = aux.throw_sites().ok_or(ENOMEM)?;
        ts.released = KVec::new();
        ts.returns = KVec::new();
        ts.iters = KVec::new();
        let iter_released = core::mem::replace(&mut ts.iter_released, KVec::new());
        if ts.next.is_empty()
            && ts.shadow_next.is_empty()
            && ts.zero_next.is_empty()
            && ts.handle_next.is_empty()
            && ts.clear_next.is_empty()
        {
            if ts.pass > 0 {
                let (passes, hints, slots) = (
                    c_int::from(ts.pass) + 1,
                    ts.hints.len() as c_int,
                    ts.shadows.len() as c_int,
                );
                log_passes(r, passes, hints, slots);
            }
            return Ok(0);
        }
        // An error fails `bpf_check()`, whatever is left in `next`.
        let next = core::mem::replace(&mut ts.next, KVVec::new());
        // `hints` is sorted by chain, and each chain is in `next` once.
        let mut added = KVVec::new();
        for n in next.into_iter() {
            match ts.hints.binary_search_by(|h| h.calls().cmp(n.calls())) {
                Ok(i) => {
                    let hint = ts.hints.get_mut(i).ok_or(EFAULT)?;
                    for p in n.places.iter() {
                        hint.places.push(*p, GFP_KERNEL)?;
                    }
                }
                Err(_) => added.push(n, GFP_KERNEL)?,
            }
        }
        for n in added.into_iter() {
            ts.hints.push(n, GFP_KERNEL)?;
        }
        ts.hints.sort_unstable_by(|a, b| a.calls().cmp(b.calls()));
        ts.pending = KVVec::new();
        ts.shared = Shared::default();
        ts.by_chain = ChainIndex::new();
        ts.pass += 1;
        let asked = core::mem::replace(&mut ts.shadow_next, KVec::new());
        let zeros = core::mem::replace(&mut ts.zero_next, KVec::new());
        let asked_handles = core::mem::replace(&mut ts.handle_next, KVec::new());
        // Each handle with the destroys of its call's iterators, after
        // which it is cleared.
        let mut handles = KVec::with_capacity(asked_handles.len(), GFP_KERNEL)?;
        for &site in asked_handles.iter() {
            let mut after = KVec::new();
            for n in iter_released.iter().filter(|n| n.site == site) {
                after.push((n.at, n.subprog), GFP_KERNEL)?;
            }
            handles.push((site, after), GFP_KERNEL)?;
        }
        let clear = core::mem::replace(&mut ts.clear_next, KVec::new());
        let mut cleared = KVec::with_capacity(clear.len(), GFP_KERNEL)?;
        for &(at, site) in clear.iter() {
            if let Some(sh) = ts.shadows.iter().find(|s| s.site == site) {
                cleared.push((at, *sh), GFP_KERNEL)?;
            }
            ts.clears.push((at, site), GFP_KERNEL)?;
        }
        // Global subprogs are verified again too.
        for info in aux.func_info_aux_mut().iter_mut().take(r.subprog_cnt()) {
            info.set_verified(false);
        }
        (asked, zeros, handles, cleared)
    };
    let (asked, zeros, handles, cleared) = asked;
    if asked.is_empty() && zeros.is_empty() && handles.is_empty() && cleared.is_empty() {
        return Ok(1);
    }
    let len = env.get().insns().len();
    for (at, sh) in cleared.iter() {
        clear_after(env, *at, sh)?;
    }
    for &site in asked.iter() {
        if let Some(sh) = shadow(env, site)? {
            add_shadow(env, sh)?;
        }
    }
    for &(subprog, slot) in zeros.iter() {
        if let Some(sh) = zero_on_entry(env, subprog, slot)? {
            add_shadow(env, sh)?;
        }
    }
    for (site, after) in handles.iter() {
        let Some(sh) = handle(env, *site)? else {
            continue;
        };
        add_shadow(env, sh)?;
        // Cleared after its call's destroys, as many as the clears of own
        // slots may be.
        for &(at, _) in after.iter().filter(|&&(_, s)| s == sh.subprog) {
            let ts = env.prog_aux_mut().throw_sites().ok_or(ENOMEM)?;
            if ts.clears.len() >= MAX_OWN_SLOTS || ts.clears.iter().any(|&c| c == (at, *site)) {
                continue;
            }
            if clear_after(env, at, &sh)? {
                let ts = env.prog_aux_mut().throw_sites().ok_or(ENOMEM)?;
                ts.clears.push((at, *site), GFP_KERNEL)?;
            }
        }
    }
    // The table of explored states has an entry per instruction.
    if env.get().insns().len() != len {
        // SAFETY: Between passes (per the caller), `free_states()` has run
        // at the end of each subprog's walk.
        unsafe { env.resize_explored_states() }?;
    }
    Ok(1)
}

/// Notes `sh`, a slot given by [`shadow`] or [`zero_on_entry`].
fn add_shadow(env: &mut Env<'_>, sh: Shadow) -> Result {
    env.prog_aux_mut()
        .throw_sites()
        .ok_or(ENOMEM)?
        .shadows
        .push(sh, GFP_KERNEL)?;
    Ok(())
}

/// Logs the passes a program needed, after the last: log level 1 keeps
/// only what the last walk of a subprog printed, and this.
fn log_passes(env: EnvRef<'_>, passes: c_int, hints: c_int, slots: c_int) {
    verbose!(
        env,
        "verified in %d passes: %d chains hinted, %d places given slots or zeroed on entry\n",
        passes,
        hints,
        slots
    );
}

/// Records what the call being visited leaves held if it throws (a call of
/// `bpf_throw()`, or of a global subprog that may throw: `what` names it in
/// the log), on x86-64 and arm64: see [`cleanup`]. Refuses it if a
/// reference is held nowhere a throw can release it (with upstream's
/// message), or if another path to the same chain of calls left something
/// else held where this one holds a reference or NULL.
///
/// The places it releases are marked read, and so are the places that
/// hold zero where an earlier walk of the chain released, with zero
/// scalars marked precise: state pruning then never takes a path that
/// holds something else there for one that was walked.
///
/// `env` is at the call, during the walk.
fn record(env: &mut Env<'_>, what: &CStr, scratch: bool) -> Result {
    let r = record_walk(env, what, scratch);
    if r == Err(E2BIG) {
        verbose!(
            env,
            "the throws of this program hold more than %d resources in all\n",
            MAX_STORED as c_int
        );
    }
    r
}

/// [`record`], which says why it fails with `E2BIG`.
fn record_walk(env: &mut Env<'_>, what: &CStr, scratch: bool) -> Result {
    let marks = {
        let (r, aux) = env.split();
        match record_in(r, aux, what, scratch)? {
            Some(marks) => marks,
            None => return Ok(()),
        }
    };
    // The throw reads what it releases, and relies on the zeros.
    for &(frame, loc) in marks.read.iter() {
        env.mark(frame, loc, false)?;
    }
    for &(frame, loc) in marks.precise.iter() {
        env.mark(frame, loc, true)?;
    }
    Ok(())
}

/// The places that [`record_in`] has the verifier mark in the state.
struct Marks {
    /// Read: what the throw releases, and the zeros it relies on.
    read: KVec<(u8, Loc)>,
    /// Precise: the zero scalars it relies on.
    precise: KVec<(u8, Loc)>,
}

/// [`record_walk`] but the marks, which it returns: `None` if the walk is
/// left to another pass, with nothing to mark.
fn record_in(
    env: EnvRef<'_>,
    aux: &mut ProgAux,
    what: &CStr,
    scratch: bool,
) -> Result<Option<Marks>> {
    let st = env.state()?;
    let cur = st.cur();
    let mut frames: [Frame<'_>; MAX_FRAMES] = [st.frame(0).ok_or(EFAULT)?; MAX_FRAMES];
    for (i, f) in frames.iter_mut().enumerate().take(cur + 1) {
        *f = st.frame(i).ok_or(EFAULT)?;
    }
    let frames = frames.get(..=cur).ok_or(EFAULT)?;
    let mut chain = [0u32; MAX_FRAMES];
    for (c, f) in chain.iter_mut().zip(frames.iter().skip(1)) {
        // As loaded: a call's own slot may have moved the program since.
        *c = env.orig_idx(f.callsite as usize);
    }
    *chain.get_mut(cur).ok_or(EFAULT)? = env.orig_idx(env.insn_idx() as usize);
    let held = Held {
        chain,
        depth: (cur + 1) as u8,
        rcu: u8::from(st.active_rcu_lock),
        preempt: st.active_preempt_lock,
        ..Held::default()
    };
    let ThrowSites {
        pending,
        by_chain,
        hints,
        next,
        pass,
        shadows,
        shadow_next,
        zero_next,
        iters,
        handle_next,
        released,
        clears,
        clear_next,
        returns,
        dtors,
        shared,
        ..
    } = aux.throw_sites().ok_or(ENOMEM)?;
    // What earlier walks of the chain release, and what earlier passes
    // hinted for it.
    let prior = of_chain(pending, by_chain, held.calls());
    let hinted = sorted_hints_of(hints, held.calls());
    // The innermost frame's references include its callers'.
    let refs = frames.get(cur).ok_or(EFAULT)?.refs();
    let mut rel = KVec::with_capacity(refs.len(), GFP_KERNEL)?;
    // The calls that acquired the pointers held, by index as loaded and
    // as now.
    let mut sites = KVec::with_capacity(refs.len(), GFP_KERNEL)?;
    let places = holders(frames, scratch)?;
    let mut unreleasable = false;
    for r in refs {
        let id = r.id as u32;
        let held = holders_of(&places, id);
        let at = r.insn_idx as usize;
        let site = env.orig_idx(at);
        // An iterator or a dynptr that its call's handle finds is released
        // by the handle (see `handle()`).
        let place = place_of(frames, id, held, prior, hinted, shadows, dtors).map(
            |(frame, loc, kind, off)| match (kind.with_handle(), loc) {
                (Some(by), Loc::Slot(n)) => {
                    match handle_of(frames, shadows, site, frame, usize::from(n)) {
                        Some((g, off)) => (frame, Loc::Slot(g), by, off),
                        None => (frame, loc, kind, off),
                    }
                }
                _ => (frame, loc, kind, off),
            },
        );
        match place {
            Some((frame, loc, kind, off)) => {
                let release = Release {
                    frame,
                    loc,
                    kind,
                    off,
                };
                if kind.in_place() || kind.by_handle() {
                    // An iterator or a dynptr that its call made in the
                    // call's own frame may get a handle.
                    let f = frames.get(usize::from(frame)).ok_or(EFAULT)?;
                    if let (Some(slot), Some(sub)) = (release.first_slot(), env.subprog_at(at)) {
                        if sub == f.subprogno as usize && iters.len() < MAX_SITES {
                            let it = IterSite {
                                site,
                                subprog: f.subprogno,
                                slot,
                            };
                            insert_sorted(iters, it, |i| (i.subprog, i.slot, i.site))?;
                        }
                    }
                } else if !kind.in_place() {
                    sites.push((site, at), GFP_KERNEL)?;
                }
                rel.push(release, GFP_KERNEL)?
            }
            None => {
                verbose!(
                    env,
                    "Unreleased reference id=%d alloc_insn=%d\n",
                    r.id,
                    r.insn_idx
                );
                unreleasable = true;
            }
        }
    }
    if unreleasable {
        return Err(EINVAL);
    }
    cleanup::sort(&mut rel);
    // The places that hold zero: a scalar, spilled or not, or a slot of
    // zero bytes.
    let mut zeros = Zeros::default();
    let mut zero_scalars: KVec<(u8, Loc)> = KVec::new();
    for (i, f) in frames.iter().enumerate() {
        let fi = i as u8;
        for &r in regs_of(frames.len(), i, scratch) {
            if is_zero(&f.regs[usize::from(r)]) {
                zeros.set(fi, Loc::Reg(r));
                zero_scalars.push((fi, Loc::Reg(r)), GFP_KERNEL)?;
            }
        }
        for (n, slot) in f.slots().iter().enumerate() {
            let zero = bindings::bpf_stack_slot_type_STACK_ZERO;
            let spill = bindings::bpf_stack_slot_type_STACK_SPILL;
            let all = |k: u32| slot.slot_type.iter().all(|&t| u32::from(t) == k);
            if all(zero) || (all(spill) && is_zero(&slot.spilled_ptr)) {
                zeros.set(fi, Loc::Slot(n as u16));
                zero_scalars.push((fi, Loc::Slot(n as u16)), GFP_KERNEL)?;
            }
        }
    }
    let conflict = || {
        verbose!(
            env,
            "%s (insn %d) leaves different resources held on different paths\n",
            what.as_ptr(),
            env.insn_idx()
        );
        EINVAL
    };
    // Notes the walk's acquiring calls among the chain's; whether one lies
    // in a subprog of the frames is the same for every walk of the chain.
    // The acquiring calls of `list` and of this walk, if the walk has
    // more; a list is shared (see `Shared`), so that is a new one.
    let noted = |list: &[Acquired]| -> Result<Option<KVec<Acquired>>> {
        let known = |site: u32| list.binary_search_by_key(&site, |a| a.site).is_ok();
        if list.len() >= MAX_SITES || sites.iter().all(|&(site, _)| known(site)) {
            return Ok(None);
        }
        let mut more = KVec::with_capacity(list.len() + sites.len(), GFP_KERNEL)?;
        for a in list.iter() {
            more.push(*a, GFP_KERNEL)?;
        }
        for &(site, at) in sites.iter() {
            if more.binary_search_by_key(&site, |a| a.site).is_ok() {
                continue;
            }
            if more.len() >= MAX_SITES {
                break;
            }
            let here = env
                .subprog_at(at)
                .is_some_and(|sub| frames.iter().any(|f| f.subprogno as usize == sub));
            insert_sorted(&mut more, Acquired { site, here }, |a| a.site)?;
        }
        Ok(Some(more))
    };
    let note_sites = |list: &mut Arc<KVec<Acquired>>, shared: &mut Shared| -> Result {
        if let Some(more) = noted(list)? {
            *list = shared.sites(&more)?;
        }
        Ok(())
    };
    match by_chain.find(pending, held.calls()) {
        Some(i) => {
            let p = pending.get_mut(i).ok_or(EFAULT)?;
            if p.held.rcu != held.rcu || p.held.preempt != held.preempt {
                return Err(conflict());
            }
            // A call's own slot is hinted to every walk, from the first.
            let is_hinted = |f: u8, l: Loc| {
                hinted.iter().any(|h| (h.frame, h.loc) == (f, l))
                    || is_shadow(frames, shadows, f, l)
            };
            let mut merged = KVec::with_capacity(p.releases.len() + rel.len(), GFP_KERNEL)?;
            let merge = cleanup::merge(&p.releases, &p.zeros, &rel, &zeros, is_hinted, |r| {
                merged.push(r, GFP_KERNEL).is_ok()
            });
            // Bytes released both by a handle and in place conflict too.
            let merge = merge.and_then(|done| {
                if done && cleanup::doubled(&merged) {
                    Err(cleanup::Conflict)
                } else {
                    Ok(done)
                }
            });
            match merge {
                Ok(true) => {}
                Ok(false) => return Err(ENOMEM),
                Err(_) => {
                    // Left to another pass if one is left and this one
                    // found something for it: hints, or calls to give a
                    // slot of their own.
                    if *pass + 1 >= MAX_PASSES {
                        return Err(conflict());
                    }
                    let own = |f: u8, l: Loc| is_shadow(frames, shadows, f, l);
                    note_sites(&mut p.sites, shared)?;
                    // Hints first, which cost nothing at run time; else
                    // every change to the program that may resolve it at
                    // once (own slots, zeroings on entry, clears after
                    // releases), so that one more pass sees them all.
                    let again = hint_next(next, p, shared, &rel, &zeros, hinted, own)? || {
                        let seen = (p.sites.len(), returns.len());
                        let shadowed = p.asked != Some(seen)
                            && ask_shadows(
                                shadow_next,
                                shadows,
                                zero_next.len() + handle_next.len(),
                                own_slot_calls(env, frames, &p.sites, returns)?.into_iter(),
                            )?;
                        p.asked = Some(seen);
                        let zeroed = ask_zeros(
                            zero_next,
                            shadows,
                            shadow_next.len() + handle_next.len(),
                            frames,
                            Iterator::chain(p.releases.iter(), rel.iter()),
                        )?;
                        // Handles only where zeroing on entry was tried or
                        // cannot help (this walk wrote something else where
                        // a destroy reads): a zero costs one instruction per
                        // call of the subprog, a handle one per iterator
                        // made and one per destroy too.
                        let written = Iterator::chain(p.releases.iter(), rel.iter())
                            .any(|r| overwritten(frames, r));
                        let handled = (!zeroed || written)
                            && ask_handles(
                                handle_next,
                                shadows,
                                shadow_next.len() + zero_next.len(),
                                frames,
                                iters,
                                Iterator::chain(p.releases.iter(), rel.iter()),
                            )?;
                        let cleared = ask_clears(clear_next, clears.len(), released, frames)?;
                        shadowed || zeroed || handled || cleared
                    };
                    if again {
                        verbose!(
                            env,
                            "paths to the call at insn %d hold resources in different places: verifying again\n",
                            env.insn_idx()
                        );
                    }
                    return if again
                        || !next.is_empty()
                        || !shadow_next.is_empty()
                        || !zero_next.is_empty()
                        || !handle_next.is_empty()
                        || !clear_next.is_empty()
                    {
                        Ok(None)
                    } else {
                        Err(conflict())
                    };
                }
            }
            if merged[..] != p.releases[..] {
                p.releases = shared.releases(&merged)?;
            }
            let mut z = *p.zeros;
            z.and(&zeros);
            if z != *p.zeros {
                p.zeros = shared.zeros(&z)?;
            }
            note_sites(&mut p.sites, shared)?;
        }
        None => {
            shared.charge(RECORD_COST)?;
            let releases = shared.releases(&rel)?;
            let acquired = match noted(&[])? {
                Some(more) => shared.sites(&more)?,
                None => shared.sites(&[])?,
            };
            let zeros = shared.zeros(&zeros)?;
            pending.push(
                Pending {
                    held,
                    releases,
                    zeros,
                    sites: acquired,
                    asked: None,
                    next_hint: None,
                },
                GFP_KERNEL,
            )?;
            by_chain.add_last(pending)?;
        }
    }
    // The zeros of this walk that the chain's releases rely on where they
    // are not held (`Release::absent`), those that an earlier pass hinted,
    // and the calls' own slots: only those are marked (see
    // `cleanup::merge`).
    let chain_releases = of_chain(pending, by_chain, held.calls());
    let mut relied: KVec<(u8, Loc)> = KVec::new();
    let mut precise: KVec<(u8, Loc)> = KVec::new();
    for &(f, l) in zero_scalars.iter() {
        let at = |r: &Release| r.absent() == Absent::Zero(f, l);
        if chain_releases.iter().any(at)
            || hinted.iter().any(at)
            || is_shadow(frames, shadows, f, l)
        {
            relied.push((f, l), GFP_KERNEL)?;
            // A slot of zero bytes needs no precision: pruning compares
            // its bytes once it is read.
            let spilled = match l {
                Loc::Reg(_) => true,
                Loc::Slot(n) => frames
                    .get(usize::from(f))
                    .and_then(|fr| fr.slots().get(usize::from(n)))
                    .is_some_and(|slot| {
                        u32::from(slot.slot_type[7]) == bindings::bpf_stack_slot_type_STACK_SPILL
                    }),
            };
            if spilled {
                precise.push((f, l), GFP_KERNEL)?;
            }
        }
    }
    // The throw reads what it releases (all the slots of a dynptr or an
    // iterator, and an iterator's handle), and relies on the zeros.
    let mut read: KVec<(u8, Loc)> = KVec::with_capacity(rel.len() + relied.len(), GFP_KERNEL)?;
    for r in rel.iter() {
        read.push((r.frame, r.loc), GFP_KERNEL)?;
        // The first slot of what lies in place.
        let first = r.first_slot();
        if let (true, Some(n)) = (r.kind.by_handle(), first) {
            read.push((r.frame, Loc::Slot(n)), GFP_KERNEL)?;
        }
        if let (Some(n), Some(f)) = (first, frames.get(usize::from(r.frame))) {
            let slots = f.slots();
            // The object's other slots lie above its first, at lower
            // indices, without a reference of their own for an iterator.
            for m in (0..usize::from(n)).rev() {
                let Some(slot) = slots.get(m) else { break };
                let t = u32::from(slot.slot_type[bindings::BPF_REG_SIZE as usize - 1]);
                let same = match r.kind {
                    Kind::DynptrDiscard | Kind::DynptrAt => {
                        slot.dynptr().is_some_and(|(first, _)| !first)
                    }
                    _ => {
                        t == bindings::bpf_stack_slot_type_STACK_ITER
                            && slot.spilled_ptr.ref_obj_id == 0
                    }
                };
                if !same {
                    break;
                }
                read.push((r.frame, Loc::Slot(m as u16)), GFP_KERNEL)?;
            }
        }
    }
    for p in relied.iter() {
        read.push(*p, GFP_KERNEL)?;
    }
    Ok(Some(Marks { read, precise }))
}

/// Returns whether subprog `i` is a callback or runs under one, from
/// `check_max_stack_depth_subprog()`'s stack of `frame` callers `ret_prog`.
fn in_callback(env: EnvRef<'_>, i: usize, ret_prog: &[c_int]) -> bool {
    let is_cb = |i: usize| env.subprogs().get(i).is_some_and(|s| s.is_cb());
    is_cb(i) || ret_prog.iter().any(|&p| is_cb(p as usize))
}

/// Checks instruction `insn_idx` of subprog `idx`, a call of a vmlinux
/// kfunc met by `check_max_stack_depth_subprog()` with the callers
/// `ret_prog[0..frame]`: callbacks cannot throw.
///
/// # Safety
///
/// `env` must be the environment of a running verification; `ret_prog`
/// must hold `frame` subprog numbers.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_check_throw_site(
    env: *mut bindings::bpf_verifier_env,
    insn_idx: c_int,
    idx: c_int,
    ret_prog: *const c_int,
    frame: c_int,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    let Ok(env) = (unsafe { Env::from_raw(env) }) else {
        return EFAULT.to_errno();
    };
    let env = env.get();
    let insn = usize::try_from(insn_idx)
        .ok()
        .and_then(|i| env.insns().get(i));
    if !insn.is_some_and(is_throw) {
        return 0;
    }
    let callers = match usize::try_from(frame) {
        // SAFETY: Guaranteed by the caller.
        Ok(n) if n > 0 => unsafe { core::slice::from_raw_parts(ret_prog, n) },
        _ => &[],
    };
    if !in_callback(env, idx as usize, callers) {
        return 0;
    }
    verbose!(
        env,
        "bpf_throw kfunc (insn %d) cannot be called from callback subprog %d\n",
        insn_idx,
        idx
    );
    EINVAL.to_errno()
}

/// Checks a direct call (at `insn_idx`) of subprog `callee`, an async
/// callback: the exception callback is never called directly.
///
/// # Safety
///
/// `env` must be the environment of a running verification.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_check_direct_call(
    env: *mut bindings::bpf_verifier_env,
    insn_idx: c_int,
    callee: c_int,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    let Ok(env) = (unsafe { Env::from_raw(env) }) else {
        return EFAULT.to_errno();
    };
    if !is_exception_cb(env.get(), callee) {
        return 0;
    }
    verbose!(env, "insn %d cannot call exception cb directly\n", insn_idx);
    EINVAL.to_errno()
}

/// Checks subprog `subprog`, from which a tail call is reachable: it cannot
/// be the exception callback.
///
/// # Safety
///
/// `env` must be the environment of a running verification.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_check_tail_call(
    env: *mut bindings::bpf_verifier_env,
    subprog: c_int,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    let Ok(env) = (unsafe { Env::from_raw(env) }) else {
        return EFAULT.to_errno();
    };
    if !is_exception_cb(env.get(), subprog) {
        return 0;
    }
    verbose!(env, "cannot tail call within exception cb\n");
    EINVAL.to_errno()
}

/// Whether subprog `i` is the exception callback.
fn is_exception_cb(env: EnvRef<'_>, i: c_int) -> bool {
    usize::try_from(i)
        .ok()
        .and_then(|i| env.subprogs().get(i))
        .is_some_and(|s| s.is_exception_cb())
}

/// Returns the first instruction of the exception callback, which nothing
/// calls and which `check_cfg()` therefore walks on its own, or 0 if the
/// program has none.
///
/// # Safety
///
/// `env` must be the environment of a running verification.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_callback_start(
    env: *mut bindings::bpf_verifier_env,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    let Ok(env) = (unsafe { Env::from_raw(env) }) else {
        return 0;
    };
    let env = env.get();
    match callback_subprog(env) {
        None | Some(0) => 0,
        Some(cb) => env.subprogs()[cb].start as c_int,
    }
}

/// Prepares the walk of subprog `subprog` from its entry, whose state has
/// the frame `frame`. The exception callback returns the program's value
/// and takes exactly one scalar argument, the cookie.
///
/// # Safety
///
/// `env` must be the environment of a running verification, with the
/// arguments of `subprog` prepared; `frame` its frame 0.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_enter_subprog(
    env: *mut bindings::bpf_verifier_env,
    subprog: c_int,
    frame: *mut bindings::bpf_func_state,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    let Ok(env) = (unsafe { Env::from_raw(env) }) else {
        return EFAULT.to_errno();
    };
    let env = env.get();
    if !is_exception_cb(env, subprog) {
        return 0;
    }
    let sub = &env.subprogs()[subprog as usize];
    // SAFETY: Guaranteed by the caller.
    unsafe { (*frame).in_exception_callback_fn = true };
    // Like every global subprog it returns an integer; it takes one.
    if sub.arg_cnt != 1 || sub.args[0].arg_type != bindings::bpf_arg_type_ARG_ANYTHING {
        verbose!(env, "exception cb only supports single integer argument\n");
        return EINVAL.to_errno();
    }
    0
}

/// Checks that `prog`, a tracing or extension program, may attach to
/// function `subprog` (named `name`) of `tgt_prog`: not if it is the
/// exception callback, and, for an fexit program, not if a throw may unwind
/// through `subprog` (it calls `bpf_throw()` or a function that may). The
/// fexit trampoline calls the function and stays on the stack below it, so
/// such a throw would skip the trampoline's exit path. The main function
/// is the exception boundary, where a throw ends and returns to the
/// trampoline as an ordinary return does, so it stays allowed; fentry
/// trampolines do not stay on the stack, and fmod_ret cannot attach to
/// subprogs.
///
/// # Safety
///
/// `log` must be the attaching program's verifier log, `prog` that program,
/// `tgt_prog` a live, verified program with BTF and `subprog` one of its
/// functions; `name` must be a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_check_attach(
    log: *mut bindings::bpf_verifier_log,
    prog: *const bindings::bpf_prog,
    tgt_prog: *const bindings::bpf_prog,
    subprog: c_int,
    name: *const c_char,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    let (prog, tgt) = unsafe { (&*prog, &*(*tgt_prog).aux) };
    let extension = prog.type_ == bindings::bpf_prog_type_BPF_PROG_TYPE_EXT;
    let fexit = prog.type_ == bindings::bpf_prog_type_BPF_PROG_TYPE_TRACING
        && prog.expected_attach_type == bindings::bpf_attach_type_BPF_TRACE_FEXIT;
    // SAFETY: A verified program with BTF has its JITed functions in `func`
    // (or none) and an aux entry per function in `func_info_aux`, which
    // dead code removal keeps in step with them.
    let (is_cb, might_throw) = unsafe {
        (
            !tgt.func.is_null() && (*(**tgt.func.add(subprog as usize)).aux).exception_cb,
            !tgt.func_info_aux.is_null()
                && (*tgt.func_info_aux.add(subprog as usize)).might_throw(),
        )
    };
    if is_cb {
        let kind = if extension {
            c"Extension"
        } else {
            c"FENTRY/FEXIT"
        };
        // SAFETY: `log` is valid; the format is NUL-terminated and takes one
        // string.
        unsafe {
            bindings::bpf_log(
                log,
                c"%s programs cannot attach to exception callback\n"
                    .as_ptr()
                    .cast(),
                kind.as_ptr(),
            )
        };
        return EINVAL.to_errno();
    }
    if fexit && subprog > 0 && might_throw {
        // SAFETY: As above; the format takes two strings.
        unsafe {
            bindings::bpf_log(
                log,
                c"FEXIT programs cannot attach to %s(), which may throw: %s\n"
                    .as_ptr()
                    .cast(),
                name,
                c"a throw would unwind through the trampoline".as_ptr(),
            )
        };
        return EINVAL.to_errno();
    }
    0
}

fn add_default_callback(env: &mut Env<'_>) -> Result {
    let r = env.get();
    if !r.seen_exception() || callback_subprog(r).is_some() {
        return Ok(());
    }
    // subprog_info has one slot for a hidden subprog.
    if r.hidden_subprog_cnt() != 0 {
        verbose!(
            env,
            "verifier internal error: only one hidden subprog supported\n"
        );
        return Err(EFAULT);
    }
    // subprog_info[cnt] is the end marker; the callback takes its place,
    // and the marker moves to cnt + 1.
    let cnt = r.subprog_cnt();
    if cnt + 1 >= r.subprog_info().len() {
        return Err(EFAULT);
    }
    let last = *r.insns().last().ok_or(EFAULT)?;
    let mut mov = bindings::bpf_insn {
        code: 0x07 | 0xb0 | 0x08, // BPF_ALU64 | BPF_MOV | BPF_X
        ..Default::default()
    };
    mov.set_dst_reg(0);
    mov.set_src_reg(1);
    let exit = bindings::bpf_insn {
        code: 0x05 | 0x90, // BPF_JMP | BPF_EXIT
        ..Default::default()
    };
    // Replacing the last instruction by itself and the callback appends
    // the callback: no jump, subprog start or poke descriptor moves.
    let patch = [last, mov, exit];
    let off = r.insns().len() - 1;
    env.patch(off, &patch)?;
    // The patch leaves the old last instruction's aux data, and so its
    // index as loaded (by which a throw's chain names a call), to the
    // patch's last instruction: give it back.
    let orig = env.get().orig_idx(off + 2);
    env.insn_aux_mut(off).ok_or(EFAULT)?.orig_idx = orig;
    let r = env.get();
    let (hidden, len) = (r.hidden_subprog_cnt(), r.insns().len());
    let info = env.subprog_info_mut();
    info[cnt + 1].start = info[cnt].start;
    info[cnt].start = (len - patch.len() + 1) as u32;
    env.set_subprog_cnt(cnt as u32 + 1, hidden + 1)?;
    mark_callback(env, cnt);
    Ok(())
}

/// Appends the default exception callback, `r0 = r1; exit` (the cookie is
/// the return value), as a hidden subprog to a program that throws and has
/// no callback of its own.
///
/// # Safety
///
/// `env` must be the environment of a running verification, after the
/// walk and before the subprogs are JITed.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_add_default_callback(
    env: *mut bindings::bpf_verifier_env,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    let env = unsafe { Env::from_raw(env) };
    to_c(env.and_then(|mut env| add_default_callback(&mut env).map(|()| 0)))
}

/// Tells the JIT, before it compiles subprog `i` as `func`, whether `func`
/// is the exception callback or, as the main function of a program that
/// throws, the exception boundary.
///
/// # Safety
///
/// `env` must be the environment of a running verification and `func` the
/// program of subprog `i`.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_jit_subprog(
    env: *mut bindings::bpf_verifier_env,
    func: *mut bindings::bpf_prog,
    i: c_int,
) {
    // SAFETY: Guaranteed by the caller.
    let Ok(mut env) = (unsafe { Env::from_raw(env) }) else {
        return;
    };
    // SAFETY: Guaranteed by the caller: `func` is not the program itself,
    // whose aux `env` lends.
    let aux = unsafe { &mut *(*func).aux };
    let Some(info) = usize::try_from(i)
        .ok()
        .and_then(|i| env.get().subprogs().get(i))
    else {
        return;
    };
    let (is_cb, might_throw) = (info.is_exception_cb(), info.might_throw());
    aux.exception_cb = is_cb;
    if env.prog_aux().releases_any() {
        // SAFETY: `aux` is the function's own (per the caller).
        unsafe { ThrowSites::note_calls(aux) };
    }
    if i == 0 {
        aux.exception_boundary = env.get().seen_exception();
    }
    // For the attach checks, once the program is loaded.
    if let Some(fa) = env.prog_aux_mut().func_info_aux_mut().get_mut(i as usize) {
        fa.set_might_throw(might_throw);
    }
}

/// Once every subprog of `prog` is JITed at its final address in `func`:
/// builds the unwinder's table if the program throws, and records the
/// boundary and the callback's entry in `prog`.
///
/// # Safety
///
/// `env` must be the environment of a running verification, `prog` its
/// program and `func` its `subprog_cnt` JITed functions.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_jit_done(
    env: *mut bindings::bpf_verifier_env,
    prog: *mut bindings::bpf_prog,
    func: *mut *mut bindings::bpf_prog,
) -> c_int {
    // SAFETY: Guaranteed by the caller.
    let Ok(env) = (unsafe { Env::from_raw(env) }) else {
        return EFAULT.to_errno();
    };
    let env = env.get();
    // The callback is found by its flag: see `callback_subprog`.
    let cb = callback_subprog(env).unwrap_or(0);
    if cb != 0 && cb != env.exception_callback_subprog() as usize {
        verbose!(
            env,
            "verifier internal error: exception callback is subprog %d, not %d\n",
            cb as c_int,
            env.exception_callback_subprog(),
        );
        return EFAULT.to_errno();
    }
    // SAFETY: Guaranteed by the caller: `func` holds `subprog_cnt` functions,
    // and `cb` is one of them.
    let (main, cb) = unsafe { (&*(**func).aux, &**func.add(cb)) };
    // SAFETY: Guaranteed by the caller; `env` never reads `prog->aux`.
    let aux = unsafe { &mut *(*prog).aux };
    if main.exception_boundary {
        // SAFETY: `aux` is the program's own, without a table yet, and
        // `func` holds `subprog_cnt` JITed functions.
        let err = unsafe {
            crate::throw::prepare(
                aux,
                func,
                env.subprog_cnt() as u32,
                env.insns(),
                |i| env.subprog_info().get(i).map_or(0, |s| s.start),
                |j| env.orig_idx(j),
            )
        };
        if err != 0 {
            return err;
        }
    }
    type Entry = unsafe extern "C" fn(*const c_void, *const bindings::bpf_insn) -> c_uint;
    type Callback = unsafe extern "C" fn(u64, u64, u64, u64, u64) -> u64;
    aux.bpf_exception_cb = cb.bpf_func.map(|f| {
        // SAFETY: Only the C type changes, as the C code that calls it
        // expects: the callback's JITed entry takes the cookie and the
        // boundary's frame in the first three of five u64 arguments.
        unsafe { core::mem::transmute::<Entry, Callback>(f) }
    });
    aux.exception_boundary = main.exception_boundary;
    0
}
