// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `bpf_exceptions`: real programs, loaded and run in the kernel.
//!
//! The programs come from [`crate::insn::throw_chain`]: a main function and
//! up to seven static subprograms, the deepest of which calls `bpf_throw()`
//! when its context asks for it. They are `BPF_PROG_TYPE_SYSCALL` programs,
//! loaded and run with `kern_sys_bpf()`, the in-kernel entry to the `bpf()`
//! system call, with `bpf_throw()` resolved from vmlinux BTF, as libbpf
//! would resolve it.

#[cfg(CONFIG_ARM64)]
use crate::tests_arm64 as arch;
#[cfg(CONFIG_X86_64)]
use crate::tests_x86_64 as arch;
use crate::verifier_tests::{
    callback_after_dead_subprog, default_callback_after_the_most_subprogs,
    default_callback_appended, exception_callback_checks, global_throw_in_rcu_released,
    global_throw_nested_with_reference, global_throw_nothing_held_runs, global_throw_return_range,
    own_slot_before_a_self_reference, throw_holding, throw_in_callback_rejected,
    throw_in_nested_tracing_program, throw_merging_paths,
};
use crate::{
    insn::{self, Chain, Insn, Program},
    kunit::{expect_eq, expect_ok, fail, Test},
    throw,
    unwind::{SavedRegs, WalkError},
};
use core::{
    ffi::{c_int, c_uint, c_void, CStr},
    mem::size_of,
    ptr,
};
use kernel::{bindings, error::to_result, macros::kunit_tests, prelude::*};

// insn.rs restates the UAPI's values so that it also builds on the host.
const _: () = {
    assert!(insn::BPF_PSEUDO_CALL as u32 == bindings::BPF_PSEUDO_CALL);
    assert!(insn::BPF_PSEUDO_KFUNC_CALL as u32 == bindings::BPF_PSEUDO_KFUNC_CALL);
    assert!(insn::BPF_PSEUDO_MAP_FD as u32 == bindings::BPF_PSEUDO_MAP_FD);
    assert!(
        insn::BPF_FUNC_MAP_LOOKUP_ELEM as u32 == bindings::bpf_func_id_BPF_FUNC_map_lookup_elem
    );
    assert!(size_of::<Insn>() == size_of::<bindings::bpf_insn>());
};

extern "C" {
    /// `kernel/bpf/syscall.c`: the `bpf()` system call for kernel callers,
    /// with every pointer in `attr` a kernel pointer. Declared in no header.
    fn kern_sys_bpf(cmd: c_int, attr: *mut bindings::bpf_attr, size: c_uint) -> c_int;
}

/// Calls `bpf(cmd, attr)` and returns its non-negative result.
pub(crate) fn sys_bpf(cmd: bindings::bpf_cmd, attr: &mut bindings::bpf_attr) -> Result<c_int> {
    // SAFETY: `attr` is a valid, writable `union bpf_attr`, and every
    // pointer the callers put in it points to live kernel memory.
    let ret = unsafe {
        kern_sys_bpf(
            cmd as c_int,
            attr,
            size_of::<bindings::bpf_attr>() as c_uint,
        )
    };
    to_result(ret).map(|()| ret)
}

/// An all-zero `union bpf_attr`, as the `bpf()` system call expects unused
/// fields to be.
pub(crate) fn zeroed_attr() -> bindings::bpf_attr {
    // SAFETY: All-zero is a valid value of this plain-data union.
    unsafe { core::mem::zeroed() }
}

/// A BPF object file descriptor in the current task, closed on drop.
pub(crate) struct Fd(pub(crate) c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: We own the descriptor, which `kern_sys_bpf()` returned.
        unsafe { bindings::close_fd(self.0 as c_uint) };
    }
}

/// Returns whether `p` is an `ERR_PTR()`.
pub(crate) fn is_err<T>(p: *const T) -> bool {
    p.is_null() || p as usize >= (-(bindings::MAX_ERRNO as isize)) as usize
}

