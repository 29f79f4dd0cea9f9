// SPDX-License-Identifier: GPL-2.0

//! x86-64 instructions as values, for the BPF JIT's prologue and epilogue.
//!
//! Each [`Insn`] encodes itself into at most [`MAX_INSN_LEN`] bytes; [`Code`]
//! appends them to a fixed buffer and remembers whether anything did not
//! fit. Only the instructions the prologue and epilogue need are here, each
//! checked against `llvm-mc -show-encoding` by the tests.
//!
//! This module uses no kernel types, so it also builds and is tested on the
//! host with `cargo test`.

/// A general-purpose register, numbered as in the ModRM and REX encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Reg {
    /// rax
    Rax = 0,
    /// rcx
    Rcx,
    /// rdx
    Rdx,
    /// rbx
    Rbx,
    /// rsp
    Rsp,
    /// rbp
    Rbp,
    /// rsi
    Rsi,
    /// rdi
    Rdi,
    /// r8
    R8,
    /// r9
    R9,
    /// r10
    R10,
    /// r11
    R11,
    /// r12
    R12,
    /// r13
    R13,
    /// r14
    R14,
    /// r15
    R15,
}

impl Reg {
    /// The low three bits, as in ModRM and in `push`/`pop`.
    const fn low(self) -> u8 {
        self as u8 & 7
    }

    /// Whether the register needs a REX extension bit.
    const fn ext(self) -> bool {
        self as u8 >= 8
    }
}

/// One instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insn {
    /// `push reg`
    Push(Reg),
    /// `pop reg`
    Pop(Reg),
    /// `mov dst, src` (64-bit)
    Mov(Reg, Reg),
    /// `xor dst, src` (64-bit)
    Xor(Reg, Reg),
    /// `sub dst, imm32` (64-bit, sign-extended)
    SubImm32(Reg, i32),
    /// `add dst, imm32` (64-bit, sign-extended)
    AddImm32(Reg, i32),
    /// `cmp dst, imm8` (64-bit, sign-extended)
    CmpImm8(Reg, i8),
    /// `ja rel8`
    Ja8(i8),
    /// `jmp rel8`
    Jmp8(i8),
    /// `leave`
    Leave,
    /// `endbr64`
    Endbr64,
    /// The kernel's 3-byte nop, `nopl (%rax)`.
    Nop3,
    /// The kernel's 5-byte nop, `nopl 0x0(%rax,%rax,1)`: the patch site of
    /// BPF trampolines.
    Nop5,
}

/// The longest encoding of an [`Insn`].
pub const MAX_INSN_LEN: usize = 7;

/// An encoded instruction: bytes and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoded {
    bytes: [u8; MAX_INSN_LEN],
    len: usize,
}

