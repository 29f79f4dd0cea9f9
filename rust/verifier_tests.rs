// SPDX-License-Identifier: GPL-2.0

//! KUnit cases of the verifier's exception checks and of nested programs.
//!
//! The programs are assembled by hand and loaded with `kern_sys_bpf()`.
//! Where a case needs global functions or an exception callback, it loads
//! a small BTF blob made here (`int main(void)`, `int g(void)`,
//! `int cb(u64 cookie)`, and the `exception_callback:cb` decl tag) and
//! names each subprog's type in `func_info`, as libbpf would. Kernel
//! callers get no verifier log (`log_buf` is a user pointer), so rejections
//! are checked by their error; the guest's selftests check the messages.

use crate::{
    insn::{Insn, Program, Reg},
    kunit::{expect_eq, expect_ok, fail, Test},
    tests::{
        counter, counter_map, kfunc, load, load_attr, prog_of, run, sys_bpf, throw_btf_id,
        vmlinux_btf_id, zeroed_attr, Fd,
    },
    verifier::prog_insns,
};
use core::{ffi::c_int, mem::size_of};
use kernel::{alloc::KVec, bindings, prelude::*};

// Type ids of the BTF blob that `btf_blob()` makes.
const T_MAIN: u32 = 3;
const T_G: u32 = 4;
const T_CB: u32 = 7;

/// How `btf_blob()` declares the exception callback `cb`.
#[derive(Clone, Copy)]
struct CbDecl {
    /// `main` names `cb` with an `exception_callback:cb` decl tag.
    tagged: bool,
    /// ... and with a second one, `exception_callback:nocb`, naming no
    /// function.
    second_tag: bool,
    /// `cb` has global linkage (else static).
    global: bool,
    /// `cb` takes the cookie (else no argument).
    takes_cookie: bool,
}

const GOOD_CB: CbDecl = CbDecl {
    tagged: true,
    second_tag: false,
    global: true,
    takes_cookie: true,
};

/// BTF of `int main(void)`, `int g(void)` (both global) and `cb`:
/// 1 int, 2 `int (void)`, 3 main, 4 g, 5 u64, 6 `int (u64 cookie)`, 7 cb,
/// 8 the decl tag on main.
fn btf_blob(cb: CbDecl) -> Result<KVec<u8>> {
    const STRS: &[u8] =
        b"\0int\0main\0g\0u64\0cookie\0cb\0exception_callback:cb\0exception_callback:nocb\0";
    let s = |name: &[u8]| -> u32 {
        STRS.windows(name.len() + 2)
            .position(|w| w[0] == 0 && &w[1..=name.len()] == name && w[name.len() + 1] == 0)
            .map_or(0, |p| p as u32 + 1)
    };
    let kind = |k: u32, vlen: u32| (k << 24) | vlen;
    let (int, proto, func, tag) = (
        bindings::BTF_KIND_INT,
        bindings::BTF_KIND_FUNC_PROTO,
        bindings::BTF_KIND_FUNC,
        bindings::BTF_KIND_DECL_TAG,
    );
    let linkage = if cb.global { 1 } else { 0 };
    let cb_proto = if cb.takes_cookie { 6 } else { 2 };
    let mut types: KVec<u32> = KVec::new();
    for t in [
        &[s(b"int"), kind(int, 0), 4, 0x0100_0020][..], // 1: signed, 32 bits
        &[0, kind(proto, 0), 1],                        // 2: int (void)
        &[s(b"main"), kind(func, 1), 2],                // 3: global
        &[s(b"g"), kind(func, 1), 2],                   // 4: global
        &[s(b"u64"), kind(int, 0), 8, 64],              // 5
        &[0, kind(proto, 1), 1, s(b"cookie"), 5],       // 6: int (u64 cookie)
        &[s(b"cb"), kind(func, linkage), cb_proto],     // 7
    ] {
        types.extend_from_slice(t, GFP_KERNEL)?;
    }
    if cb.tagged {
        // 8: on main (3), the function itself (component -1)
        let tag_cb = [s(b"exception_callback:cb"), kind(tag, 0), T_MAIN, u32::MAX];
        types.extend_from_slice(&tag_cb, GFP_KERNEL)?;
    }
    if cb.second_tag {
        // 8 or 9: another on main, naming a function that does not exist
        let tag_nocb = [
            s(b"exception_callback:nocb"),
            kind(tag, 0),
            T_MAIN,
            u32::MAX,
        ];
        types.extend_from_slice(&tag_nocb, GFP_KERNEL)?;
    }
    let type_len = (types.len() * 4) as u32;
    let mut blob = KVec::new();
    // struct btf_header: magic, version 1, flags 0, hdr_len 24, type_off,
    // type_len, str_off, str_len
    blob.extend_from_slice(&0xeb9f_u16.to_le_bytes(), GFP_KERNEL)?;
    blob.extend_from_slice(&[1, 0], GFP_KERNEL)?;
    for w in [24, 0, type_len, type_len, STRS.len() as u32] {
        blob.extend_from_slice(&u32::to_le_bytes(w), GFP_KERNEL)?;
    }
    for w in types.iter() {
        blob.extend_from_slice(&w.to_le_bytes(), GFP_KERNEL)?;
    }
    blob.extend_from_slice(STRS, GFP_KERNEL)?;
    Ok(blob)
}

fn load_btf(blob: &[u8]) -> Result<Fd> {
    let mut attr = zeroed_attr();
    // SAFETY: Writing to the `BPF_BTF_LOAD` member of a zeroed union.
    let load = unsafe { &mut attr.__bindgen_anon_7 };
    load.btf = blob.as_ptr() as u64;
    load.btf_size = blob.len() as u32;
    sys_bpf(bindings::bpf_cmd_BPF_BTF_LOAD, &mut attr).map(Fd)
}