/// The BTF id of the vmlinux function or type `name` of BTF kind `kind`.
pub(crate) fn vmlinux_btf_id(name: &CStr, kind: u32) -> Result<i32> {
    // SAFETY: No preconditions; parses vmlinux BTF on first use.
    let btf = unsafe { bindings::bpf_get_btf_vmlinux() };
    if is_err(btf) {
        return Err(ENOENT);
    }
    // SAFETY: `btf` is vmlinux BTF, which is never freed; `name` is a C
    // string.
    let id = unsafe { bindings::btf_find_by_name_kind(btf, name.as_ptr().cast(), kind as u8) };
    to_result(id).map(|()| id)
}

/// The BTF id of the vmlinux kfunc `name`.
pub(crate) fn kfunc(name: &CStr) -> Result<i32> {
    vmlinux_btf_id(name, bindings::BTF_KIND_FUNC)
}

/// The BTF id of `bpf_throw()` in vmlinux.
pub(crate) fn throw_btf_id() -> Result<i32> {
    kfunc(c"bpf_throw")
}

/// Loads `prog` as a sleepable syscall program, which `kern_sys_bpf()` can
/// run.
pub(crate) fn load(prog: &Program) -> Result<Fd> {
    load_as(
        prog,
        bindings::bpf_prog_type_BPF_PROG_TYPE_SYSCALL,
        bindings::BPF_F_SLEEPABLE,
    )
}

/// The `BPF_PROG_LOAD` attributes of `prog` as a GPL program of type
/// `prog_type` with `flags`; callers add what else they need. `prog` must
/// outlive the load.
pub(crate) fn load_attr(
    prog: &Program,
    prog_type: bindings::bpf_prog_type,
    flags: u32,
) -> bindings::bpf_attr {
    let insns = prog.insns();
    let mut attr = zeroed_attr();
    // SAFETY: Writing to the `BPF_PROG_LOAD` member of a zeroed union.
    let load = unsafe { &mut attr.__bindgen_anon_3 };
    load.prog_type = prog_type;
    load.prog_flags = flags;
    load.insn_cnt = insns.len() as u32;
    // `insn::Insn` has the layout of `struct bpf_insn`.
    load.insns = insns.as_ptr() as u64;
    load.license = c"GPL".as_ptr() as u64;
    attr
}

/// Loads `prog` as a program of type `prog_type` with `flags`.
pub(crate) fn load_as(
    prog: &Program,
    prog_type: bindings::bpf_prog_type,
    flags: u32,
) -> Result<Fd> {
    let mut attr = load_attr(prog, prog_type, flags);
    sys_bpf(bindings::bpf_cmd_BPF_PROG_LOAD, &mut attr).map(Fd)
}

/// Creates a map of `map_type` with one element of `value_size` bytes
/// under a `u32` key.
pub(crate) fn one_slot_map(map_type: bindings::bpf_map_type, value_size: usize) -> Result<Fd> {
    let mut attr = zeroed_attr();
    // SAFETY: Writing to the `BPF_MAP_CREATE` member of a zeroed union.
    let create = unsafe { &mut attr.__bindgen_anon_1 };
    create.map_type = map_type;
    create.key_size = size_of::<u32>() as u32;
    create.value_size = value_size as u32;
    create.max_entries = 1;
    sys_bpf(bindings::bpf_cmd_BPF_MAP_CREATE, &mut attr).map(Fd)
}

/// Creates an array map with one `u64` element.
pub(crate) fn counter_map() -> Result<Fd> {
    one_slot_map(bindings::bpf_map_type_BPF_MAP_TYPE_ARRAY, size_of::<u64>())
}

/// Runs the program once with the context `ctx` and returns its value.
pub(crate) fn run(prog: &Fd, ctx: u64) -> Result<u32> {
    let ctx = [ctx];
    let mut attr = zeroed_attr();
    // SAFETY: Writing to the `BPF_PROG_TEST_RUN` member of a zeroed union.
    let test = unsafe { &mut attr.test };
    test.prog_fd = prog.0 as u32;
    test.ctx_in = ctx.as_ptr() as u64;
    test.ctx_size_in = size_of::<u64>() as u32;
    sys_bpf(bindings::bpf_cmd_BPF_PROG_TEST_RUN, &mut attr)?;
    // SAFETY: The same member, which the run filled in.
    Ok(unsafe { attr.test.retval })
}