impl Encoded {
    fn new(parts: &[u8]) -> Self {
        let mut bytes = [0; MAX_INSN_LEN];
        bytes[..parts.len()].copy_from_slice(parts);
        Self {
            bytes,
            len: parts.len(),
        }
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// REX prefix: W for 64-bit operands, R extends ModRM.reg, B extends
/// ModRM.rm or the opcode register.
const fn rex(w: bool, r: bool, b: bool) -> u8 {
    0x40 | ((w as u8) << 3) | ((r as u8) << 2) | (b as u8)
}

/// ModRM for a register-direct operand.
const fn modrm_reg(reg: u8, rm: Reg) -> u8 {
    0xc0 | ((reg & 7) << 3) | rm.low()
}

impl Insn {
    /// Encodes the instruction.
    pub fn encode(self) -> Encoded {
        match self {
            Insn::Push(r) => push_pop(0x50, r),
            Insn::Pop(r) => push_pop(0x58, r),
            Insn::Mov(dst, src) => alu_rr(0x89, dst, src),
            Insn::Xor(dst, src) => alu_rr(0x31, dst, src),
            Insn::SubImm32(dst, imm) => alu_imm32(5, dst, imm),
            Insn::AddImm32(dst, imm) => alu_imm32(0, dst, imm),
            Insn::CmpImm8(dst, imm) => Encoded::new(&[
                rex(true, false, dst.ext()),
                0x83,
                modrm_reg(7, dst),
                imm as u8,
            ]),
            Insn::Ja8(rel) => Encoded::new(&[0x77, rel as u8]),
            Insn::Jmp8(rel) => Encoded::new(&[0xeb, rel as u8]),
            Insn::Leave => Encoded::new(&[0xc9]),
            Insn::Endbr64 => Encoded::new(&[0xf3, 0x0f, 0x1e, 0xfa]),
            Insn::Nop3 => Encoded::new(&[0x0f, 0x1f, 0x00]),
            Insn::Nop5 => Encoded::new(&[0x0f, 0x1f, 0x44, 0x00, 0x00]),
        }
    }
}

/// `push`/`pop`: the opcode carries the register, REX.B extends it.
fn push_pop(opcode: u8, r: Reg) -> Encoded {
    if r.ext() {
        Encoded::new(&[rex(false, false, true), opcode + r.low()])
    } else {
        Encoded::new(&[opcode + r.low()])
    }
}

/// A 64-bit `op r/m64, r64` with both operands registers.
fn alu_rr(opcode: u8, dst: Reg, src: Reg) -> Encoded {
    Encoded::new(&[
        rex(true, src.ext(), dst.ext()),
        opcode,
        modrm_reg(src as u8, dst),
    ])
}

/// A 64-bit group-1 `op r/m64, imm32` (`81 /ext id`).
fn alu_imm32(ext: u8, dst: Reg, imm: i32) -> Encoded {
    let i = imm.to_le_bytes();
    Encoded::new(&[
        rex(true, false, dst.ext()),
        0x81,
        modrm_reg(ext, dst),
        i[0],
        i[1],
        i[2],
        i[3],
    ])
}

/// The code does not fit in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// Instructions appended to a caller's buffer.
pub struct Code<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> Code<'a> {
    /// Emits into `buf`, from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            len: 0,
            overflow: false,
        }
    }

    /// Appends `insn`; past the end of the buffer, nothing more is written.
    pub fn emit(&mut self, insn: Insn) -> &mut Self {
        let e = insn.encode();
        match self.buf.get_mut(self.len..self.len + e.len) {
            Some(dst) if !self.overflow => {
                dst.copy_from_slice(e.as_bytes());
                self.len += e.len;
            }
            _ => self.overflow = true,
        }
        self
    }

    /// The number of bytes written, or [`Overflow`] if anything did not fit.
    pub fn finish(&self) -> Result<usize, Overflow> {
        if self.overflow {
            Err(Overflow)
        } else {
            Ok(self.len)
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::{Insn::*, Reg::*, *};
    use std::{format, string::String, vec::Vec};

    /// Encodings printed by `llvm-mc -triple=x86_64 -show-encoding` (LLVM 19)
    /// for the same instructions in AT&T syntax, in the comment.
    #[test]
    fn encodings_match_llvm_mc() {
        let cases: &[(Insn, &[u8])] = &[
            (Push(Rbx), &[0x53]),                                          // push %rbx
            (Push(R12), &[0x41, 0x54]),                                    // push %r12
            (Push(R13), &[0x41, 0x55]),                                    // push %r13
            (Push(R14), &[0x41, 0x56]),                                    // push %r14
            (Push(R15), &[0x41, 0x57]),                                    // push %r15
            (Push(Rbp), &[0x55]),                                          // push %rbp
            (Push(Rax), &[0x50]),                                          // push %rax
            (Pop(Rbx), &[0x5b]),                                           // pop %rbx
            (Pop(R12), &[0x41, 0x5c]),                                     // pop %r12
            (Pop(R13), &[0x41, 0x5d]),                                     // pop %r13
            (Pop(R14), &[0x41, 0x5e]),                                     // pop %r14
            (Pop(R15), &[0x41, 0x5f]),                                     // pop %r15
            (Pop(Rax), &[0x58]),                                           // pop %rax
            (Mov(Rsp, Rsi), &[0x48, 0x89, 0xf4]),                          // mov %rsi,%rsp
            (Mov(Rbp, Rdx), &[0x48, 0x89, 0xd5]),                          // mov %rdx,%rbp
            (Mov(Rsp, Rbp), &[0x48, 0x89, 0xec]),                          // mov %rbp,%rsp
            (Mov(Rbp, Rsp), &[0x48, 0x89, 0xe5]),                          // mov %rsp,%rbp
            (Mov(Rax, Rsp), &[0x48, 0x89, 0xe0]),                          // mov %rsp,%rax
            (Mov(Rsp, R12), &[0x4c, 0x89, 0xe4]),                          // mov %r12,%rsp
            (Xor(Rax, Rax), &[0x48, 0x31, 0xc0]),                          // xor %rax,%rax
            (SubImm32(Rsp, 0x208), &[0x48, 0x81, 0xec, 0x08, 0x02, 0, 0]), // sub $0x208,%rsp
            (AddImm32(Rsp, 0x208), &[0x48, 0x81, 0xc4, 0x08, 0x02, 0, 0]), // add $0x208,%rsp
            (CmpImm8(Rax, 33), &[0x48, 0x83, 0xf8, 0x21]),                 // cmp $33,%rax
            (Ja8(6), &[0x77, 0x06]),                                       // ja .+8
            (Jmp8(1), &[0xeb, 0x01]),                                      // jmp .+3
            (Endbr64, &[0xf3, 0x0f, 0x1e, 0xfa]),                          // endbr64
            (Leave, &[0xc9]),                                              // leave
            (Nop3, &[0x0f, 0x1f, 0x00]),                                   // nopl (%rax)
            (Nop5, &[0x0f, 0x1f, 0x44, 0x00, 0x00]),                       // nopl 0x0(%rax,%rax,1)
        ];
        for (insn, want) in cases {
            assert_eq!(insn.encode().as_bytes(), *want, "{insn:?}");
        }
    }

    #[test]
    fn extended_registers_get_rex() {
        assert_eq!(Mov(R12, R15).encode().as_bytes(), &[0x4d, 0x89, 0xfc]);
        assert_eq!(Xor(R8, Rax).encode().as_bytes(), &[0x49, 0x31, 0xc0]);
        assert_eq!(
            CmpImm8(R9, -1).encode().as_bytes(),
            &[0x49, 0x83, 0xf9, 0xff]
        );
        assert_eq!(
            SubImm32(R10, -8).encode().as_bytes(),
            &[0x49, 0x81, 0xea, 0xf8, 0xff, 0xff, 0xff]
        );
    }

    /// xorshift64*: deterministic randomness for the llvm-mc comparison.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    const REGS: [Reg; 16] = [
        Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8, R9, R10, R11, R12, R13, R14, R15,
    ];

    fn name(r: Reg) -> &'static str {
        [
            "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11",
            "r12", "r13", "r14", "r15",
        ][r as usize]
    }

    /// A random instruction, every kind, register and immediate alike.
    fn random_insn(rng: &mut Rng) -> Insn {
        let r = |rng: &mut Rng| REGS[(rng.next() % 16) as usize];
        let imm32 = |rng: &mut Rng| match rng.next() % 4 {
            0 => i32::MIN,
            1 => i32::MAX,
            2 => (rng.next() % 256) as i32 - 128,
            _ => rng.next() as i32,
        };
        match rng.next() % 13 {
            0 => Push(r(rng)),
            1 => Pop(r(rng)),
            2 => Mov(r(rng), r(rng)),
            3 => Xor(r(rng), r(rng)),
            4 => SubImm32(r(rng), imm32(rng)),
            5 => AddImm32(r(rng), imm32(rng)),
            6 => CmpImm8(r(rng), rng.next() as i8),
            7 => Ja8(rng.next() as i8),
            8 => Jmp8(rng.next() as i8),
            9 => Leave,
            10 => Endbr64,
            11 => Nop3,
            _ => Nop5,
        }
    }

    /// The instruction in AT&T syntax, as `llvm-mc --disassemble` prints it.
    fn att(insn: Insn) -> String {
        match insn {
            Push(r) => format!("pushq %{}", name(r)),
            Pop(r) => format!("popq %{}", name(r)),
            Mov(d, s) => format!("movq %{}, %{}", name(s), name(d)),
            Xor(d, s) => format!("xorq %{}, %{}", name(s), name(d)),
            SubImm32(d, i) => format!("subq ${i}, %{}", name(d)),
            AddImm32(d, i) => format!("addq ${i}, %{}", name(d)),
            CmpImm8(d, i) => format!("cmpq ${i}, %{}", name(d)),
            Ja8(rel) => format!("ja {rel}"),
            Jmp8(rel) => format!("jmp {rel}"),
            Leave => "leave".into(),
            Endbr64 => "endbr64".into(),
            Nop3 => "nopl (%rax)".into(),
            Nop5 => "nopl (%rax,%rax)".into(),
        }
    }

    /// Runs llvm-mc (`$LLVM_MC`, else `llvm-mc`) with `args` on `input`; its
    /// lines that are neither blank nor directives, blanks squeezed. `None`
    /// when there is no llvm-mc and `BPFEXC_REQUIRE_LLVM_MC` is not set
    /// (make check sets it).
    fn llvm_mc(args: &[&str], input: &str) -> Option<Vec<String>> {
        use std::io::Write;
        let prog = std::env::var("LLVM_MC").unwrap_or_else(|_| "llvm-mc".into());
        let child = std::process::Command::new(&prog)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) if std::env::var_os("BPFEXC_REQUIRE_LLVM_MC").is_none() => {
                std::eprintln!("skipped: cannot run {prog}: {e}");
                return None;
            }
            Err(e) => panic!("cannot run {prog}: {e}"),
        };
        let mut stdin = child.stdin.take().unwrap();
        let input = String::from(input);
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.is_empty(),
            "{prog} {args:?}: {err}"
        );
        let text = String::from_utf8(out.stdout).unwrap();
        Some(
            text.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|l| !l.is_empty() && !l.starts_with('.'))
                .collect(),
        )
    }

    /// 5000 random instructions. llvm-mc disassembles our bytes, back to
    /// back, into exactly these instructions (so every length is right
    /// too); and it assembles each of them that has only one encoding (all
    /// but the imm32 ALU forms, which it shortens, the jumps, whose targets
    /// it takes as labels, and the 5-byte nop, whose zero displacement it
    /// drops) into our bytes.
    #[test]
    fn random_instructions_match_llvm_mc() {
        let mut rng = Rng(0x6a09_e667_f3bc_c908);
        let insns: Vec<Insn> = (0..5000).map(|_| random_insn(&mut rng)).collect();
        let hex: Vec<String> = insns
            .iter()
            .flat_map(|i| i.encode().as_bytes().to_vec())
            .map(|b| format!("0x{b:02x}"))
            .collect();
        let Some(dis) = llvm_mc(&["--disassemble", "-triple=x86_64"], &hex.join(" ")) else {
            return;
        };
        assert_eq!(dis.len(), insns.len());
        for (insn, line) in insns.iter().zip(&dis) {
            // "subq $520, %rsp # imm = 0x208": without the comment.
            let got = line.split(" #").next().unwrap();
            assert_eq!(
                got,
                att(*insn),
                "{insn:?} {:02x?}",
                insn.encode().as_bytes()
            );
        }

        let unique: Vec<Insn> = insns
            .iter()
            .copied()
            .filter(|i| !matches!(i, SubImm32(..) | AddImm32(..) | Ja8(_) | Jmp8(_) | Nop5))
            .collect();
        let src: Vec<String> = unique.iter().map(|i| att(*i)).collect();
        let asm = llvm_mc(&["-triple=x86_64", "-show-encoding"], &src.join("\n")).unwrap();
        assert_eq!(asm.len(), unique.len());
        for (insn, line) in unique.iter().zip(&asm) {
            // "pushq %rbx # encoding: [0x53]"
            let list = line
                .split("encoding: [")
                .nth(1)
                .unwrap()
                .trim_end_matches(']');
            let got: Vec<u8> = list
                .split(',')
                .map(|b| u8::from_str_radix(b.trim_start_matches("0x"), 16).unwrap())
                .collect();
            assert_eq!(got, insn.encode().as_bytes(), "{insn:?}: {line}");
        }
    }

    #[test]
    fn code_appends_and_stops_at_the_end() {
        let mut buf = [0u8; 4];
        let mut c = Code::new(&mut buf);
        c.emit(Push(Rbp)).emit(Mov(Rbp, Rsp));
        assert_eq!(c.finish(), Ok(4));
        assert_eq!(buf, [0x55, 0x48, 0x89, 0xe5]);

        let mut buf = [0u8; 4];
        let mut c = Code::new(&mut buf);
        c.emit(Push(Rbp)).emit(Nop5).emit(Leave);
        assert_eq!(c.finish(), Err(Overflow));
        // Nothing after the first instruction that did not fit.
        assert_eq!(buf, [0x55, 0, 0, 0]);
    }
}