/// Loads `prog` as a sleepable syscall program with the BTF of `cb` and
/// `func_info` (first instruction, type id) for each subprog.
fn load_with_btf(prog: &Program, cb: CbDecl, funcs: &[(u32, u32)]) -> Result<Fd> {
    load_with_btf_as(
        prog,
        bindings::bpf_prog_type_BPF_PROG_TYPE_SYSCALL,
        bindings::BPF_F_SLEEPABLE,
        cb,
        funcs,
    )
}

/// [`load_with_btf`] for a program of type `prog_type` with `flags`.
fn load_with_btf_as(
    prog: &Program,
    prog_type: bindings::bpf_prog_type,
    flags: u32,
    cb: CbDecl,
    funcs: &[(u32, u32)],
) -> Result<Fd> {
    let btf = load_btf(&btf_blob(cb)?)?;
    let mut attr = load_attr(prog, prog_type, flags);
    // SAFETY: The `BPF_PROG_LOAD` member, which `load_attr()` filled in.
    let load = unsafe { &mut attr.__bindgen_anon_3 };
    load.prog_btf_fd = btf.0 as u32;
    // `struct bpf_func_info` is { insn_off, type_id }.
    load.func_info_rec_size = size_of::<(u32, u32)>() as u32;
    load.func_info = funcs.as_ptr() as u64;
    load.func_info_cnt = funcs.len() as u32;
    sys_bpf(bindings::bpf_cmd_BPF_PROG_LOAD, &mut attr).map(Fd)
}

/// Builds a program from its parts; `None` (and a failed case) if it does
/// not fit.
fn asm(t: &mut Test, parts: &[&[Insn]]) -> Option<Program> {
    let mut p = Program::new();
    for part in parts {
        if p.push(part).is_err() {
            fail!(t, "test program too long");
            return None;
        }
    }
    Some(p)
}

/// Expects the load to fail with `EINVAL`, as the verifier rejects it.
fn expect_rejected(t: &mut Test, what: &str, r: Result<Fd>) {
    expect_rejected_with(t, what, r, EINVAL);
}

/// Expects the load to fail with `err`.
fn expect_rejected_with(t: &mut Test, what: &str, r: Result<Fd>, err: Error) {
    match r {
        Ok(_) => fail!(t, "{what}: loaded, expected a verifier rejection"),
        Err(e) => {
            if e.to_errno() != err.to_errno() {
                fail!(
                    t,
                    "{what}: error {}, expected {}",
                    e.to_errno(),
                    err.to_errno()
                );
            }
        }
    }
}

/// `r1 = cookie; call bpf_throw`
fn throw(throw_id: i32, cookie: i32) -> [Insn; 2] {
    [Insn::mov64_imm(Reg::R1, cookie), Insn::call_kfunc(throw_id)]
}

/// The ids of `bpf_throw`, `bpf_rcu_read_lock` and `bpf_rcu_read_unlock`.
fn ids(t: &mut Test) -> Option<(i32, i32, i32)> {
    let throw = expect_ok!(t, throw_btf_id(), "finding bpf_throw")?;
    let lock = expect_ok!(t, kfunc(c"bpf_rcu_read_lock"), "finding bpf_rcu_read_lock")?;
    let unlock = expect_ok!(
        t,
        kfunc(c"bpf_rcu_read_unlock"),
        "finding bpf_rcu_read_unlock"
    )?;
    Some((throw, lock, unlock))
}

/// `main` calls global `g` (at insn 6), which throws 7, between
/// `bpf_rcu_read_lock()` and `bpf_rcu_read_unlock()` when `rcu`:
/// upstream accepts it, and each throw leaves the RCU read section open.
fn rcu_then_global(t: &mut Test, rcu: bool, g_throws: bool) -> Option<Result<Fd>> {
    let (throw_id, lock, unlock) = ids(t)?;
    let nop = Insn::mov64_imm(Reg::R0, 0);
    let (l, u) = if rcu {
        (Insn::call_kfunc(lock), Insn::call_kfunc(unlock))
    } else {
        (nop, nop)
    };
    let g_body = if g_throws {
        throw(throw_id, 7)
    } else {
        [Insn::mov64_imm(Reg::R0, 5), Insn::mov64_imm(Reg::R0, 5)]
    };
    let prog = asm(
        t,
        &[
            // main: 0..6
            &[
                l,
                Insn::call_local(4),
                Insn::mov64_reg(Reg::R6, Reg::R0),
                u,
                Insn::mov64_reg(Reg::R0, Reg::R6),
                Insn::exit(),
            ],
            // g: 6..
            &g_body,
            &[Insn::mov64_imm(Reg::R0, 5), Insn::exit()],
        ],
    )?;
    Some(load_with_btf(
        &prog,
        CbDecl {
            tagged: false,
            ..GOOD_CB
        },
        &[(0, T_MAIN), (6, T_G)],
    ))
}

/// A call of a global function that may throw inside an RCU read section
/// (the hole upstream leaves open): where a throw releases (x86-64 and
/// arm64, `RELEASES`) it ends the section,
/// so the program loads and returns the cookie, twice (a section left open
/// would nest the second run's); elsewhere it is rejected.
pub(crate) fn global_throw_in_rcu_released(t: &mut Test) {
    let Some(r) = rcu_then_global(t, true, true) else {
        return;
    };
    if !crate::verifier::RELEASES {
        expect_rejected(t, "global subprog that throws, called under RCU", r);
        return;
    }
    if let Some(fd) = expect_ok!(t, r, "loading: global throw under RCU") {
        expect_eq!(t, run(&fd, 0).ok(), Some(7));
        expect_eq!(t, run(&fd, 0).ok(), Some(7));
    }
}