/// The cookie thrown at `depth`: different at every depth.
const fn cookie(depth: u32) -> i32 {
    0x0bad_0000 | (depth as i32 * 0x11)
}

pub(crate) fn chain(
    t: &mut Test,
    depth: u32,
    counter_map_fd: Option<c_int>,
) -> Option<(Chain, Fd)> {
    let throw_btf_id = expect_ok!(t, throw_btf_id(), "finding bpf_throw in vmlinux BTF")?;
    let chain = Chain {
        depth,
        cookie: cookie(depth),
        throw_btf_id,
        counter_map_fd,
    };
    let prog = expect_ok!(t, insn::throw_chain(&chain), "building the program")?;
    let fd = expect_ok!(t, load(&prog), "loading the program")?;
    Some((chain, fd))
}

/// Loads the chain of `depth` and runs it with the throw condition `throws`.
fn check_depth(t: &mut Test, depth: u32, throws: bool) {
    let Some((chain, fd)) = chain(t, depth, None) else {
        return;
    };
    let want = if throws {
        chain.cookie as u32
    } else {
        chain.normal_return()
    };
    if let Some(got) = expect_ok!(t, run(&fd, throws as u64), "test run") {
        expect_eq!(t, got, want);
    }
}

macro_rules! depth_cases {
    ($($throw:ident, $nothrow:ident => $depth:literal;)+) => {
        $(
            fn $throw(t: &mut Test) {
                check_depth(t, $depth, true);
            }
            fn $nothrow(t: &mut Test) {
                check_depth(t, $depth, false);
            }
        )+
    };
}

depth_cases! {
    throw_depth_0, nothrow_depth_0 => 0;
    throw_depth_1, nothrow_depth_1 => 1;
    throw_depth_2, nothrow_depth_2 => 2;
    throw_depth_3, nothrow_depth_3 => 3;
    throw_depth_4, nothrow_depth_4 => 4;
    throw_depth_5, nothrow_depth_5 => 5;
    throw_depth_6, nothrow_depth_6 => 6;
    throw_depth_7, nothrow_depth_7 => 7;
}

/// Reference counts of a program and a map, and free memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Usage {
    prog_refs: i64,
    map_refs: i64,
    free_pages: u64,
}

fn usage(prog: &Fd, map: &Fd) -> Result<Usage> {
    // SAFETY: `prog.0` is a program descriptor we own; a valid program
    // comes back with a reference, dropped below.
    let p = unsafe { bindings::bpf_prog_get(prog.0 as u32) };
    if is_err(p) {
        return Err(EBADF);
    }
    // SAFETY: `p` is referenced, so it and its `aux` are live; the count
    // is an `atomic64_t`, read once. Our own reference is not counted.
    let prog_refs = unsafe { ptr::read_volatile(&(*(*p).aux).refcnt.counter) } - 1;
    // SAFETY: Drops the reference taken above.
    unsafe { bindings::bpf_prog_put(p) };

    // SAFETY: As above, for the map.
    let m = unsafe { bindings::bpf_map_get(map.0 as u32) };
    if is_err(m) {
        return Err(EBADF);
    }
    // SAFETY: `m` is referenced; the count is read once, ours not counted.
    let map_refs = unsafe { ptr::read_volatile(&(*m).refcnt.counter) } - 1;
    // SAFETY: Drops the reference taken above.
    unsafe { bindings::bpf_map_put(m) };

    // Flush the per-CPU page lists so that freed pages count as free.
    // SAFETY: Process context; `NULL` means every zone.
    unsafe { bindings::drain_all_pages(ptr::null_mut()) };
    // SAFETY: All-zero is a valid `struct sysinfo`, which is filled in.
    let mut info: bindings::sysinfo = unsafe { core::mem::zeroed() };
    // SAFETY: `info` is valid and writable.
    unsafe { bindings::si_meminfo(&mut info) };
    Ok(Usage {
        prog_refs,
        map_refs,
        free_pages: info.freeram as u64,
    })
}

