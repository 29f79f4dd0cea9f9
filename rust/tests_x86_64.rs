// SPDX-License-Identifier: GPL-2.0

//! The x86-64 cases of the KUnit suite `bpf_exceptions`: the JIT's bytes,
//! which the Rust prologue emits, and a C caller's callee-saved registers.

use crate::{
    insn::{self, Insn, Program},
    kunit::{expect_eq, expect_ok, Test},
    tests::{chain, is_err, load_as, one_slot_map, throw_btf_id, Fd},
};
use core::{ffi::c_int, mem::size_of, ptr};
use kernel::{alloc::KVec, bindings, macros::kunit_tests, prelude::*};

/// A JITed function: its image.
struct Image {
    bytes: [u8; 512],
    len: usize,
}

impl Image {
    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The image without its final `ret` (`c3`, `c3 cc` with SLS, or a
    /// `jmp` to the return thunk).
    fn before_ret(&self) -> &[u8] {
        let b = self.bytes();
        let n = b.len();
        if b.ends_with(&[0xc3]) {
            &b[..n - 1]
        } else if b.ends_with(&[0xc3, 0xcc]) {
            &b[..n - 2]
        } else if n >= 5 && b[n - 5] == 0xe9 {
            &b[..n - 5]
        } else {
            b
        }
    }
}

/// Copies the JIT images of the program's functions: the main function
/// first, then its subprograms in order.
fn images(prog: &Fd) -> Result<KVec<Image>> {
    // SAFETY: As in `usage`.
    let p = unsafe { bindings::bpf_prog_get(prog.0 as u32) };
    if is_err(p) {
        return Err(EBADF);
    }
    let mut out = KVec::new();
    // SAFETY: `p` is referenced, so it, its `aux` and (for a program with
    // subprograms) `aux->func[0..real_func_cnt]` and their images are live; each
    // image is `jited_len` bytes at `bpf_func`.
    let ret = unsafe {
        let aux = (*p).aux;
        // `real_func_cnt` counts hidden subprograms (the default exception
        // callback) too; it is 0 for a program without subprograms.
        let cnt = (*aux).real_func_cnt.max(1) as usize;
        let mut ret = Ok(());
        for i in 0..cnt {
            let f = if (*aux).real_func_cnt == 0 {
                p
            } else {
                *(*aux).func.add(i)
            };
            let start = (*f).bpf_func.map_or(ptr::null(), |f| f as *const u8);
            let len = (*f).jited_len as usize;
            let mut img = Image {
                bytes: [0; 512],
                len: len.min(512),
            };
            if !start.is_null() {
                ptr::copy_nonoverlapping(start, img.bytes.as_mut_ptr(), img.len);
            }
            if let Err(e) = out.push(img, GFP_KERNEL) {
                ret = Err(e.into());
                break;
            }
        }
        ret
    };
    // SAFETY: Drops the reference taken above.
    unsafe { bindings::bpf_prog_put(p) };
    ret.map(|()| out)
}

/// Creates a one-slot program array.
fn prog_array() -> Result<Fd> {
    one_slot_map(
        bindings::bpf_map_type_BPF_MAP_TYPE_PROG_ARRAY,
        size_of::<u32>(),
    )
}

// Upstream's x86-64 JIT layout (arch/x86/net/bpf_jit_comp.c, 6.12), byte by
// byte, in a kernel without CFI (BPF_EXCEPTIONS_RUST excludes it).
/// With IBT, every entry starts with an endbr64 (emit_cfi()'s, where the
/// unwinder's indirect jump into an exception callback lands), and another
/// follows the frame record, where tail calls land.
#[cfg(CONFIG_X86_KERNEL_IBT)]
const ENDBR: &[u8] = &[0xf3, 0x0f, 0x1e, 0xfa];
#[cfg(not(CONFIG_X86_KERNEL_IBT))]
const ENDBR: &[u8] = &[];
const NOP5: &[u8] = &[0x0f, 0x1f, 0x44, 0x00, 0x00];
const NOP3: &[u8] = &[0x0f, 0x1f, 0x00];
const XOR_RAX: &[u8] = &[0x48, 0x31, 0xc0];
const FRAME: &[u8] = &[0x55, 0x48, 0x89, 0xe5]; // push rbp; mov rbp, rsp
/// cmp rax, 33; ja +6; push rax; mov rax, rsp; jmp +1; push rax; push rax
const TAIL_CALL_SLOTS: &[u8] = &[
    0x48, 0x83, 0xf8, 0x21, 0x77, 0x06, 0x50, 0x48, 0x89, 0xe0, 0xeb, 0x01, 0x50, 0x50,
];
const PUSH_RBX: &[u8] = &[0x53];
const POP_RBX: &[u8] = &[0x5b];
const LEAVE: &[u8] = &[0xc9];
/// add qword [rax], 1: the tail call count, just before the restore.
const COUNT_TAIL_CALL: &[u8] = &[0x48, 0x83, 0x00, 0x01];
/// pop rax; pop rax: the tail call slots, just after the restore.
const DROP_SLOTS: &[u8] = &[0x58, 0x58];

/// Byte strings joined, to compare JIT output with.
struct Joined {
    buf: [u8; 64],
    len: usize,
}

impl core::ops::Deref for Joined {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Joins `parts`; past 64 bytes the rest is dropped, which no expected
/// sequence here comes near.
fn cat(parts: &[&[u8]]) -> Joined {
    let mut j = Joined {
        buf: [0; 64],
        len: 0,
    };
    for b in parts.iter().flat_map(|p| p.iter()) {
        if j.len < j.buf.len() {
            j.buf[j.len] = *b;
            j.len += 1;
        }
    }
    j
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Loads `prog` as a TC program and returns its JIT images; it is not run.
/// (Syscall programs must be sleepable, and sleepable programs cannot use
/// program arrays.)
fn jit(t: &mut Test, prog: &Program) -> Option<KVec<Image>> {
    let tc = bindings::bpf_prog_type_BPF_PROG_TYPE_SCHED_CLS;
    let fd = expect_ok!(t, load_as(prog, tc, 0), "loading the program")?;
    expect_ok!(t, images(&fd), "reading the JIT images")
}

/// An ordinary function saves nothing it does not use.
pub(crate) fn jit_ordinary(t: &mut Test) {
    let mut p = Program::new();
    let _ = p.push(&[Insn::mov64_imm(insn::Reg::R0, 7), Insn::exit()]);
    let Some(img) = jit(t, &p) else {
        return;
    };
    let f = &img[0];
    let prologue = cat(&[ENDBR, NOP5, NOP3, FRAME, ENDBR]);
    expect_eq!(t, &f.bytes()[..prologue.len()], &prologue[..]);
    // mov eax, 7; leave
    expect_eq!(
        t,
        f.before_ret(),
        &cat(&[ENDBR, NOP5, NOP3, FRAME, ENDBR, &[0xb8, 7, 0, 0, 0], LEAVE])[..]
    );
}

/// An exception boundary saves what it uses (rbx for R6), like any other
/// function; its exception callback takes over its frame; the throw site
/// loads the program's aux into rsi for bpf_throw().
pub(crate) fn jit_exception_boundary_and_callback(t: &mut Test) {
    let Some((_, fd)) = chain(t, 0, None) else {
        return;
    };
    let Some(img) = expect_ok!(t, images(&fd), "reading the JIT images") else {
        return;
    };
    // The main function and the hidden default exception callback.
    if !expect_eq!(t, img.len(), 2) {
        return;
    }
    let main = &img[0];
    let prologue = cat(&[ENDBR, NOP5, NOP3, FRAME, ENDBR, PUSH_RBX]);
    expect_eq!(t, &main.bytes()[..prologue.len()], &prologue[..]);
    expect_eq!(
        t,
        main.before_ret().ends_with(&cat(&[POP_RBX, LEAVE])),
        true
    );
    // movabs rsi, aux
    expect_eq!(t, contains(main.bytes(), &[0x48, 0xbe]), true);

    // mov rbp, rdx; mov rsp, rbp; then r0 = r1 (mov rax, rdi) and the exit.
    let cb = cat(&[
        ENDBR,
        NOP5,
        NOP3,
        &[0x48, 0x89, 0xd5],
        &[0x48, 0x89, 0xec],
        ENDBR,
        &[0x48, 0x89, 0xf8],
        LEAVE,
    ]);
    expect_eq!(t, img[1].before_ret(), &cb[..]);
}

/// `r6 = skb->len; r2 = prog array; r3 = 0; bpf_tail_call();
/// [if r6 != 0 throw]; r0 = 0`
fn tail_call_prog(map: c_int, throw_btf_id: Option<i32>) -> Program {
    use insn::Reg::*;
    let mut p = Program::new();
    let _ = p.push(&[Insn::ldx_w(R6, R1, 0)]);
    let _ = p.push(&insn::Insn::ld_map_fd(R2, map));
    let _ = p.push(&[Insn::mov64_imm(R3, 0), Insn::call_helper(12)]);
    if let Some(id) = throw_btf_id {
        let _ = p.push(&[
            Insn::jeq_imm(R6, 0, 2),
            Insn::mov64_imm(R1, 1),
            Insn::call_kfunc(id),
        ]);
    }
    let _ = p.push(&[Insn::mov64_imm(R0, 0), Insn::exit()]);
    p
}

/// The tail call program's main function, with the throw site if
/// `throw_btf_id` is given: it keeps the tail call count and saves and
/// restores what it uses (rbx for R6), on the tail call path too, before
/// dropping the count slots.
fn check_tail_call_image(t: &mut Test, throw_btf_id: Option<i32>) {
    let Some(map) = expect_ok!(t, prog_array(), "creating the program array") else {
        return;
    };
    let Some(img) = jit(t, &tail_call_prog(map.0, throw_btf_id)) else {
        return;
    };
    let f = &img[0];
    let prologue = cat(&[
        ENDBR,
        NOP5,
        XOR_RAX,
        FRAME,
        ENDBR,
        TAIL_CALL_SLOTS,
        PUSH_RBX,
    ]);
    expect_eq!(t, &f.bytes()[..prologue.len()], &prologue[..]);
    let path = cat(&[COUNT_TAIL_CALL, POP_RBX, DROP_SLOTS]);
    expect_eq!(t, contains(f.bytes(), &path), true);
    expect_eq!(t, f.before_ret().ends_with(&cat(&[POP_RBX, LEAVE])), true);
    if throw_btf_id.is_some() {
        // The throw site: the aux in R2 (movabs rsi, imm64), then the call
        // at once. Upstream loads the tail call count pointer into rax
        // before every call of a function that can reach a tail call,
        // which would leave the unwinder a stack address for R0.
        let site = f
            .bytes()
            .windows(11)
            .any(|w| w[..2] == [0x48, 0xbe] && w[10] == 0xe8);
        expect_eq!(t, site, true);
    }
}

/// A main function that tail calls, as upstream emits it.
pub(crate) fn jit_tail_call(t: &mut Test) {
    check_tail_call_image(t, None);
}

/// An exception boundary that tail calls: exactly as the same program
/// without a throw, and R0 left alone at the call of `bpf_throw()`.
pub(crate) fn jit_tail_call_exception_boundary(t: &mut Test) {
    if let Some(id) = expect_ok!(t, throw_btf_id(), "finding bpf_throw") {
        check_tail_call_image(t, Some(id));
    }
}

/// Values that the caller of a program keeps in rbx, r12, r13, r14, r15.
pub(crate) const CANARIES: [u64; 5] = [
    0x1111_2222_3333_4444,
    0x5555_6666_7777_8888,
    0x9999_aaaa_bbbb_cccc,
    0xdddd_eeee_ffff_0001,
    0x0123_4567_89ab_cdef,
];

/// Calls the JITed function at `entry` with `ctx` while rbx and r12-r15
/// hold [`CANARIES`], as a C caller would keep values in them, and returns
/// its value and those registers after it returned.
///
/// # Safety
///
/// `entry` must be the main function of a loaded program that only reads
/// its context, and `ctx` what it reads.
pub(crate) unsafe fn call_with_canaries(entry: usize, ctx: *const u64) -> (u64, [u64; 5]) {
    let mut regs = [0u64; 5];
    let ret: u64;
    // SAFETY: rbx, which LLVM reserves, is saved and restored around the
    // call; r12-r15 are declared clobbered; the out pointer is kept on the
    // stack across the call. The callee follows the C calling convention,
    // as the kernel's own callers of BPF programs assume.
    unsafe {
        core::arch::asm!(
            "push rbx",
            "push {out}",
            "mov rbx, {c0}",
            "mov r12, {c1}",
            "mov r13, {c2}",
            "mov r14, {c3}",
            "mov r15, {c4}",
            "call rax",
            "pop rcx",
            "mov [rcx], rbx",
            "mov [rcx + 8], r12",
            "mov [rcx + 16], r13",
            "mov [rcx + 24], r14",
            "mov [rcx + 32], r15",
            "pop rbx",
            out = in(reg) regs.as_mut_ptr(),
            c0 = const CANARIES[0],
            c1 = const CANARIES[1],
            c2 = const CANARIES[2],
            c3 = const CANARIES[3],
            c4 = const CANARIES[4],
            inout("rax") entry => ret,
            in("rdi") ctx,
            in("rsi") 0usize,
            out("r12") _,
            out("r13") _,
            out("r14") _,
            out("r15") _,
            clobber_abi("C"),
        );
    }
    (ret, regs)
}

/// The suite `bpf_exceptions_x86_64`: the bytes the x86-64 JIT emits, one
/// KUnit case per `#[test]` (upstream's `#[kunit_tests]`, patches 19-21).
#[kunit_tests(bpf_exceptions_x86_64)]
mod suite {
    use crate::kunit::run;

    #[test]
    fn jit_ordinary() {
        run(super::jit_ordinary)
    }

    #[test]
    fn jit_exception_boundary_and_callback() {
        run(super::jit_exception_boundary_and_callback)
    }

    #[test]
    fn jit_tail_call() {
        run(super::jit_tail_call)
    }

    #[test]
    fn jit_tail_call_exception_boundary() {
        run(super::jit_tail_call_exception_boundary)
    }
}