/// The same call with nothing held loads and returns the cookie; a global
/// function that does not throw may still be called under RCU.
pub(crate) fn global_throw_nothing_held_runs(t: &mut Test) {
    let Some(r) = rcu_then_global(t, false, true) else {
        return;
    };
    if let Some(fd) = expect_ok!(t, r, "loading: global throw, nothing held") {
        expect_eq!(t, run(&fd, 0).ok(), Some(7));
    }
    let Some(r) = rcu_then_global(t, true, false) else {
        return;
    };
    if let Some(fd) = expect_ok!(t, r, "loading: quiet global under RCU") {
        expect_eq!(t, run(&fd, 0).ok(), Some(5));
    }
}

/// `main` holds a cpumask across a call of global `g`, which calls global
/// `h`, which throws 9 when `throws`.
fn reference_then_nested_global(t: &mut Test, throws: bool) -> Option<Result<Fd>> {
    let (throw_id, _, _) = ids(t)?;
    let create = expect_ok!(t, kfunc(c"bpf_cpumask_create"), "bpf_cpumask_create")?;
    let release = expect_ok!(t, kfunc(c"bpf_cpumask_release"), "bpf_cpumask_release")?;
    let h_body = if throws {
        throw(throw_id, 9)
    } else {
        [Insn::mov64_imm(Reg::R0, 9), Insn::mov64_imm(Reg::R0, 9)]
    };
    let prog = asm(
        t,
        &[
            // main: 0..8
            &[
                Insn::call_kfunc(create),
                Insn::jeq_imm(Reg::R0, 0, 5),
                Insn::mov64_reg(Reg::R6, Reg::R0),
                Insn::call_local(4),
                Insn::mov64_reg(Reg::R1, Reg::R6),
                Insn::call_kfunc(release),
                Insn::mov64_imm(Reg::R0, 0),
                Insn::exit(),
            ],
            // g: 8..10
            &[Insn::call_local(1), Insn::exit()],
            // h: 10..
            &h_body,
            &[Insn::mov64_imm(Reg::R0, 0), Insn::exit()],
        ],
    )?;
    let cb = CbDecl {
        tagged: false,
        ..GOOD_CB
    };
    // g and h are both of type `int g(void)`, global.
    Some(load_with_btf(
        &prog,
        cb,
        &[(0, T_MAIN), (8, T_G), (10, T_G)],
    ))
}

/// A global function that calls a global function that throws may throw
/// too: a call of it while a reference is held loads where a throw
/// releases (x86-64 and arm64), and the throw releases the reference (it
/// is rejected elsewhere), and so does a call when it cannot throw.
pub(crate) fn global_throw_nested_with_reference(t: &mut Test) {
    if let Some(r) = reference_then_nested_global(t, true) {
        if !crate::verifier::RELEASES {
            expect_rejected(t, "global call that may throw with a reference held", r);
        } else if let Some(fd) = expect_ok!(t, r, "loading: global throw, cpumask held") {
            expect_eq!(t, run(&fd, 0).ok(), Some(9));
        }
    }
    if let Some(r) = reference_then_nested_global(t, false) {
        expect_ok!(
            t,
            r,
            "loading: global call that cannot throw, reference held"
        );
    }
}

/// The current task's RCU read nesting.
fn rcu_nesting() -> i32 {
    #[cfg(CONFIG_PREEMPT_RCU)]
    // SAFETY: `current` is this task, which reads its own field.
    return unsafe { (*bindings::get_current()).rcu_read_lock_nesting };
    #[cfg(not(CONFIG_PREEMPT_RCU))]
    0
}

/// Expects `r` to be rejected, or where a throw releases what the program
/// holds (x86-64 and arm64), to load and return 1 twice, with the RCU read
/// nesting unchanged.
fn expect_released(t: &mut Test, what: &str, r: Result<Fd>) {
    if !crate::verifier::RELEASES {
        expect_rejected(t, what, r);
        return;
    }
    let before = rcu_nesting();
    if let Some(fd) = expect_ok!(t, r, "loading: {what}") {
        expect_eq!(t, run(&fd, 0).ok(), Some(1));
        expect_eq!(t, run(&fd, 0).ok(), Some(1));
    }
    expect_eq!(t, rcu_nesting(), before);
}

/// `bpf_throw()` itself inside an RCU read section, with preemption
/// disabled, or with a reference held only in R0 (which the unwinder's
/// entry keeps): released on x86-64 and arm64, rejected elsewhere.
pub(crate) fn throw_holding(t: &mut Test) {
    let Some((throw_id, lock, unlock)) = ids(t) else {
        return;
    };
    if let Some(p) = asm(
        t,
        &[
            &[Insn::call_kfunc(lock)],
            &throw(throw_id, 1),
            &[
                Insn::call_kfunc(unlock),
                Insn::mov64_imm(Reg::R0, 0),
                Insn::exit(),
            ],
        ],
    ) {
        expect_released(t, "bpf_throw under RCU", load(&p));
    }
    let Some(off) = expect_ok!(t, kfunc(c"bpf_preempt_disable"), "bpf_preempt_disable") else {
        return;
    };
    let Some(on) = expect_ok!(t, kfunc(c"bpf_preempt_enable"), "bpf_preempt_enable") else {
        return;
    };
    if let Some(p) = asm(
        t,
        &[
            &[Insn::call_kfunc(off)],
            &throw(throw_id, 1),
            &[
                Insn::call_kfunc(on),
                Insn::mov64_imm(Reg::R0, 0),
                Insn::exit(),
            ],
        ],
    ) {
        expect_released(t, "bpf_throw with preemption disabled", load(&p));
    }
    let Some(create) = expect_ok!(t, kfunc(c"bpf_cpumask_create"), "bpf_cpumask_create") else {
        return;
    };
    if let Some(p) = asm(
        t,
        &[
            &[Insn::call_kfunc(create), Insn::jeq_imm(Reg::R0, 0, 2)],
            &throw(throw_id, 1),
            &[Insn::mov64_imm(Reg::R0, 0), Insn::exit()],
        ],
    ) {
        expect_released(t, "bpf_throw holding a reference in R0", load(&p));
    }
}