/// Reads element 0 of the counter map.
pub(crate) fn counter(map: &Fd) -> Result<u64> {
    // SAFETY: As in `usage`.
    let m = unsafe { bindings::bpf_map_get(map.0 as u32) };
    if is_err(m) {
        return Err(EBADF);
    }
    let key: u32 = 0;
    // SAFETY: `m` is a referenced array map whose lookup needs the RCU read
    // lock and returns a pointer to the 8-byte value of a valid key, or
    // NULL; the value is read once under the lock.
    let value = unsafe {
        bindings::rcu_read_lock();
        let lookup = (*(*m).ops).map_lookup_elem;
        let v = match lookup {
            Some(f) => f(m, &key as *const u32 as *mut c_void) as *const u64,
            None => ptr::null(),
        };
        let value = if v.is_null() {
            None
        } else {
            Some(ptr::read_volatile(v))
        };
        bindings::rcu_read_unlock();
        value
    };
    // SAFETY: Drops the reference taken above.
    unsafe { bindings::bpf_map_put(m) };
    value.ok_or(ENOENT)
}

/// Throws this many times in a row.
const THROWS: u64 = 100_000;

/// A leak of this many pages over [`THROWS`] throws fails the case: about
/// ten bytes per throw, less than the smallest slab object.
const LEAK_PAGES: u64 = 256;

/// 100 000 throws from the deepest chain leave no program or map reference
/// and no memory behind, and each of them ran the program.
fn throw_100k_no_leak(t: &mut Test) {
    let Some(map) = expect_ok!(t, counter_map(), "creating the map") else {
        return;
    };
    let Some((chain, prog)) = chain(t, insn::MAX_DEPTH, Some(map.0)) else {
        return;
    };
    let thrown = Ok(chain.cookie as u32);
    // One run first, so that lazily allocated state is in place.
    if !expect_eq!(t, run(&prog, 1), thrown) {
        return;
    }
    let Some(before) = expect_ok!(t, usage(&prog, &map), "reading usage") else {
        return;
    };
    for i in 0..THROWS {
        let ret = run(&prog, 1);
        if !expect_eq!(t, ret, thrown) {
            t.info(format_args!("throw {i} of {THROWS} went wrong"));
            return;
        }
        // A preemptible kernel reschedules on its own.
        #[cfg(not(CONFIG_PREEMPTION))]
        if i % 1024 == 0 {
            // SAFETY: Process context, no locks held.
            unsafe { bindings::__cond_resched() };
        }
    }
    let Some(after) = expect_ok!(t, usage(&prog, &map), "reading usage") else {
        return;
    };
    expect_eq!(t, counter(&map), Ok(THROWS + 1));
    expect_eq!(t, after.prog_refs, before.prog_refs);
    expect_eq!(t, after.map_refs, before.map_refs);
    let lost = before.free_pages.saturating_sub(after.free_pages);
    t.info(format_args!(
        "{THROWS} throws: {lost} pages less free (limit {LEAK_PAGES}), refs prog {} map {}",
        after.prog_refs, after.map_refs
    ));
    expect_eq!(t, lost <= LEAK_PAGES, true);
}

/// Takes a reference to the program behind `fd`, which the caller drops
/// with `bpf_prog_put()`.
pub(crate) fn prog_of(t: &mut Test, fd: &Fd) -> Option<*mut bindings::bpf_prog> {
    // SAFETY: As in `usage`.
    let p = unsafe { bindings::bpf_prog_get(fd.0 as u32) };
    if is_err(p) {
        fail!(t, "bpf_prog_get failed");
        return None;
    }
    Some(p)
}

