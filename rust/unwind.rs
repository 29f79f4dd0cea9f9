// SPDX-License-Identifier: GPL-2.0

//! Finding the exception boundary of a throwing BPF program.
//!
//! The x86-64 JIT gives every BPF function a frame record: its prologue is
//! `push rbp; mov rbp, rsp`, and `rbp` (BPF's R10) stays fixed in the body.
//! BPF trampolines build the same record. A frame record at address `fp`
//! holds the caller's frame pointer at `fp` and the return address into the
//! caller at `fp + 8`; the caller's stack pointer at its call instruction is
//! `fp + 16`.
//!
//! `bpf_throw()` hands over its own frame record, whose return address points
//! into the function that called `bpf_throw()`. Walking outwards, each return
//! address is classified: frames of subprograms and of other BPF code (such
//! as trampolines) are passed, and the first frame of a main program is the
//! exception boundary. The walk reads only frame records that BPF code or
//! `bpf_throw()` itself built; it never follows a frame pointer saved by
//! ordinary kernel code, which may have used `rbp` as a general register.
//!
//! This module uses no kernel types, so it also builds and is tested on the
//! host with `cargo test`.

/// What a return address points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code<P> {
    /// A BPF subprogram: unwound through.
    Subprog,
    /// The main function of the program `P`: the exception boundary.
    Main(P),
    /// Other BPF text that builds frame records, such as a trampoline.
    OtherBpf,
    /// Anything else.
    Kernel,
}

/// Read access to the stack being walked.
pub trait Stack {
    /// Returns the machine word at `addr`.
    ///
    /// [`find_boundary`] calls this only for the two words of a frame record
    /// that it was handed or reached through a frame pointer saved by BPF
    /// code, and only for 8-byte aligned addresses.
    fn read(&self, addr: usize) -> usize;
}

/// The frame of the exception boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boundary<P> {
    /// The program whose main function is the boundary.
    pub prog: P,
    /// The boundary's stack pointer at its call instruction.
    pub sp: usize,
    /// The boundary's frame pointer.
    pub bp: usize,
    /// The number of frames walked, the boundary's included.
    pub frames: u32,
}

/// Why no boundary was found. The verifier makes each of these impossible
/// for a program that passed it; they are reported, never acted upon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkError {
    /// The first return address is not in BPF text.
    NotCalledFromBpf,
    /// Kernel text was reached before a main program's frame.
    NoBoundary {
        /// Frames walked before kernel text was reached.
        frames: u32,
    },
    /// A frame pointer was misaligned, not above the previous one, or too
    /// far from the first.
    BadFrame {
        /// The offending frame pointer.
        fp: usize,
    },
    /// More than [`MAX_FRAMES`] frames without a boundary.
    TooDeep,
}

/// The most frames walked: eight BPF call frames (the verifier's
/// `MAX_CALL_FRAMES`), each of which may sit behind a trampoline, with room
/// to spare.
pub const MAX_FRAMES: u32 = 32;

/// The farthest a frame record may lie from the first one: the size of a
/// kernel stack on x86-64 (`THREAD_SIZE` without KASAN).
pub const MAX_SPAN: usize = 16 * 1024;

const WORD: usize = core::mem::size_of::<u64>();