/// R6 holds a cpumask when the program throws on one path, and `other` on
/// the path that skips `bpf_cpumask_create()`.
fn cpumask_or(t: &mut Test, other: i32) -> Option<Result<Fd>> {
    let throw_id = expect_ok!(t, throw_btf_id(), "finding bpf_throw")?;
    let create = expect_ok!(t, kfunc(c"bpf_cpumask_create"), "bpf_cpumask_create")?;
    let prandom = bindings::bpf_func_id_BPF_FUNC_get_prandom_u32 as i32;
    let p = asm(
        t,
        &[
            &[
                Insn::call_helper(prandom),
                Insn::mov64_imm(Reg::R6, other),
                // To the throw.
                Insn::jeq_imm(Reg::R0, 0, 3),
                Insn::call_kfunc(create),
                // To the exit: nothing held.
                Insn::jeq_imm(Reg::R0, 0, 3),
                Insn::mov64_reg(Reg::R6, Reg::R0),
            ],
            &throw(throw_id, 1),
            &[Insn::mov64_imm(Reg::R0, 0), Insn::exit()],
        ],
    )?;
    Some(load(&p))
}

/// R6 holds a cpumask when the program throws on one path; on the other
/// the program released the cpumask and R6 holds 5. The first pass gives
/// `bpf_cpumask_create()` a slot of its own, which on the second still
/// holds the released cpumask where R6 holds 5: the program then clears
/// the slot after the release, and a later pass merges the walks.
fn cpumask_released_before(t: &mut Test) -> Option<Result<Fd>> {
    let throw_id = expect_ok!(t, throw_btf_id(), "finding bpf_throw")?;
    let create = expect_ok!(t, kfunc(c"bpf_cpumask_create"), "bpf_cpumask_create")?;
    let release = expect_ok!(t, kfunc(c"bpf_cpumask_release"), "bpf_cpumask_release")?;
    let prandom = bindings::bpf_func_id_BPF_FUNC_get_prandom_u32 as i32;
    let p = asm(
        t,
        &[
            &[
                Insn::call_helper(prandom),
                Insn::mov64_reg(Reg::R7, Reg::R0),
                Insn::call_kfunc(create),
                // To the exit: nothing held.
                Insn::jeq_imm(Reg::R0, 0, 8),
                Insn::mov64_reg(Reg::R8, Reg::R0),
                Insn::mov64_reg(Reg::R6, Reg::R0),
                // To the throw, with the cpumask in R6.
                Insn::jeq_imm(Reg::R7, 0, 3),
                Insn::mov64_reg(Reg::R1, Reg::R8),
                Insn::call_kfunc(release),
                Insn::mov64_imm(Reg::R6, 5),
            ],
            &throw(throw_id, 1),
            &[Insn::mov64_imm(Reg::R0, 0), Insn::exit()],
        ],
    )?;
    Some(load(&p))
}

/// R6 holds a cpumask when the program throws on one path and NULL on the
/// other, which the verifier walks first (the fall-through): the first
/// pass cannot merge the second walk, a second pass with R6 hinted does.
fn cpumask_null_first(t: &mut Test) -> Option<Result<Fd>> {
    let throw_id = expect_ok!(t, throw_btf_id(), "finding bpf_throw")?;
    let create = expect_ok!(t, kfunc(c"bpf_cpumask_create"), "bpf_cpumask_create")?;
    let prandom = bindings::bpf_func_id_BPF_FUNC_get_prandom_u32 as i32;
    let p = asm(
        t,
        &[
            &[
                Insn::call_helper(prandom),
                Insn::mov64_imm(Reg::R6, 0),
                // To the create.
                Insn::jne_imm(Reg::R0, 0, 1),
                // Walked first: to the throw, R6 NULL (always taken).
                Insn::jeq_imm(Reg::R6, 0, 3),
                Insn::call_kfunc(create),
                // To the exit: nothing held.
                Insn::jeq_imm(Reg::R0, 0, 3),
                Insn::mov64_reg(Reg::R6, Reg::R0),
            ],
            &throw(throw_id, 1),
            &[Insn::mov64_imm(Reg::R0, 0), Insn::exit()],
        ],
    )?;
    Some(load(&p))
}