/// The exception table that the verifier has built once the program is
/// JITed maps each function's image to that function, with what its
/// prologue saves, and nothing else; the unwinder finds the exception
/// callback.
fn exception_table_maps_functions(t: &mut Test) {
    let Some((_, fd)) = chain(t, 3, None) else {
        return;
    };
    let Some(p) = prog_of(t, &fd) else {
        return;
    };
    // SAFETY: `p` is referenced, so it, its aux, its table and its
    // functions (`aux->func[0..real_func_cnt]`) are live.
    unsafe {
        let aux = (*p).aux;
        let cnt = (*aux).real_func_cnt as usize;
        // Main, three subprograms, the default exception callback.
        expect_eq!(t, cnt, 5);
        match throw::table(aux) {
            None => fail!(t, "no exception table"),
            Some(table) => {
                let map = table.map();
                for i in 0..cnt {
                    let f = *(*aux).func.add(i);
                    let start = (*f).bpf_func.map_or(0, |e| e as usize);
                    let end = start + (*f).jited_len as usize;
                    for addr in [start, start + 1, end - 1] {
                        let got = map.find(addr);
                        let want = (i == 0, SavedRegs((*(*f).aux).jit_saved_regs));
                        if !expect_eq!(t, got, Some(want)) {
                            t.info(format_args!("function {i}, address {addr:#x}"));
                        }
                    }
                }
                // On x86-64 the main function saves rbx for R6; subprograms
                // 1-3 save r13, r14, r15 for the R7, R8, R9 they clobber; the
                // default callback saves nothing. Bits in the order of
                // `Saved`. On arm64 the boundary saves x19-x28 and the
                // callback restores them: the unwinder restores nothing.
                let saved = |i: usize| (*(*(*(*aux).func.add(i))).aux).jit_saved_regs;
                let want = if cfg!(CONFIG_X86_64) {
                    [8, 4, 2, 1, 0]
                } else {
                    [0; 5]
                };
                expect_eq!(t, [saved(0), saved(1), saved(2), saved(3), saved(4)], want);
                let cb = (*(*(*aux).func.add(4))).bpf_func.map_or(0, |e| e as usize);
                expect_eq!(t, throw::callback(aux), Some(cb));
                let here = exception_table_maps_functions as usize;
                expect_eq!(t, map.find(here).is_none(), true);
            }
        }
        bindings::bpf_prog_put(p);
    }
}

/// A return address outside the program's functions (here, kernel text)
/// stops the unwinder with a report; it unwinds nothing.
fn unwind_stops_at_foreign_code(t: &mut Test) {
    let Some((_, fd)) = chain(t, 1, None) else {
        return;
    };
    let Some(p) = prog_of(t, &fd) else {
        return;
    };
    // A made-up throw: a return address into this function, then a frame
    // record just above it.
    let stack: [usize; 4] = [unwind_stops_at_foreign_code as usize + 1, 0, 0, 0];
    let sp = stack.as_ptr() as usize;
    let mut regs = [0; 5];
    // SAFETY: `p` is referenced, so its aux and table are live.
    match unsafe { throw::table((*p).aux) } {
        None => fail!(t, "no exception table"),
        Some(table) => {
            let got = throw::unwind_with(table, &mut regs, sp, sp + 16);
            expect_eq!(t, got, Err(WalkError::Foreign { ip: stack[0] }));
        }
    }
    // SAFETY: Drops the reference taken above.
    unsafe { bindings::bpf_prog_put(p) };
}

/// Every callee-saved register of the program's caller survives a throw
/// from every depth, and a normal return too.
fn callee_saved_survive_throw(t: &mut Test) {
    for depth in 0..=insn::MAX_DEPTH {
        let Some((chain, fd)) = chain(t, depth, None) else {
            return;
        };
        // SAFETY: As in `usage`.
        let p = unsafe { bindings::bpf_prog_get(fd.0 as u32) };
        if is_err(p) {
            fail!(t, "bpf_prog_get failed");
            return;
        }
        // SAFETY: `p` is referenced, so its image stays.
        let entry = unsafe { (*p).bpf_func.map_or(0, |f| f as usize) };
        for (throws, want) in [
            (1u64, chain.cookie as u64),
            (0, chain.normal_return() as u64),
        ] {
            let ctx = [throws];
            // SAFETY: `entry` is the main function of a program of
            // `throw_chain`, which reads one `u64` of context.
            let (ret, regs) = unsafe { arch::call_with_canaries(entry, ctx.as_ptr()) };
            if !expect_eq!(t, ret as u32 as u64, want) || !expect_eq!(t, regs, arch::CANARIES) {
                t.info(format_args!("depth {depth}, throws {throws}"));
            }
        }
        // SAFETY: Drops the reference taken above.
        unsafe { bindings::bpf_prog_put(p) };
    }
}