/// Walks the frame records from `first` outwards and returns the frame of
/// the first main program, as `classify` tells them apart.
pub fn find_boundary<P, S, F>(
    stack: &S,
    first: usize,
    mut classify: F,
) -> Result<Boundary<P>, WalkError>
where
    S: Stack + ?Sized,
    F: FnMut(usize) -> Code<P>,
{
    let mut fp = first;
    for walked in 0..MAX_FRAMES {
        if fp % WORD != 0 || fp.wrapping_sub(first) > MAX_SPAN {
            return Err(WalkError::BadFrame { fp });
        }
        let bp = stack.read(fp);
        let ip = stack.read(fp + WORD);
        match classify(ip) {
            Code::Main(prog) => {
                return Ok(Boundary {
                    prog,
                    sp: fp + 2 * WORD,
                    bp,
                    frames: walked + 1,
                })
            }
            Code::Subprog | Code::OtherBpf => {}
            Code::Kernel if walked == 0 => return Err(WalkError::NotCalledFromBpf),
            Code::Kernel => return Err(WalkError::NoBoundary { frames: walked }),
        }
        // Outer frames lie at higher addresses.
        if bp <= fp {
            return Err(WalkError::BadFrame { fp: bp });
        }
        fp = bp;
    }
    Err(WalkError::TooDeep)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::{cell::RefCell, collections::BTreeMap, vec::Vec};

    /// A stack of 8-byte words at made-up addresses that records every read.
    struct FakeStack {
        words: BTreeMap<usize, usize>,
        reads: RefCell<Vec<usize>>,
    }

    impl FakeStack {
        fn new() -> Self {
            Self {
                words: BTreeMap::new(),
                reads: RefCell::new(Vec::new()),
            }
        }

        /// Stores a frame record: saved frame pointer and return address.
        fn record(&mut self, fp: usize, saved_fp: usize, ret: usize) {
            self.words.insert(fp, saved_fp);
            self.words.insert(fp + 8, ret);
        }
    }

    impl Stack for FakeStack {
        fn read(&self, addr: usize) -> usize {
            self.reads.borrow_mut().push(addr);
            *self
                .words
                .get(&addr)
                .expect("read outside the frame records")
        }
    }

    // Code addresses: the main program, subprogs, a trampoline, the kernel.
    const MAIN: usize = 0xa000;
    const SUB: usize = 0xb000;
    const TRAMP: usize = 0xc000;
    const KERNEL: usize = 0xf000;

    fn classify(ip: usize) -> Code<&'static str> {
        match ip & !0xfff {
            MAIN => Code::Main("main"),
            SUB => Code::Subprog,
            TRAMP => Code::OtherBpf,
            _ => Code::Kernel,
        }
    }

    /// bpf_throw's record at 0x1000, then `n` subprog frames 0x40 apart,
    /// then the main program, whose own record points into the kernel with
    /// a garbage frame pointer that must never be read.
    fn chain(n: usize) -> FakeStack {
        let mut s = FakeStack::new();
        let mut fp = 0x1000;
        for i in 0..n {
            s.record(fp, fp + 0x40, SUB + i);
            fp += 0x40;
        }
        s.record(fp, 0x1800, MAIN + 0x10);
        s.record(0x1800, 0xdead_beef, KERNEL);
        s
    }

    #[test]
    fn throw_from_main() {
        let s = chain(0);
        let b = find_boundary(&s, 0x1000, classify).unwrap();
        assert_eq!(
            b,
            Boundary {
                prog: "main",
                sp: 0x1010,
                bp: 0x1800,
                frames: 1
            }
        );
    }

    #[test]
    fn throw_from_every_depth() {
        for depth in 1..=7 {
            let s = chain(depth);
            let b = find_boundary(&s, 0x1000, classify).unwrap();
            let main_record = 0x1000 + 0x40 * depth;
            assert_eq!(b.prog, "main");
            assert_eq!(b.sp, main_record + 16, "depth {depth}");
            assert_eq!(b.bp, 0x1800);
            assert_eq!(b.frames as usize, depth + 1);
        }
    }

    #[test]
    fn reads_only_bpf_frame_records() {
        let s = chain(3);
        find_boundary(&s, 0x1000, classify).unwrap();
        let reads = s.reads.borrow();
        // Two words per record, and never the record of the main
        // program's own caller (0x1800), which belongs to the kernel.
        assert_eq!(reads.len(), 2 * 4);
        assert!(reads.iter().all(|&a| a < 0x1800));
    }

    #[test]
    fn trampoline_frames_are_passed() {
        let mut s = FakeStack::new();
        s.record(0x1000, 0x1100, SUB);
        s.record(0x1100, 0x1200, TRAMP + 0x20);
        s.record(0x1200, 0x1800, MAIN);
        let b = find_boundary(&s, 0x1000, classify).unwrap();
        assert_eq!((b.sp, b.bp, b.frames), (0x1210, 0x1800, 3));
    }

    #[test]
    fn not_called_from_bpf() {
        let mut s = FakeStack::new();
        s.record(0x1000, 0x1100, KERNEL);
        assert_eq!(
            find_boundary(&s, 0x1000, classify),
            Err(WalkError::NotCalledFromBpf)
        );
    }

    #[test]
    fn kernel_before_boundary() {
        // A subprog called by kernel code, as a callback would be.
        let mut s = FakeStack::new();
        s.record(0x1000, 0x1100, SUB);
        s.record(0x1100, 0x1200, KERNEL);
        assert_eq!(
            find_boundary(&s, 0x1000, classify),
            Err(WalkError::NoBoundary { frames: 1 })
        );
    }

    #[test]
    fn frame_pointer_must_grow() {
        let mut s = FakeStack::new();
        s.record(0x1000, 0x0f00, SUB);
        assert_eq!(
            find_boundary(&s, 0x1000, classify),
            Err(WalkError::BadFrame { fp: 0x0f00 })
        );
        let mut s = FakeStack::new();
        s.record(0x1000, 0x1000, SUB);
        assert_eq!(
            find_boundary(&s, 0x1000, classify),
            Err(WalkError::BadFrame { fp: 0x1000 })
        );
    }

    #[test]
    fn frame_pointer_must_be_aligned_and_near() {
        let mut s = FakeStack::new();
        s.record(0x1000, 0x1104, SUB);
        assert_eq!(
            find_boundary(&s, 0x1000, classify),
            Err(WalkError::BadFrame { fp: 0x1104 })
        );
        let mut s = FakeStack::new();
        s.record(0x1000, 0x1000 + MAX_SPAN + 8, SUB);
        assert_eq!(
            find_boundary(&s, 0x1000, classify),
            Err(WalkError::BadFrame {
                fp: 0x1000 + MAX_SPAN + 8
            })
        );
        assert_eq!(
            find_boundary(&s, 0x1003, classify),
            Err(WalkError::BadFrame { fp: 0x1003 })
        );
    }

    #[test]
    fn endless_subprog_chain_stops() {
        let mut s = FakeStack::new();
        for i in 0..64 {
            s.record(0x1000 + 0x20 * i, 0x1000 + 0x20 * (i + 1), SUB);
        }
        assert_eq!(find_boundary(&s, 0x1000, classify), Err(WalkError::TooDeep));
        assert_eq!(s.reads.borrow().len(), 2 * MAX_FRAMES as usize);
    }
}
