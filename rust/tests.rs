// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `bpf_exceptions`: real programs, loaded and run in the kernel.
//!
//! The programs come from [`crate::insn::throw_chain`]: a main function and
//! up to seven static subprograms, the deepest of which calls `bpf_throw()`
//! when its context asks for it. They are `BPF_PROG_TYPE_SYSCALL` programs,
//! loaded and run with `kern_sys_bpf()`, the in-kernel entry to the `bpf()`
//! system call, with `bpf_throw()` resolved from vmlinux BTF, as libbpf
//! would resolve it.

use crate::{
    insn::{self, Chain, Program},
    kunit::{expect_eq, expect_ok, fail, kunit_suite, Test},
    throw,
    unwind::{Code, WalkError},
};
use core::{
    ffi::{c_int, c_uint, c_void},
    mem::size_of,
    ptr,
};
use kernel::{bindings, error::to_result, prelude::*};

extern "C" {
    /// `kernel/bpf/syscall.c`: the `bpf()` system call for kernel callers,
    /// with every pointer in `attr` a kernel pointer. Declared in no header.
    fn kern_sys_bpf(cmd: c_int, attr: *mut bindings::bpf_attr, size: c_uint) -> c_int;
}

/// Calls `bpf(cmd, attr)` and returns its non-negative result.
fn sys_bpf(cmd: bindings::bpf_cmd, attr: &mut bindings::bpf_attr) -> Result<c_int> {
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
fn zeroed_attr() -> bindings::bpf_attr {
    // SAFETY: All-zero is a valid value of this plain-data union.
    unsafe { core::mem::zeroed() }
}

/// A BPF object file descriptor in the current task, closed on drop.
struct Fd(c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: We own the descriptor, which `kern_sys_bpf()` returned.
        unsafe { bindings::close_fd(self.0 as c_uint) };
    }
}

/// Returns whether `p` is an `ERR_PTR()`.
fn is_err<T>(p: *const T) -> bool {
    p.is_null() || p as usize >= (-(bindings::MAX_ERRNO as isize)) as usize
}

/// The BTF id of `bpf_throw()` in vmlinux.
fn throw_btf_id() -> Result<i32> {
    // SAFETY: No preconditions; parses vmlinux BTF on first use.
    let btf = unsafe { bindings::bpf_get_btf_vmlinux() };
    if is_err(btf) {
        return Err(ENOENT);
    }
    // SAFETY: `btf` is vmlinux BTF, which is never freed; the name is a C
    // string.
    let id = unsafe {
        bindings::btf_find_by_name_kind(
            btf,
            c"bpf_throw".as_ptr().cast(),
            bindings::BTF_KIND_FUNC as u8,
        )
    };
    to_result(id).map(|()| id)
}

/// Loads `prog` as a sleepable syscall program.
fn load(prog: &Program) -> Result<Fd> {
    let insns = prog.insns();
    let mut attr = zeroed_attr();
    // SAFETY: Writing to the `BPF_PROG_LOAD` member of a zeroed union.
    let load = unsafe { &mut attr.__bindgen_anon_3 };
    load.prog_type = bindings::bpf_prog_type_BPF_PROG_TYPE_SYSCALL;
    load.prog_flags = bindings::BPF_F_SLEEPABLE;
    load.insn_cnt = insns.len() as u32;
    // `insn::Insn` has the layout of `struct bpf_insn`.
    load.insns = insns.as_ptr() as u64;
    load.license = c"GPL".as_ptr() as u64;
    sys_bpf(bindings::bpf_cmd_BPF_PROG_LOAD, &mut attr).map(Fd)
}

/// Creates an array map with one `u64` element.
fn counter_map() -> Result<Fd> {
    let mut attr = zeroed_attr();
    // SAFETY: Writing to the `BPF_MAP_CREATE` member of a zeroed union.
    let create = unsafe { &mut attr.__bindgen_anon_1 };
    create.map_type = bindings::bpf_map_type_BPF_MAP_TYPE_ARRAY;
    create.key_size = size_of::<u32>() as u32;
    create.value_size = size_of::<u64>() as u32;
    create.max_entries = 1;
    sys_bpf(bindings::bpf_cmd_BPF_MAP_CREATE, &mut attr).map(Fd)
}

/// Runs the program once with the context `ctx` and returns its value.
fn run(prog: &Fd, ctx: u64) -> Result<u32> {
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

fn chain(t: &mut Test, depth: u32, counter_map_fd: Option<c_int>) -> Option<(Chain, Fd)> {
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
fn counter(map: &Fd) -> Result<u64> {
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

/// The symbol table tells a program's main function from its subprograms.
fn classify_main_and_subprog(t: &mut Test) {
    let Some((_, fd)) = chain(t, 1, None) else {
        return;
    };
    // SAFETY: As in `usage`.
    let p = unsafe { bindings::bpf_prog_get(fd.0 as u32) };
    if is_err(p) {
        fail!(t, "bpf_prog_get failed");
        return;
    }
    // SAFETY: `p` is referenced; a JITed program with one subprogram has
    // `func_cnt == 2` and `func[1]` is the subprogram, both live with `p`.
    let (aux, main_ip, sub_ip, func_cnt) = unsafe {
        let aux = (*p).aux;
        let main_ip = (*p).bpf_func.map_or(0, |f| f as usize);
        let cnt = (*aux).func_cnt;
        let sub_ip = if cnt == 2 {
            (*(*(*aux).func.add(1))).bpf_func.map_or(0, |f| f as usize)
        } else {
            0
        };
        (aux, main_ip, sub_ip, cnt)
    };
    if expect_eq!(t, func_cnt, 2) {
        // A return address lies inside the function, past its first byte.
        expect_eq!(t, throw::classify(main_ip + 1), Code::Main(aux));
        expect_eq!(t, throw::classify(sub_ip + 1), Code::Subprog);
    }
    expect_eq!(
        t,
        throw::classify(classify_main_and_subprog as usize),
        Code::Kernel
    );
    // SAFETY: Drops the reference taken above.
    unsafe { bindings::bpf_prog_put(p) };
}

/// A frame record that returns into kernel code is not a BPF caller: the
/// unwinder reports it instead of unwinding.
fn no_boundary_outside_bpf(t: &mut Test) {
    let record: [usize; 2] = [0, no_boundary_outside_bpf as usize + 1];
    let got = throw::find_boundary(record.as_ptr() as *const c_void).map(|b| b.frames);
    expect_eq!(t, got, Err(WalkError::NotCalledFromBpf));
}

kunit_suite!(
    "bpf_exceptions",
    [
        throw_depth_0,
        throw_depth_1,
        throw_depth_2,
        throw_depth_3,
        throw_depth_4,
        throw_depth_5,
        throw_depth_6,
        throw_depth_7,
        nothrow_depth_0,
        nothrow_depth_1,
        nothrow_depth_2,
        nothrow_depth_3,
        nothrow_depth_4,
        nothrow_depth_5,
        nothrow_depth_6,
        nothrow_depth_7,
        throw_100k_no_leak,
        classify_main_and_subprog,
        no_boundary_outside_bpf,
    ]
);