/// The suite `bpf_exceptions`, registered with upstream's `#[kunit_tests]`
/// (Linux 6.15, patches 19-21): each `#[test]` is a KUnit case that runs
/// the case function of the same name. The x86-64 JIT's cases are the suite
/// `bpf_exceptions_x86_64` (`tests_x86_64.rs`).
#[kunit_tests(bpf_exceptions)]
mod suite {
    use crate::kunit::run;

    #[test]
    fn throw_depth_0() {
        run(super::throw_depth_0)
    }

    #[test]
    fn throw_depth_1() {
        run(super::throw_depth_1)
    }

    #[test]
    fn throw_depth_2() {
        run(super::throw_depth_2)
    }

    #[test]
    fn throw_depth_3() {
        run(super::throw_depth_3)
    }

    #[test]
    fn throw_depth_4() {
        run(super::throw_depth_4)
    }

    #[test]
    fn throw_depth_5() {
        run(super::throw_depth_5)
    }

    #[test]
    fn throw_depth_6() {
        run(super::throw_depth_6)
    }

    #[test]
    fn throw_depth_7() {
        run(super::throw_depth_7)
    }

    #[test]
    fn nothrow_depth_0() {
        run(super::nothrow_depth_0)
    }

    #[test]
    fn nothrow_depth_1() {
        run(super::nothrow_depth_1)
    }

    #[test]
    fn nothrow_depth_2() {
        run(super::nothrow_depth_2)
    }

    #[test]
    fn nothrow_depth_3() {
        run(super::nothrow_depth_3)
    }

    #[test]
    fn nothrow_depth_4() {
        run(super::nothrow_depth_4)
    }

    #[test]
    fn nothrow_depth_5() {
        run(super::nothrow_depth_5)
    }

    #[test]
    fn nothrow_depth_6() {
        run(super::nothrow_depth_6)
    }

    #[test]
    fn nothrow_depth_7() {
        run(super::nothrow_depth_7)
    }

    #[test]
    fn throw_100k_no_leak() {
        run(super::throw_100k_no_leak)
    }

    #[test]
    fn exception_table_maps_functions() {
        run(super::exception_table_maps_functions)
    }

    #[test]
    fn unwind_stops_at_foreign_code() {
        run(super::unwind_stops_at_foreign_code)
    }

    #[test]
    fn callee_saved_survive_throw() {
        run(super::callee_saved_survive_throw)
    }

    #[test]
    fn throw_in_nested_tracing_program() {
        run(super::throw_in_nested_tracing_program)
    }

    #[test]
    fn global_throw_in_rcu_released() {
        run(super::global_throw_in_rcu_released)
    }

    #[test]
    fn global_throw_nothing_held_runs() {
        run(super::global_throw_nothing_held_runs)
    }

    #[test]
    fn global_throw_nested_with_reference() {
        run(super::global_throw_nested_with_reference)
    }

    #[test]
    fn throw_holding() {
        run(super::throw_holding)
    }

    #[test]
    fn throw_merging_paths() {
        run(super::throw_merging_paths)
    }

    #[test]
    fn own_slot_before_a_self_reference() {
        run(super::own_slot_before_a_self_reference)
    }

    #[test]
    fn throw_in_callback_rejected() {
        run(super::throw_in_callback_rejected)
    }

    #[test]
    fn exception_callback_checks() {
        run(super::exception_callback_checks)
    }

    #[test]
    fn default_callback_appended() {
        run(super::default_callback_appended)
    }

    #[test]
    fn default_callback_after_the_most_subprogs() {
        run(super::default_callback_after_the_most_subprogs)
    }

    #[test]
    fn callback_after_dead_subprog() {
        run(super::callback_after_dead_subprog)
    }

    #[test]
    fn global_throw_return_range() {
        run(super::global_throw_return_range)
    }
}
