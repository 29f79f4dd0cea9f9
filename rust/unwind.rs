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
//! Classifying an address means a lookup in the BPF symbol table. The walk
//! does it once for the throwing program; after that, a return address in
//! the [`Layout`] of that program's images is classified by two comparisons:
//! in its main function, the boundary; elsewhere in the span of its images,
//! one of its subprograms. Only an address outside that span (a trampoline,
//! say) is looked up again.
//!
//! This module uses no kernel types, so it also builds and is tested on the
//! host with `cargo test`.

/// What a return address points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code<P> {
    /// A function of program `P`: its main function (the exception
    /// boundary) if `main`, else a subprogram, unwound through.
    Prog {
        /// The program, as [`Programs`] names it.
        prog: P,
        /// Whether the address is in the main function.
        main: bool,
    },
    /// Other BPF text that builds frame records, such as a trampoline.
    OtherBpf,
    /// Anything else.
    Kernel,
}

/// Where a program's JITed functions lie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The main function's image.
    pub main: core::ops::Range<usize>,
    /// From the lowest start to the highest end of all its images.
    pub span: core::ops::Range<usize>,
}

/// The BPF symbol table, as the walk needs it.
pub trait Programs {
    /// How a program is named.
    type Prog: Copy;

    /// Classifies a return address: the slow path, a symbol table lookup.
    fn lookup(&mut self, ip: usize) -> Code<Self::Prog>;

