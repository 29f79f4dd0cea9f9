// SPDX-License-Identifier: GPL-2.0

//! BPF instructions as values, and the test programs built from them.
//!
//! [`Insn`] has the layout of the UAPI `struct bpf_insn`; each constructor
//! encodes one instruction the way the macros of `include/linux/filter.h` do.
//! [`throw_chain`] builds the programs of the KUnit suite: a main function
//! and a chain of static subprograms, the deepest of which calls
//! `bpf_throw()` when the program's context says so.
//!
//! This module uses no kernel types, so it also builds and is tested on the
//! host with `cargo test`.

/// A BPF register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Reg {
    /// Return value.
    R0 = 0,
    /// First argument.
    R1,
    /// Second argument.
    R2,
    /// Third argument.
    R3,
    /// Fourth argument.
    R4,
    /// Fifth argument.
    R5,
    /// Callee-saved.
    R6,
    /// Callee-saved.
    R7,
    /// Callee-saved.
    R8,
    /// Callee-saved.
    R9,
    /// Read-only frame pointer.
    R10,
}

// Opcode fields, from include/uapi/linux/bpf.h and bpf_common.h.
const BPF_LD: u8 = 0x00;
const BPF_LDX: u8 = 0x01;
const BPF_ST: u8 = 0x02;
const BPF_STX: u8 = 0x03;
const BPF_JMP: u8 = 0x05;
const BPF_ALU64: u8 = 0x07;
const BPF_W: u8 = 0x00;
const BPF_DW: u8 = 0x18;
const BPF_IMM: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
const BPF_ATOMIC: u8 = 0xc0;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_ADD: u8 = 0x00;
const BPF_MOV: u8 = 0xb0;
const BPF_JEQ: u8 = 0x10;
const BPF_JNE: u8 = 0x50;
const BPF_CALL: u8 = 0x80;
const BPF_EXIT: u8 = 0x90;

/// `src_reg` of a call to a function of the same program.
pub const BPF_PSEUDO_CALL: u8 = 1;
/// `src_reg` of a call to a kernel function named by BTF id.
pub const BPF_PSEUDO_KFUNC_CALL: u8 = 2;
/// `src_reg` of a 64-bit load whose immediate is a subprogram's offset.
pub const BPF_PSEUDO_FUNC: u8 = 4;
/// `src_reg` of a 64-bit load whose immediate is a map file descriptor.
pub const BPF_PSEUDO_MAP_FD: u8 = 1;
/// The helper `bpf_map_lookup_elem()`.
pub const BPF_FUNC_MAP_LOOKUP_ELEM: i32 = 1;

/// One BPF instruction, laid out as `struct bpf_insn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register in the low nibble, source in the high one.
    pub regs: u8,
    /// Signed offset.
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

const _: () = assert!(core::mem::size_of::<Insn>() == 8);

impl Insn {
    const fn new(code: u8, dst: Reg, src: u8, off: i16, imm: i32) -> Self {
        Self {
            code,
            regs: (dst as u8) | (src << 4),
            off,
            imm,
        }
    }