/// A cpumask in the stack slot at -8 on both paths, and also in R6 on
/// one: the one walked first (the fall-through) if `reg_first`, else the
/// other. R6 is zero where it does not hold the cpumask, and read after
/// the paths join, so that the second walk is not pruned there and
/// reaches the throw.
fn cpumask_moved(t: &mut Test, reg_first: bool) -> Option<Result<Fd>> {
    let throw_id = expect_ok!(t, throw_btf_id(), "finding bpf_throw")?;
    let create = expect_ok!(t, kfunc(c"bpf_cpumask_create"), "bpf_cpumask_create")?;
    let prandom = bindings::bpf_func_id_BPF_FUNC_get_prandom_u32 as i32;
    let (jumped, fell) = if reg_first {
        (
            Insn::mov64_imm(Reg::R6, 0),
            Insn::mov64_reg(Reg::R6, Reg::R7),
        )
    } else {
        (
            Insn::mov64_reg(Reg::R6, Reg::R7),
            Insn::mov64_imm(Reg::R6, 0),
        )
    };
    let p = asm(
        t,
        &[
            &[
                Insn::call_kfunc(create),
                // To the exit: nothing held.
                Insn::jeq_imm(Reg::R0, 0, 10),
                Insn::stx_dw(Reg::R10, Reg::R0, -8),
                Insn::mov64_reg(Reg::R7, Reg::R0),
                Insn::call_helper(prandom),
                jumped,
                Insn::jeq_imm(Reg::R0, 0, 1),
                fell,
                Insn::mov64_imm(Reg::R7, 0),
                Insn::jeq_imm(Reg::R6, 0, 0),
            ],
            &throw(throw_id, 1),
            &[Insn::mov64_imm(Reg::R0, 0), Insn::exit()],
        ],
    )?;
    Some(load(&p))
}

/// Paths that merge at a throw: a reference acquired on one path only,
/// NULL on the other, is released where it was acquired (x86-64, arm64),
/// whichever path the verifier walks first; a place that holds a
/// reference on one path and a scalar other than 0 on the other cannot be
/// told apart by the unwinder, so the acquiring call gets a slot of its
/// own, from which the next pass releases it. A reference
/// that one path holds in a stack slot only, and the other in the slot
/// and in R6, is released from the slot on both, whichever comes first.
pub(crate) fn throw_merging_paths(t: &mut Test) {
    if let Some(r) = cpumask_or(t, 0) {
        expect_released(t, "cpumask or NULL in R6", r);
    }
    if let Some(r) = cpumask_null_first(t) {
        expect_released(t, "NULL in R6 walked first, or a cpumask", r);
    }
    if let Some(r) = cpumask_or(t, 5) {
        expect_released(t, "cpumask or 5 in R6", r);
    }
    if let Some(r) = cpumask_moved(t, false) {
        expect_released(t, "cpumask in a slot, then in R6 and the slot", r);
    }
    if let Some(r) = cpumask_moved(t, true) {
        expect_released(t, "cpumask in R6 and a slot, then in the slot", r);
    }
    if let Some(r) = cpumask_released_before(t) {
        expect_released(t, "cpumask in R6, or released and 5 in R6", r);
    }
}

/// A static subprog whose first instruction loads its own address (a
/// BPF_PSEUDO_FUNC reference to itself, `imm` -1) and whose paths leave a
/// cpumask or 5 in R6: the first pass gives `bpf_cpumask_create()` a slot
/// of its own, whose zeroing goes before that instruction, so its `imm`
/// must become -2 to stay on the subprog's start (an adversarial review
/// found the off-by-one, which made the next pass read `func_info_aux`
/// far out of bounds). The program is refused in the end: the stack
/// check counts a callback reference as a call, and this one recurses.
pub(crate) fn own_slot_before_a_self_reference(t: &mut Test) {
    let Some(throw_id) = expect_ok!(t, throw_btf_id(), "finding bpf_throw") else {
        return;
    };
    let Some(create) = expect_ok!(t, kfunc(c"bpf_cpumask_create"), "bpf_cpumask_create") else {
        return;
    };
    let prandom = bindings::bpf_func_id_BPF_FUNC_get_prandom_u32 as i32;
    let Some(p) = asm(
        t,
        &[
            // main: 0..2
            &[Insn::call_local(1), Insn::exit()],
            // the subprog: 2..
            &Insn::ld_func(Reg::R1, -1),
            &[
                Insn::call_helper(prandom),
                Insn::mov64_imm(Reg::R6, 5),
                // To the throw.
                Insn::jeq_imm(Reg::R0, 0, 3),
                Insn::call_kfunc(create),
                // To the exit: nothing held.
                Insn::jeq_imm(Reg::R0, 0, 3),
                Insn::mov64_reg(Reg::R6, Reg::R0),
            ],
            &throw(throw_id, 1),
            &[Insn::mov64_imm(Reg::R0, 0), Insn::exit()],
        ],
    ) else {
        return;
    };
    let static_sub = CbDecl {
        tagged: false,
        second_tag: false,
        global: false,
        takes_cookie: false,
    };
    if load_with_btf(&p, static_sub, &[(0, T_MAIN), (2, T_CB)]).is_ok() {
        fail!(t, "a subprog that refers to itself as a callback: loaded");
    }
}

/// A `bpf_loop()` callback cannot throw.
pub(crate) fn throw_in_callback_rejected(t: &mut Test) {
    let Some(throw_id) = expect_ok!(t, throw_btf_id(), "finding bpf_throw") else {
        return;
    };
    let Some(p) = asm(
        t,
        &[
            // main: 0..8
            &[Insn::mov64_imm(Reg::R1, 1)],
            &Insn::ld_func(Reg::R2, 6),
            &[
                Insn::mov64_imm(Reg::R3, 0),
                Insn::mov64_imm(Reg::R4, 0),
                Insn::call_helper(bindings::bpf_func_id_BPF_FUNC_loop as i32),
                Insn::mov64_imm(Reg::R0, 0),
                Insn::exit(),
            ],
            // the callback: 8..
            &throw(throw_id, 1),
            &[Insn::mov64_imm(Reg::R0, 0), Insn::exit()],
        ],
    ) else {
        return;
    };
    expect_rejected(t, "bpf_throw in a bpf_loop callback", load(&p));
}

