// SPDX-License-Identifier: GPL-2.0

//! The x86-64 BPF JIT's prologue and its callee-saved register restore.
//!
//! Every JITed BPF function starts the same way (the layout that BPF
//! trampolines and tail calls rely on):
//!
//! ```text
//!   nop5                  patch site for trampolines
//!   xor rax, rax | nop3   tail call count of the main program, or padding
//!   push rbp              frame record: the unwinder of bpf_throw() walks
//!   mov rbp, rsp          these
//!   [endbr64]             X86_TAIL_CALL_OFFSET: tail calls land here
//!   sub rsp, stack        BPF stack, rounded up to 8
//!   [tail call count]     see below
//!   push r12, callee-saved
//! ```
//!
//! Every function saves only what it uses, an exception boundary (a main
//! program that can throw) included: `bpf_throw()` restores the caller's
//! callee-saved registers from the save areas of the frames it unwinds (see
//! [`crate::unwind`]), so a program that can throw runs the same code as one
//! that cannot. An exception callback does not build a frame: it is entered
//! with those registers restored and the boundary's frame pointer as its
//! third argument, and reuses the boundary's frame, from which it returns.
//!
//! This module uses no kernel types, so it also builds and is tested on the
//! host with `cargo test`.

use crate::{
    unwind::{Saved, SavedRegs},
    x86::{Code, Insn, Insn::*, Overflow, Reg, Reg::*},
};

/// The callee-saved registers that BPF's R6 to R9 live in, in push order.
pub const CALLEE_SAVED: [Reg; 4] = [Rbx, R13, R14, R15];

/// `MAX_TAIL_CALL_CNT` of include/linux/bpf.h.
pub const MAX_TAIL_CALL_CNT: i8 = 33;

/// What the JIT knows about the function it is emitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Frame {
    /// BPF stack size in bytes.
    pub stack_depth: u32,
    /// Translated from classic BPF: no tail call count slot.
    pub from_cbpf: bool,
    /// A tail call may happen in this function or below it.
    pub tail_call_reachable: bool,
    /// A subprogram, not the program's main function.
    pub is_subprog: bool,
    /// The program's exception callback.
    pub exception_cb: bool,
    /// The program uses an arena: r12 holds its base.
    pub arena: bool,
    /// Which of [`CALLEE_SAVED`] the function uses.
    pub callee_regs_used: [bool; 4],
    /// Indirect branch tracking: tail calls land on an `endbr64`.
    pub ibt: bool,
}

impl Frame {
    /// What the prologue saves, as the unwinder of `bpf_throw()` reads it.
    pub fn saved_regs(&self) -> SavedRegs {
        let mut s = SavedRegs::default();
        for (reg, used) in [Saved::Rbx, Saved::R13, Saved::R14, Saved::R15]
            .into_iter()
            .zip(self.callee_regs_used)
        {
            if used {
                s = s.with(reg);
            }
        }
        if self.arena {
            s = s.with(Saved::R12);
        }
        s
    }
}

fn push_saved(c: &mut Code<'_>, regs: [bool; 4], r12: bool) {
    if r12 {
        c.emit(Push(R12));
    }
    for (reg, used) in CALLEE_SAVED.iter().zip(regs) {
        if used {
            c.emit(Push(*reg));
        }
    }
}

fn pop_saved(c: &mut Code<'_>, regs: [bool; 4], r12: bool) {
    for (reg, used) in CALLEE_SAVED.iter().zip(regs).rev() {
        if used {
            c.emit(Pop(*reg));
        }
    }
    if r12 {
        c.emit(Pop(R12));
    }
}

/// Rounds the BPF stack size up to the 8 bytes the JIT allocates.
fn stack_bytes(depth: u32) -> i32 {
    (depth.next_multiple_of(8)).min(i32::MAX as u32) as i32
}

/// The tail call count slots, after `sub rsp`.
///
/// The main program enters with the count in rax (zeroed by its prologue,
/// or the caller's count when it is itself tail called) or, when a subprogram
/// tail called it, with a pointer to the count. It keeps the count in a slot
/// and a pointer to it in the next one. A subprogram gets the pointer in rax
/// and keeps it in both slots.
fn tail_call_slots(c: &mut Code<'_>, is_subprog: bool) {
    if is_subprog {
        c.emit(Push(Rax)).emit(Push(Rax));
        return;
    }
    let seq: [Insn; 7] = [
        CmpImm8(Rax, MAX_TAIL_CALL_CNT),
        Ja8(6),        // rax is a pointer: to the second push rax
        Push(Rax),     // the count
        Mov(Rax, Rsp), // rax = &count
        Jmp8(1),
        Push(Rax), // the caller's pointer
        Push(Rax), // the pointer to the count
    ];
    for insn in seq {
        c.emit(insn);
    }
}