    /// `dst = imm`
    pub const fn mov64_imm(dst: Reg, imm: i32) -> Self {
        Self::new(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
    }

    /// `dst = src`
    pub const fn mov64_reg(dst: Reg, src: Reg) -> Self {
        Self::new(BPF_ALU64 | BPF_MOV | BPF_X, dst, src as u8, 0, 0)
    }

    /// `dst += imm`
    pub const fn add64_imm(dst: Reg, imm: i32) -> Self {
        Self::new(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm)
    }

    /// `dst = *(u64 *)(src + off)`
    pub const fn ldx_dw(dst: Reg, src: Reg, off: i16) -> Self {
        Self::new(BPF_LDX | BPF_MEM | BPF_DW, dst, src as u8, off, 0)
    }

    /// `dst = *(u32 *)(src + off)`
    pub const fn ldx_w(dst: Reg, src: Reg, off: i16) -> Self {
        Self::new(BPF_LDX | BPF_MEM | BPF_W, dst, src as u8, off, 0)
    }

    /// `*(u64 *)(dst + off) = src`
    pub const fn stx_dw(dst: Reg, src: Reg, off: i16) -> Self {
        Self::new(BPF_STX | BPF_MEM | BPF_DW, dst, src as u8, off, 0)
    }

    /// `*(u32 *)(dst + off) = imm`
    pub const fn st_w(dst: Reg, off: i16, imm: i32) -> Self {
        Self::new(BPF_ST | BPF_MEM | BPF_W, dst, 0, off, imm)
    }

    /// `*(u64 *)(dst + off) = imm`
    pub const fn st_dw(dst: Reg, off: i16, imm: i32) -> Self {
        Self::new(BPF_ST | BPF_MEM | BPF_DW, dst, 0, off, imm)
    }

    /// `lock *(u64 *)(dst + off) += src`
    pub const fn atomic_add_dw(dst: Reg, src: Reg, off: i16) -> Self {
        Self::new(
            BPF_STX | BPF_ATOMIC | BPF_DW,
            dst,
            src as u8,
            off,
            BPF_ADD as i32,
        )
    }

    /// `if dst == imm goto pc + 1 + off`
    pub const fn jeq_imm(dst: Reg, imm: i32, off: i16) -> Self {
        Self::new(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm)
    }

    /// `if dst != imm goto pc + 1 + off`
    pub const fn jne_imm(dst: Reg, imm: i32, off: i16) -> Self {
        Self::new(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
    }

    /// Call of helper number `id`.
    pub const fn call_helper(id: i32) -> Self {
        Self::new(BPF_JMP | BPF_CALL, Reg::R0, 0, 0, id)
    }

    /// Call of the subprogram that starts at `pc + 1 + rel`.
    pub const fn call_local(rel: i32) -> Self {
        Self::new(BPF_JMP | BPF_CALL, Reg::R0, BPF_PSEUDO_CALL, 0, rel)
    }

    /// Call of the vmlinux kfunc whose BTF id is `btf_id`.
    pub const fn call_kfunc(btf_id: i32) -> Self {
        Self::new(
            BPF_JMP | BPF_CALL,
            Reg::R0,
            BPF_PSEUDO_KFUNC_CALL,
            0,
            btf_id,
        )
    }

    /// `exit`
    pub const fn exit() -> Self {
        Self::new(BPF_JMP | BPF_EXIT, Reg::R0, 0, 0, 0)
    }

    /// `dst = &func` for the subprogram that starts at `pc + 1 + rel`, as a
    /// callback argument: two instruction slots.
    pub const fn ld_func(dst: Reg, rel: i32) -> [Self; 2] {
        [
            Self::new(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_FUNC, 0, rel),
            Self::new(0, Reg::R0, 0, 0, 0),
        ]
    }

    /// `dst = map` for the map open as `fd`: two instruction slots.
    pub const fn ld_map_fd(dst: Reg, fd: i32) -> [Self; 2] {
        [
            Self::new(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, fd),
            Self::new(0, Reg::R0, 0, 0, 0),
        ]
    }
}

/// The most instructions a test program has.
pub const MAX_INSNS: usize = 96;

/// A program being built: a fixed buffer, so that it needs no allocator.
#[derive(Debug, Clone)]
pub struct Program {
    insns: [Insn; MAX_INSNS],
    len: usize,
}

/// The program does not fit in [`MAX_INSNS`] instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

impl Program {
    /// An empty program.
    pub const fn new() -> Self {
        Self {
            insns: [Insn {
                code: 0,
                regs: 0,
                off: 0,
                imm: 0,
            }; MAX_INSNS],
            len: 0,
        }
    }

    /// The instructions so far.
    pub fn insns(&self) -> &[Insn] {
        &self.insns[..self.len]
    }

    /// The index the next instruction gets.
    pub fn pc(&self) -> usize {
        self.len
    }

    /// Appends instructions.
    pub fn push(&mut self, insns: &[Insn]) -> Result<(), TooLong> {
        let end = self.len + insns.len();
        self.insns
            .get_mut(self.len..end)
            .ok_or(TooLong)?
            .copy_from_slice(insns);
        self.len = end;
        Ok(())
    }

    fn set_imm(&mut self, pc: usize, imm: i32) {
        self.insns[pc].imm = imm;
    }
}

impl Default for Program {
    fn default() -> Self {
        Self::new()
    }
}

/// The deepest chain: the main function and seven subprograms fill the
/// verifier's eight call frames.
pub const MAX_DEPTH: u32 = 7;

/// What the main function adds to the chain's value when nothing throws.
pub const NORMAL_BASE: u32 = 100;

/// A program of [`throw_chain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chain {
    /// Number of subprograms between the main function and the throw site.
    pub depth: u32,
    /// What `bpf_throw()` is called with.
    pub cookie: i32,
    /// BTF id of `bpf_throw()` in vmlinux.
    pub throw_btf_id: i32,
    /// An array map whose element 0 the main function increments on every
    /// run, to count runs and to give the program a map reference.
    pub counter_map_fd: Option<i32>,
}

impl Chain {
    /// What the program returns when the context does not ask for a throw.
    pub const fn normal_return(&self) -> u32 {
        NORMAL_BASE + self.depth
    }
}

/// Builds the program that `chain` describes.
///
/// The context is one `u64`; it is passed down the chain in R1, and the
/// deepest function throws `chain.cookie` when it is not zero. With depth 0
/// the main function itself throws. Each subprogram spills and reloads its
/// argument, so that every frame has a stack, and clobbers one of R6-R9,
/// so that it saves that register. Without a throw, the deepest
/// subprogram returns 1, each one above it adds 1 and the main function adds
/// [`NORMAL_BASE`], which gives [`Chain::normal_return`]; with depth 0 the
/// main function returns [`NORMAL_BASE`] itself.
pub fn throw_chain(chain: &Chain) -> Result<Program, TooLong> {
    use Reg::*;

    if chain.depth > MAX_DEPTH {
        return Err(TooLong);
    }
    let mut p = Program::new();
    // Main function: r6 = *(u64 *)ctx.
    p.push(&[Insn::ldx_dw(R6, R1, 0)])?;
    if let Some(fd) = chain.counter_map_fd {
        p.push(&Insn::ld_map_fd(R1, fd))?;
        p.push(&[
            Insn::st_w(R10, -4, 0),
            Insn::mov64_reg(R2, R10),
            Insn::add64_imm(R2, -4),
            Insn::call_helper(BPF_FUNC_MAP_LOOKUP_ELEM),
            Insn::jeq_imm(R0, 0, 2),
            Insn::mov64_imm(R1, 1),
            Insn::atomic_add_dw(R0, R1, 0),
        ])?;
    }
    p.push(&[Insn::mov64_reg(R1, R6)])?;
    if chain.depth == 0 {
        throw_site(&mut p, chain, NORMAL_BASE as i32)?;
        return Ok(p);
    }
    let mut call = p.pc();
    p.push(&[
        Insn::call_local(0),
        Insn::add64_imm(R0, NORMAL_BASE as i32),
        Insn::exit(),
    ])?;
    for level in 1..=chain.depth {
        // The pending call lands on this subprogram's first instruction.
        let rel = p.pc() as i32 - call as i32 - 1;
        p.set_imm(call, rel);
        p.push(&[Insn::stx_dw(R10, R1, -8), Insn::ldx_dw(R1, R10, -8)])?;
        // Clobber a callee-saved register, a different one at each level,
        // so that each frame saves one for the unwinder to restore.
        let clobbered = [R7, R8, R9, R6][(level as usize - 1) % 4];
        p.push(&[Insn::mov64_imm(clobbered, -(level as i32))])?;
        if level == chain.depth {
            throw_site(&mut p, chain, 1)?;
        } else {
            call = p.pc();
            p.push(&[Insn::call_local(0), Insn::add64_imm(R0, 1), Insn::exit()])?;
        }
    }
    Ok(p)
}

/// `if r1 == 0 goto normal; r1 = cookie; bpf_throw(); normal: return value;`
fn throw_site(p: &mut Program, chain: &Chain, value: i32) -> Result<(), TooLong> {
    use Reg::*;
    p.push(&[
        Insn::jeq_imm(R1, 0, 2),
        Insn::mov64_imm(R1, chain.cookie),
        Insn::call_kfunc(chain.throw_btf_id),
        Insn::mov64_imm(R0, value),
        Insn::exit(),
    ])
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec::Vec;

    fn bytes(insns: &[Insn]) -> Vec<u8> {
        insns
            .iter()
            .flat_map(|i| {
                let mut b = [0u8; 8];
                b[0] = i.code;
                b[1] = i.regs;
                b[2..4].copy_from_slice(&i.off.to_le_bytes());
                b[4..8].copy_from_slice(&i.imm.to_le_bytes());
                b
            })
            .collect()
    }

    /// Encodings as `llvm-objdump -d` prints them for `clang -target bpf`.
    #[test]
    fn encodings() {
        use Reg::*;
        let cases: &[(Insn, [u8; 8])] = &[
            (Insn::mov64_imm(R0, 1), [0xb7, 0x00, 0, 0, 0x01, 0, 0, 0]),
            (Insn::mov64_reg(R1, R6), [0xbf, 0x61, 0, 0, 0, 0, 0, 0]),
            (
                Insn::add64_imm(R2, -4),
                [0x07, 0x02, 0, 0, 0xfc, 0xff, 0xff, 0xff],
            ),
            (Insn::ldx_dw(R6, R1, 0), [0x79, 0x16, 0, 0, 0, 0, 0, 0]),
            (Insn::ldx_w(R6, R1, 0), [0x61, 0x16, 0, 0, 0, 0, 0, 0]),
            (
                Insn::stx_dw(R10, R1, -8),
                [0x7b, 0x1a, 0xf8, 0xff, 0, 0, 0, 0],
            ),
            (Insn::st_w(R10, -4, 0), [0x62, 0x0a, 0xfc, 0xff, 0, 0, 0, 0]),
            (
                Insn::st_dw(R10, -8, 0),
                [0x7a, 0x0a, 0xf8, 0xff, 0, 0, 0, 0],
            ),
            (Insn::mov64_imm(R0, 0), [0xb7, 0x00, 0, 0, 0, 0, 0, 0]),
            (
                Insn::atomic_add_dw(R0, R1, 0),
                [0xdb, 0x10, 0, 0, 0, 0, 0, 0],
            ),
            (
                Insn::jeq_imm(R1, 0, 2),
                [0x15, 0x01, 0x02, 0x00, 0, 0, 0, 0],
            ),
            (Insn::call_helper(1), [0x85, 0x00, 0, 0, 0x01, 0, 0, 0]),
            (Insn::call_local(3), [0x85, 0x10, 0, 0, 0x03, 0, 0, 0]),
            (
                Insn::call_kfunc(0x1234),
                [0x85, 0x20, 0, 0, 0x34, 0x12, 0, 0],
            ),
            (Insn::exit(), [0x95, 0, 0, 0, 0, 0, 0, 0]),
        ];
        for (insn, want) in cases {
            assert_eq!(bytes(&[*insn]), want, "{insn:?}");
        }
        assert_eq!(
            bytes(&Insn::ld_map_fd(R1, 5)),
            [0x18, 0x11, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    fn chain(depth: u32) -> Chain {
        Chain {
            depth,
            cookie: 0x5eed,
            throw_btf_id: 42,
            counter_map_fd: None,
        }
    }

    /// Follows the pseudo calls from the first instruction and returns the
    /// functions' first instructions, outermost first.
    fn call_chain(p: &Program) -> Vec<usize> {
        let mut starts = std::vec![0];
        let mut pc = 0;
        while pc < p.insns().len() {
            let i = p.insns()[pc];
            if i.code == 0x85 && i.regs >> 4 == BPF_PSEUDO_CALL {
                let target = (pc as i32 + 1 + i.imm) as usize;
                assert!(target > pc && target < p.insns().len());
                starts.push(target);
                pc = target;
            } else {
                pc += 1;
            }
        }
        starts
    }

    #[test]
    fn chain_has_one_function_per_level() {
        for depth in 0..=MAX_DEPTH {
            let p = throw_chain(&chain(depth)).unwrap();
            assert_eq!(call_chain(&p).len() as u32, depth + 1);
            // Exactly one bpf_throw call, with the cookie loaded just before.
            let throws: Vec<usize> = (0..p.insns().len())
                .filter(|&pc| p.insns()[pc] == Insn::call_kfunc(42))
                .collect();
            assert_eq!(throws.len(), 1);
            assert_eq!(p.insns()[throws[0] - 1], Insn::mov64_imm(Reg::R1, 0x5eed));
            // Every function ends in exit.
            assert_eq!(p.insns().last(), Some(&Insn::exit()));
        }
    }

    #[test]
    fn throw_site_is_in_deepest_function() {
        let p = throw_chain(&chain(3)).unwrap();
        let deepest = *call_chain(&p).last().unwrap();
        let site = p
            .insns()
            .iter()
            .position(|i| *i == Insn::call_kfunc(42))
            .unwrap();
        assert!(site > deepest);
    }

    #[test]
    fn normal_values() {
        assert_eq!(chain(0).normal_return(), 100);
        assert_eq!(chain(7).normal_return(), 107);
    }

    /// How a run of [`eval`] ends.
    #[derive(Debug, PartialEq, Eq)]
    enum Outcome {
        Returned(u64),
        Threw(u64),
    }

    /// Runs a program of the instructions [`throw_chain`] uses, with `ctx`
    /// as its one-word context and every map lookup failing: a reference
    /// for what the kernel must return.
    fn eval(p: &Program, ctx: u64) -> Outcome {
        // Per frame: registers, a 64-byte stack and the return pc.
        let mut frames: Vec<([u64; 11], [u8; 64], usize)> = Vec::new();
        let mut regs = [0u64; 11];
        let mut stack = [0u8; 64];
        let ctx = [ctx];
        regs[1] = ctx.as_ptr() as u64;
        regs[10] = 64; // frame pointer: offset into `stack`
        let mut pc = 0;
        for _ in 0..10_000 {
            let i = p.insns()[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                0xb7 => regs[dst] = i.imm as i64 as u64,
                0xbf => regs[dst] = regs[src],
                0x07 => regs[dst] = regs[dst].wrapping_add(i.imm as i64 as u64),
                0x79 if src == 1 => regs[dst] = ctx[0],
                0x79 => {
                    let at = (regs[src] as i64 + i.off as i64) as usize;
                    regs[dst] = u64::from_le_bytes(stack[at..at + 8].try_into().unwrap());
                }
                0x7b => {
                    let at = (regs[dst] as i64 + i.off as i64) as usize;
                    stack[at..at + 8].copy_from_slice(&regs[src].to_le_bytes());
                }
                0x62 => {}
                0x15 if regs[dst] == i.imm as i64 as u64 => {
                    pc = (pc as i64 + i.off as i64) as usize
                }
                0x15 => {}
                0x18 => pc += 1,
                0x85 if src == BPF_PSEUDO_KFUNC_CALL as usize => return Outcome::Threw(regs[1]),
                0x85 if src == BPF_PSEUDO_CALL as usize => {
                    frames.push((regs, stack, pc));
                    let r1 = regs[1];
                    (regs, stack) = ([0; 11], [0; 64]);
                    (regs[1], regs[10]) = (r1, 64);
                    pc = (pc as i64 + i.imm as i64) as usize;
                }
                0x85 => regs[0] = 0, // bpf_map_lookup_elem() finds nothing
                0x95 => match frames.pop() {
                    None => return Outcome::Returned(regs[0]),
                    Some((r, s, ret)) => {
                        let r0 = regs[0];
                        (regs, stack, pc) = (r, s, ret);
                        regs[0] = r0;
                    }
                },
                code => panic!("eval: opcode {code:#x} at {}", pc - 1),
            }
        }
        panic!("eval: no exit");
    }

    #[test]
    fn chains_return_what_the_suite_expects() {
        for depth in 0..=MAX_DEPTH {
            for map in [None, Some(3)] {
                let c = Chain {
                    counter_map_fd: map,
                    ..chain(depth)
                };
                let p = throw_chain(&c).unwrap();
                assert_eq!(
                    eval(&p, 0),
                    Outcome::Returned(c.normal_return() as u64),
                    "depth {depth}"
                );
                assert_eq!(
                    eval(&p, 1),
                    Outcome::Threw(c.cookie as u64),
                    "depth {depth}"
                );
            }
        }
    }

    #[test]
    fn counter_map_prologue() {
        let mut c = chain(2);
        c.counter_map_fd = Some(9);
        let p = throw_chain(&c).unwrap();
        assert_eq!(&p.insns()[1..3], &Insn::ld_map_fd(Reg::R1, 9));
        assert_eq!(call_chain(&p).len(), 3);
    }

    #[test]
    fn too_deep_or_too_long() {
        assert_eq!(throw_chain(&chain(8)).unwrap_err(), TooLong);
        let mut p = Program::new();
        assert_eq!(p.push(&[Insn::exit(); MAX_INSNS + 1]), Err(TooLong));
        assert_eq!(p.push(&[Insn::exit(); MAX_INSNS]), Ok(()));
        assert_eq!(p.push(&[Insn::exit()]), Err(TooLong));
    }
}