/// `main` (0..4) throws 5 and `cb` (4..) returns the cookie plus one;
/// `call_cb` makes main call cb directly as well.
fn custom_callback(t: &mut Test, cb: CbDecl, call_cb: bool) -> Option<Result<Fd>> {
    let throw_id = expect_ok!(t, throw_btf_id(), "finding bpf_throw")?;
    let first = if call_cb {
        Insn::call_local(3)
    } else {
        Insn::mov64_imm(Reg::R0, 0)
    };
    let prog = asm(
        t,
        &[
            &[first],
            &throw(throw_id, 5),
            &[Insn::exit()],
            &[
                Insn::mov64_reg(Reg::R0, Reg::R1),
                Insn::add64_imm(Reg::R0, 1),
                Insn::exit(),
            ],
        ],
    )?;
    Some(load_with_btf(&prog, cb, &[(0, T_MAIN), (4, T_CB)]))
}

/// The callback named by the decl tag runs with the cookie; a callback that
/// is static, takes no cookie, or is called directly is rejected.
pub(crate) fn exception_callback_checks(t: &mut Test) {
    if let Some(r) = custom_callback(t, GOOD_CB, false) {
        if let Some(fd) = expect_ok!(t, r, "loading a program with its own callback") {
            expect_eq!(t, run(&fd, 0).ok(), Some(6));
        }
    }
    let statik = CbDecl {
        global: false,
        ..GOOD_CB
    };
    if let Some(r) = custom_callback(t, statik, false) {
        expect_rejected(t, "static exception callback", r);
    }
    let no_cookie = CbDecl {
        takes_cookie: false,
        ..GOOD_CB
    };
    if let Some(r) = custom_callback(t, no_cookie, false) {
        expect_rejected(t, "exception callback without the cookie", r);
    }
    if let Some(r) = custom_callback(t, GOOD_CB, true) {
        expect_rejected(t, "exception callback called directly", r);
    }
    // Two tags: "multiple exception callback tags for main subprog".
    let two = CbDecl {
        second_tag: true,
        ..GOOD_CB
    };
    if let Some(r) = custom_callback(t, two, false) {
        expect_rejected_with(t, "two exception callback tags", r, EEXIST);
    }
    // The tag names a function that does not exist.
    let missing = CbDecl {
        tagged: false,
        second_tag: true,
        ..GOOD_CB
    };
    if let Some(r) = custom_callback(t, missing, false) {
        expect_rejected_with(t, "exception callback not in BTF", r, ENOENT);
    }
}

/// A program that throws without a callback of its own gets the default
/// one appended as a hidden subprog: `r0 = r1; exit`.
pub(crate) fn default_callback_appended(t: &mut Test) {
    let Some(throw_id) = expect_ok!(t, throw_btf_id(), "finding bpf_throw") else {
        return;
    };
    let Some(p) = asm(
        t,
        &[
            &[Insn::call_local(1), Insn::exit()],
            &throw(throw_id, 3),
            &[Insn::mov64_imm(Reg::R0, 0), Insn::exit()],
        ],
    ) else {
        return;
    };
    let Some(fd) = expect_ok!(t, load(&p), "loading") else {
        return;
    };
    expect_eq!(t, run(&fd, 0).ok(), Some(3));
    let Some(prog) = prog_of(t, &fd) else {
        return;
    };
    // SAFETY: `prog` is live, and no longer changes, until the
    // `bpf_prog_put()` below.
    let (func_cnt, real_func_cnt, tail) = unsafe {
        let aux = &*(*prog).aux;
        let tail = match prog_insns(&*prog) {
            &[.., mov, exit] => Some((mov, exit)),
            _ => None,
        };
        (aux.func_cnt, aux.real_func_cnt, tail)
    };
    // SAFETY: Drops the reference `prog_of()` took.
    unsafe { bindings::bpf_prog_put(prog) };
    expect_eq!(t, (func_cnt, real_func_cnt), (2, 3));
    let Some((mov, exit)) = tail else {
        fail!(t, "loaded program shorter than two instructions");
        return;
    };
    // BPF_ALU64 | BPF_MOV | BPF_X with dst r0, src r1; BPF_JMP | BPF_EXIT
    expect_eq!(t, (mov.code, mov.dst_reg(), mov.src_reg()), (0xbf, 0, 1));
    expect_eq!(t, exit.code, 0x95);
}