/// Emits the prologue of the function `f` describes, up to and including
/// the saving of callee-saved registers. The CFI preamble before it and the
/// loading of an arena base into r12 after it are the caller's.
pub fn prologue(f: &Frame, c: &mut Code<'_>) -> Result<usize, Overflow> {
    c.emit(Nop5);
    if !f.from_cbpf {
        if f.tail_call_reachable && !f.is_subprog {
            c.emit(Xor(Rax, Rax));
        } else {
            c.emit(Nop3);
        }
    }
    if f.exception_cb {
        // bpf_exception_cb(cookie, sp, bp), entered by bpf_throw() with the
        // callee-saved registers of the program's caller: take over the
        // boundary's frame.
        c.emit(Mov(Rbp, Rdx)).emit(Mov(Rsp, Rbp));
    } else {
        c.emit(Push(Rbp)).emit(Mov(Rbp, Rsp));
    }
    if f.ibt {
        c.emit(Endbr64);
    }
    if f.stack_depth != 0 {
        c.emit(SubImm32(Rsp, stack_bytes(f.stack_depth)));
    }
    if f.tail_call_reachable {
        tail_call_slots(c, f.is_subprog);
    }
    push_saved(c, f.callee_regs_used, f.arena);
    c.finish()
}

/// Emits the restore of the callee-saved registers that [`prologue`] saved,
/// for the exit and tail call paths.
pub fn restore_callee_saved(f: &Frame, c: &mut Code<'_>) -> Result<usize, Overflow> {
    pop_saved(c, f.callee_regs_used, f.arena);
    c.finish()
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec::Vec;

    fn emit(f: &Frame, which: fn(&Frame, &mut Code<'_>) -> Result<usize, Overflow>) -> Vec<u8> {
        let mut buf = [0u8; 128];
        let mut c = Code::new(&mut buf);
        let n = which(f, &mut c).unwrap();
        buf[..n].to_vec()
    }

    const NOP5: [u8; 5] = [0x0f, 0x1f, 0x44, 0x00, 0x00];
    const NOP3: [u8; 3] = [0x0f, 0x1f, 0x00];
    const FRAME: [u8; 4] = [0x55, 0x48, 0x89, 0xe5]; // push rbp; mov rbp,rsp

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    /// The bytes upstream's emit_prologue() and push_callee_regs() emit for
    /// the same functions (arch/x86/net/bpf_jit_comp.c, 6.12).
    #[test]
    fn ordinary_function() {
        let f = Frame {
            stack_depth: 12,
            callee_regs_used: [true, false, false, true],
            ..Frame::default()
        };
        let want = cat(&[
            &NOP5,
            &NOP3,
            &FRAME,
            &[0x48, 0x81, 0xec, 16, 0, 0, 0], // sub rsp, 16
            &[0x53],                          // push rbx
            &[0x41, 0x57],                    // push r15
        ]);
        assert_eq!(emit(&f, prologue), want);
        assert_eq!(emit(&f, restore_callee_saved), [0x41, 0x5f, 0x5b]);
    }

    #[test]
    fn tail_call_offset_is_twelve() {
        // X86_TAIL_CALL_OFFSET = 12 + ENDBR_INSN_SIZE: tail calls skip to
        // just after the frame record.
        for ibt in [false, true] {
            let f = Frame {
                tail_call_reachable: true,
                ibt,
                ..Frame::default()
            };
            let p = emit(&f, prologue);
            assert_eq!(&p[5..8], &[0x48, 0x31, 0xc0]); // xor rax, rax
            assert_eq!(&p[8..12], &FRAME);
            if ibt {
                assert_eq!(&p[12..16], &[0xf3, 0x0f, 0x1e, 0xfa]);
            }
        }
    }

    #[test]
    fn main_with_tail_calls() {
        let f = Frame {
            stack_depth: 8,
            tail_call_reachable: true,
            ..Frame::default()
        };
        let want = cat(&[
            &NOP5,
            &[0x48, 0x31, 0xc0], // xor rax, rax
            &FRAME,
            &[0x48, 0x81, 0xec, 8, 0, 0, 0], // sub rsp, 8
            &[0x48, 0x83, 0xf8, 33],         // cmp rax, MAX_TAIL_CALL_CNT
            &[0x77, 6],                      // ja 6
            &[0x50],                         // push rax
            &[0x48, 0x89, 0xe0],             // mov rax, rsp
            &[0xeb, 1],                      // jmp 1
            &[0x50, 0x50],                   // push rax; push rax
        ]);
        assert_eq!(emit(&f, prologue), want);
    }

    #[test]
    fn subprog_with_tail_calls() {
        let f = Frame {
            tail_call_reachable: true,
            is_subprog: true,
            ..Frame::default()
        };
        assert_eq!(
            emit(&f, prologue),
            cat(&[&NOP5, &NOP3, &FRAME, &[0x50, 0x50]])
        );
    }

    #[test]
    fn saves_only_what_it_uses() {
        let f = Frame {
            stack_depth: 8,
            callee_regs_used: [false, true, false, false],
            ..Frame::default()
        };
        let want = cat(&[
            &NOP5,
            &NOP3,
            &FRAME,
            &[0x48, 0x81, 0xec, 8, 0, 0, 0],
            &[0x41, 0x55], // push r13
        ]);
        assert_eq!(emit(&f, prologue), want);
        assert_eq!(emit(&f, restore_callee_saved), [0x41, 0x5d]);
        assert_eq!(f.saved_regs(), SavedRegs::default().with(Saved::R13));
    }

    #[test]
    fn saved_regs_follow_the_pushes() {
        // Every subset: the mask names exactly the pushed registers, and
        // they lie in the save area in the order of `Saved`.
        for bits in 0u8..32 {
            let f = Frame {
                callee_regs_used: [bits & 1 != 0, bits & 2 != 0, bits & 4 != 0, bits & 8 != 0],
                arena: bits & 16 != 0,
                ..Frame::default()
            };
            let mut buf = [0u8; 32];
            let mut c = Code::new(&mut buf);
            push_saved(&mut c, f.callee_regs_used, f.arena);
            let n = c.finish().unwrap();
            // Pushes from the last: the lowest address first.
            let mut lowest_first = Vec::new();
            let mut i = n;
            while i > 0 {
                let (reg, len) = match buf[..i] {
                    [.., 0x41, 0x54] => (Saved::R12, 2),
                    [.., 0x41, 0x55] => (Saved::R13, 2),
                    [.., 0x41, 0x56] => (Saved::R14, 2),
                    [.., 0x41, 0x57] => (Saved::R15, 2),
                    [.., 0x53] => (Saved::Rbx, 1),
                    _ => panic!("not a push: {:x?}", &buf[..i]),
                };
                lowest_first.push(reg as u8);
                i -= len;
            }
            let mut want = Vec::new();
            let mask = f.saved_regs().0;
            for k in 0..5u8 {
                if mask & 1 << k != 0 {
                    want.push(k);
                }
            }
            assert_eq!(lowest_first, want, "bits {bits:05b}");
        }
    }

    #[test]
    fn exception_callback_takes_over_the_boundary_frame() {
        let f = Frame {
            is_subprog: true,
            exception_cb: true,
            stack_depth: 16,
            callee_regs_used: [true, false, false, false],
            ..Frame::default()
        };
        let want = cat(&[
            &NOP5,
            &NOP3,
            &[0x48, 0x89, 0xd5], // mov rbp, rdx
            &[0x48, 0x89, 0xec], // mov rsp, rbp
            &[0x48, 0x81, 0xec, 16, 0, 0, 0],
            &[0x53], // push rbx
        ]);
        assert_eq!(emit(&f, prologue), want);
        assert_eq!(emit(&f, restore_callee_saved), [0x5b]);
    }

    #[test]
    fn arena_saves_r12() {
        let f = Frame {
            arena: true,
            ..Frame::default()
        };
        assert_eq!(
            emit(&f, prologue),
            cat(&[&NOP5, &NOP3, &FRAME, &[0x41, 0x54]])
        );
        assert_eq!(emit(&f, restore_callee_saved), [0x41, 0x5c]);
    }

    #[test]
    fn classic_bpf_has_no_tail_call_padding() {
        let f = Frame {
            from_cbpf: true,
            ..Frame::default()
        };
        assert_eq!(emit(&f, prologue), cat(&[&NOP5, &FRAME]));
    }

    #[test]
    fn stack_rounds_up_and_overflow_is_reported() {
        let f = Frame {
            stack_depth: 505,
            ..Frame::default()
        };
        assert_eq!(
            &emit(&f, prologue)[12..],
            &[0x48, 0x81, 0xec, 0x00, 0x02, 0, 0]
        );
        let mut buf = [0u8; 10];
        assert_eq!(prologue(&f, &mut Code::new(&mut buf)), Err(Overflow));
    }
}