    /// Where the functions of `prog` lie.
    fn layout(&mut self, prog: Self::Prog) -> Layout;
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
/// the first main program, as `progs` tells them apart.
pub fn find_boundary<S, G>(
    stack: &S,
    first: usize,
    progs: &mut G,
) -> Result<Boundary<G::Prog>, WalkError>
where
    S: Stack + ?Sized,
    G: Programs + ?Sized,
{
    // The first program met, and where its functions lie.
    let mut known: Option<(G::Prog, Layout)> = None;
    let mut fp = first;
    for walked in 0..MAX_FRAMES {
        if fp % WORD != 0 || fp.wrapping_sub(first) > MAX_SPAN {
            return Err(WalkError::BadFrame { fp });
        }
        let bp = stack.read(fp);
        let ip = stack.read(fp + WORD);
        let code = match &known {
            Some((prog, l)) if l.main.contains(&ip) => Code::Prog {
                prog: *prog,
                main: true,
            },
            Some((prog, l)) if l.span.contains(&ip) => Code::Prog {
                prog: *prog,
                main: false,
            },
            _ => progs.lookup(ip),
        };
        match code {
            Code::Prog { prog, main: true } => {
                return Ok(Boundary {
                    prog,
                    sp: fp + 2 * WORD,
                    bp,
                    frames: walked + 1,
                })
            }
            Code::Prog { prog, main: false } => {
                if known.is_none() {
                    known = Some((prog, progs.layout(prog)));
                }
            }
            Code::OtherBpf => {}
            Code::Kernel if walked == 0 => return Err(WalkError::NotCalledFromBpf),
            Code::Kernel => return Err(WalkError::NoBoundary { frames: walked }),
        } // Outer frames lie at higher addresses.
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

    /// The symbol table of one program: main function in the MAIN page,
    /// subprograms in the SUB page; a trampoline in the TRAMP page.
    #[derive(Default)]
    struct FakeProgs {
        lookups: usize,
    }

    impl Programs for FakeProgs {
        type Prog = &'static str;

        fn lookup(&mut self, ip: usize) -> Code<&'static str> {
            self.lookups += 1;
            match ip & !0xfff {
                MAIN => Code::Prog {
                    prog: "main",
                    main: true,
                },
                SUB => Code::Prog {
                    prog: "main",
                    main: false,
                },
                TRAMP => Code::OtherBpf,
                _ => Code::Kernel,
            }
        }

        fn layout(&mut self, prog: &'static str) -> Layout {
            assert_eq!(prog, "main");
            Layout {
                main: MAIN..MAIN + 0x1000,
                span: MAIN..SUB + 0x1000,
            }
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
        let b = find_boundary(&s, 0x1000, &mut FakeProgs::default()).unwrap();
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
            let b = find_boundary(&s, 0x1000, &mut FakeProgs::default()).unwrap();
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
        find_boundary(&s, 0x1000, &mut FakeProgs::default()).unwrap();
        let reads = s.reads.borrow();
        // Two words per record, and never the record of the main
        // program's own caller (0x1800), which belongs to the kernel.
        assert_eq!(reads.len(), 2 * 4);
        assert!(reads.iter().all(|&a| a < 0x1800));
    }

    #[test]
    fn one_lookup_for_the_whole_chain() {
        for depth in 0..=7 {
            let s = chain(depth);
            let mut progs = FakeProgs::default();
            let b = find_boundary(&s, 0x1000, &mut progs).unwrap();
            assert_eq!(b.frames as usize, depth + 1);
            assert_eq!(progs.lookups, 1, "depth {depth}");
        }
    }

    #[test]
    fn trampoline_frames_are_passed() {
        let mut s = FakeStack::new();
        s.record(0x1000, 0x1100, SUB);
        s.record(0x1100, 0x1200, TRAMP + 0x20);
        s.record(0x1200, 0x1800, MAIN);
        let mut progs = FakeProgs::default();
        let b = find_boundary(&s, 0x1000, &mut progs).unwrap();
        assert_eq!((b.sp, b.bp, b.frames), (0x1210, 0x1800, 3));
        // The subprogram and the trampoline, which lies outside the
        // program's images; the main function is then known.
        assert_eq!(progs.lookups, 2);
    }

    #[test]
    fn not_called_from_bpf() {
        let mut s = FakeStack::new();
        s.record(0x1000, 0x1100, KERNEL);
        assert_eq!(
            find_boundary(&s, 0x1000, &mut FakeProgs::default()),
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
            find_boundary(&s, 0x1000, &mut FakeProgs::default()),
            Err(WalkError::NoBoundary { frames: 1 })
        );
    }

    #[test]
    fn frame_pointer_must_grow() {
        let mut s = FakeStack::new();
        s.record(0x1000, 0x0f00, SUB);
        assert_eq!(
            find_boundary(&s, 0x1000, &mut FakeProgs::default()),
            Err(WalkError::BadFrame { fp: 0x0f00 })
        );
        let mut s = FakeStack::new();
        s.record(0x1000, 0x1000, SUB);
        assert_eq!(
            find_boundary(&s, 0x1000, &mut FakeProgs::default()),
            Err(WalkError::BadFrame { fp: 0x1000 })
        );
    }

    #[test]
    fn frame_pointer_must_be_aligned_and_near() {
        let mut s = FakeStack::new();
        s.record(0x1000, 0x1104, SUB);
        assert_eq!(
            find_boundary(&s, 0x1000, &mut FakeProgs::default()),
            Err(WalkError::BadFrame { fp: 0x1104 })
        );
        let mut s = FakeStack::new();
        s.record(0x1000, 0x1000 + MAX_SPAN + 8, SUB);
        assert_eq!(
            find_boundary(&s, 0x1000, &mut FakeProgs::default()),
            Err(WalkError::BadFrame {
                fp: 0x1000 + MAX_SPAN + 8
            })
        );
        assert_eq!(
            find_boundary(&s, 0x1003, &mut FakeProgs::default()),
            Err(WalkError::BadFrame { fp: 0x1003 })
        );
    }

    #[test]
    fn endless_subprog_chain_stops() {
        let mut s = FakeStack::new();
        for i in 0..64 {
            s.record(0x1000 + 0x20 * i, 0x1000 + 0x20 * (i + 1), SUB);
        }
        assert_eq!(
            find_boundary(&s, 0x1000, &mut FakeProgs::default()),
            Err(WalkError::TooDeep)
        );
        assert_eq!(s.reads.borrow().len(), 2 * MAX_FRAMES as usize);
    }
}