/// A program of `BPF_MAX_SUBPROGS` subprogs (main calls each of the
/// others, `r0 = 0; exit`, then throws 7) without a callback of its own:
/// the hidden default callback takes the one slot of `subprog_info` left
/// past them, and the program returns the cookie. An early version of the
/// safe view of `subprog_info` (`env.rs`) refused the count it then had.
pub(crate) fn default_callback_after_the_most_subprogs(t: &mut Test) {
    let Some(throw_id) = expect_ok!(t, throw_btf_id(), "finding bpf_throw") else {
        return;
    };
    let others = bindings::BPF_MAX_SUBPROGS as usize - 1;
    // Main: a call of each other subprog, the throw, `r0 = 0; exit`.
    let main_len = others + 4;
    let mut insns = KVec::new();
    for i in 0..others {
        // Subprog `i + 1` starts at `main_len + 2 * i`.
        let rel = (main_len + 2 * i) as i32 - i as i32 - 1;
        if insns.push(Insn::call_local(rel), GFP_KERNEL).is_err() {
            fail!(t, "out of memory");
            return;
        }
    }
    let thrown = throw(throw_id, 7);
    let tail = [&thrown[..], &[Insn::mov64_imm(Reg::R0, 0), Insn::exit()]];
    for part in tail {
        if insns.extend_from_slice(part, GFP_KERNEL).is_err() {
            fail!(t, "out of memory");
            return;
        }
    }
    for _ in 0..others {
        let sub = [Insn::mov64_imm(Reg::R0, 0), Insn::exit()];
        if insns.extend_from_slice(&sub, GFP_KERNEL).is_err() {
            fail!(t, "out of memory");
            return;
        }
    }
    let mut attr = zeroed_attr();
    // SAFETY: Writing to the `BPF_PROG_LOAD` member of a zeroed union.
    let load = unsafe { &mut attr.__bindgen_anon_3 };
    load.prog_type = bindings::bpf_prog_type_BPF_PROG_TYPE_SYSCALL;
    load.prog_flags = bindings::BPF_F_SLEEPABLE;
    load.insn_cnt = insns.len() as u32;
    // `insn::Insn` has the layout of `struct bpf_insn`.
    load.insns = insns.as_ptr() as u64;
    load.license = c"GPL".as_ptr() as u64;
    let Some(fd) = expect_ok!(
        t,
        sys_bpf(bindings::bpf_cmd_BPF_PROG_LOAD, &mut attr).map(Fd),
        "loading"
    ) else {
        return;
    };
    expect_eq!(t, run(&fd, 0).ok(), Some(7));
    let Some(prog) = prog_of(t, &fd) else {
        return;
    };
    // SAFETY: `prog` is live until the `bpf_prog_put()` below.
    let cnt = unsafe { ((*(*prog).aux).func_cnt, (*(*prog).aux).real_func_cnt) };
    // SAFETY: Drops the reference `prog_of()` took.
    unsafe { bindings::bpf_prog_put(prog) };
    let most = bindings::BPF_MAX_SUBPROGS;
    expect_eq!(t, cnt, (most, most + 1));
}

const COOKIE_OUTER: i32 = 0x0a11;
const COOKIE_TRACER: i32 = 0x0b22;

/// The tracing program: a `tp_btf/bpf_trace_printk` program that counts
/// its runs in `map`, then throws from two calls deep, each level setting
/// R6-R9 (the JIT's rbx, r13, r14, r15) to its own values.
fn tracer(t: &mut Test, map: c_int, throw_id: i32) -> Option<Result<Fd>> {
    let tp = expect_ok!(
        t,
        vmlinux_btf_id(c"btf_trace_bpf_trace_printk", bindings::BTF_KIND_TYPEDEF),
        "finding the bpf_trace_printk tracepoint"
    )?;
    let clobber = |v: i32| {
        [
            Insn::mov64_imm(Reg::R6, v),
            Insn::mov64_imm(Reg::R7, v + 1),
            Insn::mov64_imm(Reg::R8, v + 2),
            Insn::mov64_imm(Reg::R9, v + 3),
        ]
    };
    let prog = asm(
        t,
        &[
            // main: count the run
            &Insn::ld_map_fd(Reg::R1, map),
            &[
                Insn::st_w(Reg::R10, -4, 0),
                Insn::mov64_reg(Reg::R2, Reg::R10),
                Insn::add64_imm(Reg::R2, -4),
                Insn::call_helper(bindings::bpf_func_id_BPF_FUNC_map_lookup_elem as i32),
                Insn::jeq_imm(Reg::R0, 0, 2),
                Insn::mov64_imm(Reg::R1, 1),
                Insn::atomic_add_dw(Reg::R0, Reg::R1, 0),
            ],
            &clobber(0x100),
            &[Insn::call_local(2)],
            &[Insn::mov64_reg(Reg::R0, Reg::R6), Insn::exit()],
            // level 1
            &clobber(0x200),
            &[Insn::call_local(2)],
            &[Insn::mov64_reg(Reg::R0, Reg::R7), Insn::exit()],
            // level 2: throws
            &clobber(0x300),
            &throw(throw_id, COOKIE_TRACER),
            &[Insn::mov64_reg(Reg::R0, Reg::R8), Insn::exit()],
        ],
    )?;
    let mut attr = load_attr(&prog, bindings::bpf_prog_type_BPF_PROG_TYPE_TRACING, 0);
    // SAFETY: The `BPF_PROG_LOAD` member, which `load_attr()` filled in.
    let load = unsafe { &mut attr.__bindgen_anon_3 };
    load.expected_attach_type = bindings::bpf_attach_type_BPF_TRACE_RAW_TP;
    load.attach_btf_id = tp as u32;
    Some(sys_bpf(bindings::bpf_cmd_BPF_PROG_LOAD, &mut attr).map(Fd))
}

/// The outer program: keeps values in R6-R9 across `bpf_trace_printk()`,
/// which runs the tracing program, returns 1 if any changed, and else
/// throws its own cookie from a subprog.
fn outer(t: &mut Test, throw_id: i32) -> Option<Result<Fd>> {
    let keep = [
        Insn::mov64_imm(Reg::R6, 0x61),
        Insn::mov64_imm(Reg::R7, 0x62),
        Insn::mov64_imm(Reg::R8, 0x63),
        Insn::mov64_imm(Reg::R9, 0x64),
    ];
    // "x\0" on the stack, as the format.
    let printk = [
        Insn::st_w(Reg::R10, -8, 0x78),
        Insn::mov64_reg(Reg::R1, Reg::R10),
        Insn::add64_imm(Reg::R1, -8),
        Insn::mov64_imm(Reg::R2, 2),
        Insn::call_helper(bindings::bpf_func_id_BPF_FUNC_trace_printk as i32),
    ];
    // Each check skips to `r0 = 1; exit` (at +5 from the first) on a
    // mismatch; after the four, the call of the throwing subprog.
    let check = [
        Insn::jne_imm(Reg::R6, 0x61, 4),
        Insn::jne_imm(Reg::R7, 0x62, 3),
        Insn::jne_imm(Reg::R8, 0x63, 2),
        Insn::jne_imm(Reg::R9, 0x64, 1),
        Insn::call_local(2),
        Insn::mov64_imm(Reg::R0, 1),
        Insn::exit(),
    ];
    let prog = asm(
        t,
        &[
            &keep,
            &printk,
            &check,
            &throw(throw_id, COOKIE_OUTER),
            &[Insn::mov64_imm(Reg::R0, 0), Insn::exit()],
        ],
    )?;
    Some(load(&prog))
}

/// A program that can throw runs, through a tracepoint, inside another that
/// can throw: its throw unwinds only its own frames (the outer program's
/// callee-saved registers survive, and it goes on to throw its own cookie),
/// and each of the two throws returns its own cookie.
pub(crate) fn throw_in_nested_tracing_program(t: &mut Test) {
    let Some(throw_id) = expect_ok!(t, throw_btf_id(), "finding bpf_throw") else {
        return;
    };
    let Some(map) = expect_ok!(t, counter_map(), "creating the counter map") else {
        return;
    };
    let Some(r) = tracer(t, map.0, throw_id) else {
        return;
    };
    let Some(tracer) = expect_ok!(t, r, "loading the tracing program") else {
        return;
    };
    let Some(r) = outer(t, throw_id) else {
        return;
    };
    let Some(outer) = expect_ok!(t, r, "loading the outer program") else {
        return;
    };
    // Without the tracer attached, the outer program throws its cookie.
    expect_eq!(t, run(&outer, 0).ok(), Some(COOKIE_OUTER as u32));
    expect_eq!(t, counter(&map).ok(), Some(0));
    let mut attr = zeroed_attr();
    attr.raw_tracepoint.prog_fd = tracer.0 as u32;
    let Some(link) = expect_ok!(
        t,
        sys_bpf(bindings::bpf_cmd_BPF_RAW_TRACEPOINT_OPEN, &mut attr).map(Fd),
        "attaching the tracing program"
    ) else {
        return;
    };
    for runs in 1..=3 {
        expect_eq!(t, run(&outer, 0).ok(), Some(COOKIE_OUTER as u32));
        expect_eq!(t, counter(&map).ok(), Some(runs));
    }
    drop(link);
}

/// `main` (0..6) calls `g` (6..8) only on a branch that the verifier knows is
/// never taken, then throws 5; `cb` (8..) returns the cookie plus one. Dead
/// code removal deletes `g`, which lies before the callback: the callback
/// must still be the one that runs (stock 6.12 keeps its old subprog index
/// and takes the entry from past the end of the program's functions).
pub(crate) fn callback_after_dead_subprog(t: &mut Test) {
    let Some(throw_id) = expect_ok!(t, throw_btf_id(), "finding bpf_throw") else {
        return;
    };
    let Some(prog) = asm(
        t,
        &[
            &[
                Insn::mov64_imm(Reg::R0, 0),
                Insn::jeq_imm(Reg::R0, 0, 1),
                Insn::call_local(3),
            ],
            &throw(throw_id, 5),
            &[Insn::exit()],
            // g: dead
            &[Insn::mov64_imm(Reg::R0, 9), Insn::exit()],
            // cb
            &[
                Insn::mov64_reg(Reg::R0, Reg::R1),
                Insn::add64_imm(Reg::R0, 1),
                Insn::exit(),
            ],
        ],
    ) else {
        return;
    };
    let r = load_with_btf(&prog, GOOD_CB, &[(0, T_MAIN), (6, T_G), (8, T_CB)]);
    if let Some(fd) = expect_ok!(t, r, "loading a program with dead code before its callback") {
        expect_eq!(t, run(&fd, 0).ok(), Some(6));
    }
}

/// A `cgroup_skb` ingress program (return values 0 and 1) calls global `g`,
/// which throws `cookie` with the default callback.
fn cgroup_skb_global_throw(t: &mut Test, cookie: i32) -> Option<Result<Fd>> {
    let throw_id = expect_ok!(t, throw_btf_id(), "finding bpf_throw")?;
    let prog = asm(
        t,
        &[
            // main: 0..3
            &[
                Insn::call_local(2),
                Insn::mov64_imm(Reg::R0, 1),
                Insn::exit(),
            ],
            // g: 3..
            &throw(throw_id, cookie),
            &[Insn::mov64_imm(Reg::R0, 0), Insn::exit()],
        ],
    )?;
    let no_cb = CbDecl {
        tagged: false,
        ..GOOD_CB
    };
    Some(load_with_btf_as(
        &prog,
        bindings::bpf_prog_type_BPF_PROG_TYPE_CGROUP_SKB,
        0,
        no_cb,
        &[(0, T_MAIN), (3, T_G)],
    ))
}

/// The cookie of a throw from a global subprog becomes the program's return
/// value, so it is checked against the program type's range like a throw
/// from the main program (stock 6.12 checks only that it is a scalar).
pub(crate) fn global_throw_return_range(t: &mut Test) {
    if let Some(r) = cgroup_skb_global_throw(t, 64) {
        expect_rejected(t, "cgroup_skb global subprog throws 64", r);
    }
    if let Some(r) = cgroup_skb_global_throw(t, 1) {
        expect_ok!(t, r, "loading: cgroup_skb global subprog throws 1");
    }
}
