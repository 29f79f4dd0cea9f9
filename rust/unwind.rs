// SPDX-License-Identifier: GPL-2.0

//! Unwinding a throwing BPF program.
//!
//! The x86-64 JIT gives every BPF function a frame record: its prologue is
//! `push rbp; mov rbp, rsp`, and `rbp` (BPF's R10) stays fixed in the body.
//! A frame record at address `fp` holds the caller's frame pointer at `fp`
//! and the return address into the caller at `fp + 8`. The prologue then
//! pushes the callee-saved registers the function uses, last of all, so at
//! each call the function's stack pointer points at its saved registers:
//! for the callee's frame record at `fp`, they start at `fp + 16`.
//!
//! Only the registers a function uses are saved, by every function, the
//! program's main function (the exception boundary) included: a program
//! that can throw runs exactly the code of one that cannot. So the values
//! the program's caller keeps in callee-saved registers are scattered: each
//! one is in the save area of the outermost frame that saved it, or, if no
//! frame did, still in the register. [`unwind`] starts from the registers as
//! the throwing function left them and walks outwards, overwriting each
//! register with every saved copy it meets; the outermost copy wins.
//!
//! A return address is mapped to its function with a [`Map`] of the
//! program's functions, built once when the program is JITed: a table with
//! one byte per 64-byte granule of the address range the functions span
//! (the granule of BPF's JIT memory allocator, so no two allocations share
//! one), which names the function there. A frame costs one table lookup,
//! however deep the call chain and however many functions the program has.
//!
//! This module uses no kernel types, so it also builds and is tested on the
//! host with `cargo test`.

/// The callee-saved registers other than `rbp`, in the order of
/// [`Regs`]: the order in which they lie in a save area, from its lowest
/// address up, since the JIT pushes them as r12, rbx, r13, r14, r15.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// BPF's R9.
    R15 = 0,
    /// BPF's R8.
    R14 = 1,
    /// BPF's R7.
    R13 = 2,
    /// BPF's R6.
    Rbx = 3,
    /// Not a BPF register; the base of an arena.
    R12 = 4,
}

/// The callee-saved registers a function saves, one bit per [`Saved`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SavedRegs(pub u8);

impl SavedRegs {
    /// Adds `reg`.
    pub const fn with(self, reg: Saved) -> Self {
        Self(self.0 | 1 << reg as u8)
    }
}

/// Values of the callee-saved registers, indexed by [`Saved`].
pub type Regs = [u64; 5];

/// One JITed function of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Func {
    /// First byte of its image.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
    /// What its prologue saves.
    pub saved: SavedRegs,
    /// The main function: the exception boundary.
    pub main: bool,
}

impl Func {
    fn contains(&self, addr: usize) -> bool {
        self.start <= addr && addr < self.end
    }
}

/// Granule of the table: `BPF_PROG_CHUNK_SIZE`, the unit in which BPF's JIT
/// memory allocator hands out images.
pub const GRANULE_SHIFT: u32 = 6;

/// The most table entries; a wider span gets coarser granules.
pub const MAX_GRANULES: usize = 4096;

/// A table entry: no function of the program.
const NONE: u8 = 0;
/// A table entry: more than one function, or a function whose index does
/// not fit; searched.
const SEVERAL: u8 = u8::MAX;

/// Where the functions of a program lie, for [`Map::find`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Address of the first granule.
    pub base: usize,
    /// Bytes per granule, as a shift.
    pub shift: u32,
    /// Number of granules.
    pub len: usize,
}

impl Geometry {
    /// The smallest table that covers `funcs` with at most
    /// [`MAX_GRANULES`] entries, or `None` for no functions.
    pub fn of(funcs: &[Func]) -> Option<Self> {
        let lo = funcs.iter().map(|f| f.start).min()?;
        let hi = funcs.iter().map(|f| f.end).max()?;
        let base = lo & !((1 << GRANULE_SHIFT) - 1);
        let mut shift = GRANULE_SHIFT;
        while (hi - base) >> shift >= MAX_GRANULES {
            shift += 1;
        }
        Some(Self {
            base,
            shift,
            len: ((hi - base) >> shift) + 1,
        })
    }
}

/// Maps return addresses to the functions of one program.
#[derive(Debug, Clone, Copy)]
pub struct Map<'a> {
    geometry: Geometry,
    owner: &'a [u8],
    funcs: &'a [Func],
}

impl<'a> Map<'a> {
    /// Fills `owner` (`geometry.len` bytes, from [`Geometry::of`]) for
    /// `funcs` and returns the map.
    pub fn build(geometry: Geometry, owner: &'a mut [u8], funcs: &'a [Func]) -> Self {
        owner.fill(NONE);
        for (i, f) in funcs.iter().enumerate() {
            if f.end <= f.start {
                continue;
            }
            let first = (f.start - geometry.base) >> geometry.shift;
            let last = (f.end - 1 - geometry.base) >> geometry.shift;
            let id = u8::try_from(i + 1).ok().filter(|&id| id != SEVERAL);
            for e in owner.iter_mut().take(last + 1).skip(first) {
                *e = match (*e, id) {
                    (NONE, Some(id)) => id,
                    _ => SEVERAL,
                };
            }
        }
        Self {
            geometry,
            owner,
            funcs,
        }
    }

    /// The map that [`Map::build`] returned, from the same three parts.
    ///
    /// Looking up a function in a map made of other parts returns a wrong
    /// function or none, but never reads outside the parts.
    pub fn from_parts(geometry: Geometry, owner: &'a [u8], funcs: &'a [Func]) -> Self {
        Self {
            geometry,
            owner,
            funcs,
        }
    }

    /// Returns the function whose image holds `addr`.
    pub fn find(&self, addr: usize) -> Option<&'a Func> {
        let g = addr.wrapping_sub(self.geometry.base) >> self.geometry.shift;
        let f = match *self.owner.get(g)? {
            NONE => return None,
            SEVERAL => return self.funcs.iter().find(|f| f.contains(addr)),
            id => self.funcs.get(usize::from(id) - 1)?,
        };
        f.contains(addr).then_some(f)
    }
}

/// Read access to the stack being unwound.
pub trait Stack {
    /// Returns the machine word at `addr`.
    ///
    /// [`unwind`] calls this only for 8-byte aligned addresses from the
    /// throwing function's stack pointer up to [`MAX_SPAN`] above it.
    fn read(&self, addr: usize) -> u64;
}

/// Where the throwing program's thread of control was when it threw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thrown {
    /// The throwing function's stack pointer at its call: the address of
    /// the return address into it.
    pub sp: usize,
    /// The throwing function's frame pointer.
    pub fp: usize,
    /// The callee-saved registers as the throwing function left them.
    pub regs: Regs,
}

/// The unwound state: the boundary's frame, and the registers as the
/// program's caller had them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unwound {
    /// The exception boundary's frame pointer.
    pub fp: usize,
    /// The callee-saved registers of the program's caller.
    pub regs: Regs,
    /// The number of frames unwound, the boundary's included.
    pub frames: u32,
}

/// Why no boundary was found. The verifier and the JIT make each of these
/// impossible for a program that passed them, except [`Self::Foreign`]
/// (see there); they are reported, never acted upon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkError {
    /// A return address is outside the program's functions: a BPF
    /// trampoline (fexit or fmod_ret on a function the throw passes through)
    /// or a program that called `bpf_throw()` with another program's map.
    Foreign {
        /// Frames unwound before it.
        frames: u32,
        /// The return address.
        ip: usize,
    },
    /// A frame pointer was misaligned, not above the previous one, or too
    /// far from the throwing function's stack pointer.
    BadFrame {
        /// The offending frame pointer.
        fp: usize,
    },
    /// More than [`MAX_FRAMES`] frames without a boundary.
    TooDeep,
}

/// The most frames unwound: the verifier's `MAX_CALL_FRAMES` is 8.
pub const MAX_FRAMES: u32 = 8;

/// The farthest a frame record may lie from the throwing function's stack
/// pointer: the size of a kernel stack on x86-64 (`THREAD_SIZE` without
/// KASAN).
pub const MAX_SPAN: usize = 16 * 1024;

const WORD: usize = core::mem::size_of::<u64>();

fn valid_frame(fp: usize, above: usize, sp: usize) -> bool {
    fp % WORD == 0 && fp > above && fp - sp <= MAX_SPAN
}

/// Unwinds from the state `thrown` to the exception boundary of the program
/// `map` describes, restoring callee-saved registers from each frame's save
/// area on the way.
pub fn unwind<S: Stack + ?Sized>(
    stack: &S,
    map: &Map<'_>,
    thrown: &Thrown,
) -> Result<Unwound, WalkError> {
    let sp = thrown.sp;
    let mut regs = thrown.regs;
    let mut fp = thrown.fp;
    if !valid_frame(fp, sp, sp) || sp % WORD != 0 {
        return Err(WalkError::BadFrame { fp });
    }
    let mut ip = stack.read(sp) as usize;
    let mut save = sp + WORD;
    for frames in 0..MAX_FRAMES {
        // A return address lies just past its call, which is in the caller.
        let Some(f) = map.find(ip.wrapping_sub(1)) else {
            return Err(WalkError::Foreign { frames, ip });
        };
        let mut bits = f.saved.0;
        while bits != 0 {
            regs[bits.trailing_zeros() as usize] = stack.read(save);
            save += WORD;
            bits &= bits - 1;
        }
        if f.main {
            return Ok(Unwound {
                fp,
                regs,
                frames: frames + 1,
            });
        }
        let caller_fp = stack.read(fp) as usize;
        if !valid_frame(caller_fp, fp, sp) {
            return Err(WalkError::BadFrame { fp: caller_fp });
        }
        ip = stack.read(fp + WORD) as usize;
        save = fp + 2 * WORD;
        fp = caller_fp;
    }
    Err(WalkError::TooDeep)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::{cell::RefCell, collections::BTreeMap, vec, vec::Vec};

    /// A stack of 8-byte words at made-up addresses that records reads.
    #[derive(Default)]
    struct FakeStack {
        words: BTreeMap<usize, u64>,
        reads: RefCell<Vec<usize>>,
    }

    impl FakeStack {
        fn put(&mut self, addr: usize, v: u64) {
            self.words.insert(addr, v);
        }
    }

    impl Stack for FakeStack {
        fn read(&self, addr: usize) -> u64 {
            self.reads.borrow_mut().push(addr);
            *self.words.get(&addr).expect("read outside the frames")
        }
    }

    const CALLER: Regs = [0xf15, 0xf14, 0xf13, 0xb0b, 0xf12];

    fn saved(regs: &[Saved]) -> SavedRegs {
        regs.iter().fold(SavedRegs::default(), |s, r| s.with(*r))
    }

    /// A program: main at 0x1000, subprograms 0x100 apart from 0x2000,
    /// each saving what `uses` says, in 64-byte granules.
    fn program(uses: &[&[Saved]]) -> Vec<Func> {
        uses.iter()
            .enumerate()
            .map(|(i, u)| {
                let start = if i == 0 { 0x1000 } else { 0x2000 + 0x100 * i };
                Func {
                    start,
                    end: start + 0x80,
                    saved: saved(u),
                    main: i == 0,
                }
            })
            .collect()
    }

    /// The stack of a throw from function `chain[0]`, called by `chain[1]`
    /// and so on up to the main function. Each frame's callee-saved
    /// registers are clobbered with `0xdead0000 | frame << 8 | reg` once
    /// saved. Returns the stack and the state at the throw.
    fn throw_through(funcs: &[Func], chain: &[usize]) -> (FakeStack, Thrown) {
        let mut s = FakeStack::default();
        // Walk down from the main function, as the calls happened.
        let mut live = CALLER;
        let mut sp = 0x9000usize;
        // The main function's caller pushed its return address at sp.
        s.put(sp, 0xffff_0000);
        let mut fp = 0;
        let mut ra = 0xffff_0000u64;
        for (depth, &fi) in chain.iter().rev().enumerate() {
            let f = &funcs[fi];
            // call: return address at sp, pushed by the caller.
            s.put(sp, ra);
            // push rbp; mov rbp, rsp
            sp -= 8;
            s.put(sp, fp as u64);
            fp = sp;
            // sub rsp, 16 (a stack), then the pushes r12, rbx, r13-r15.
            sp -= 16;
            for r in [Saved::R12, Saved::Rbx, Saved::R13, Saved::R14, Saved::R15] {
                if f.saved.0 & 1 << r as u8 != 0 {
                    sp -= 8;
                    s.put(sp, live[r as usize]);
                    live[r as usize] = 0xdead_0000 | (depth as u64) << 8 | r as u64;
                }
            }
            // The next call: its return address goes below.
            sp -= 8;
            ra = (f.start + 0x10) as u64;
        }
        // bpf_throw()'s return address into the throwing function.
        s.put(sp, ra);
        let thrown = Thrown {
            sp,
            fp,
            regs: live,
        };
        (s, thrown)
    }

    fn run(funcs: &[Func], chain: &[usize]) -> (Result<Unwound, WalkError>, Thrown) {
        let g = Geometry::of(funcs).unwrap();
        let mut owner = vec![0; g.len];
        let map = Map::build(g, &mut owner, funcs);
        let (s, thrown) = throw_through(funcs, chain);
        (unwind(&s, &map, &thrown), thrown)
    }

    #[test]
    fn throw_from_main_restores_what_it_saved() {
        let funcs = program(&[&[Saved::Rbx, Saved::R15], &[]]);
        let (got, thrown) = run(&funcs, &[0]);
        let u = got.unwrap();
        assert_eq!(u.regs, CALLER);
        assert_eq!(u.frames, 1);
        // The frame record of the main function.
        assert_eq!(u.fp, thrown.fp);
    }

    #[test]
    fn every_register_from_its_outermost_save() {
        use Saved::*;
        // Each function saves and clobbers some registers; some none.
        let funcs = program(&[
            &[Rbx],
            &[R13, R14],
            &[],
            &[Rbx, R13, R14, R15],
            &[R12],
            &[R15],
            &[],
            &[Rbx, R12],
        ]);
        for depth in 0..funcs.len() {
            let chain: Vec<usize> = (0..=depth).rev().collect();
            let (got, _) = run(&funcs, &chain);
            let u = got.unwrap();
            assert_eq!(u.regs, CALLER, "depth {depth}");
            assert_eq!(u.frames as usize, depth + 1);
        }
    }

    #[test]
    fn a_function_called_twice_in_the_chain() {
        let funcs = program(&[&[], &[Saved::R14], &[Saved::Rbx]]);
        let (got, _) = run(&funcs, &[1, 2, 1, 0]);
        assert_eq!(got.unwrap().regs, CALLER);
    }

    #[test]
    fn reads_stay_in_the_unwound_frames() {
        let funcs = program(&[&[Saved::Rbx], &[Saved::R13], &[]]);
        let g = Geometry::of(&funcs).unwrap();
        let mut owner = vec![0; g.len];
        let map = Map::build(g, &mut owner, &funcs);
        let (s, thrown) = throw_through(&funcs, &[2, 1, 0]);
        let u = unwind(&s, &map, &thrown).unwrap();
        let reads = s.reads.borrow();
        assert!(reads.iter().all(|&a| a >= thrown.sp && a <= u.fp));
        // Never the main function's own frame record.
        assert!(!reads.contains(&u.fp));
    }

    #[test]
    fn foreign_return_address() {
        let funcs = program(&[&[], &[]]);
        let (mut s, thrown) = throw_through(&funcs, &[1, 0]);
        // As if a trampoline had called function 1.
        s.put(thrown.fp + 8, 0x7000);
        let g = Geometry::of(&funcs).unwrap();
        let mut owner = vec![0; g.len];
        let map = Map::build(g, &mut owner, &funcs);
        assert_eq!(
            unwind(&s, &map, &thrown),
            Err(WalkError::Foreign {
                frames: 1,
                ip: 0x7000
            })
        );
    }

    #[test]
    fn bad_frame_pointers() {
        let funcs = program(&[&[], &[]]);
        let g = Geometry::of(&funcs).unwrap();
        let mut owner = vec![0; g.len];
        let map = Map::build(g, &mut owner, &funcs);
        let (mut s, thrown) = throw_through(&funcs, &[1, 0]);
        for bad in [thrown.fp - 8, thrown.fp, thrown.fp + 4, thrown.sp + MAX_SPAN + 8] {
            s.put(thrown.fp, bad as u64);
            assert_eq!(
                unwind(&s, &map, &thrown),
                Err(WalkError::BadFrame { fp: bad })
            );
        }
        let t = Thrown {
            fp: thrown.sp,
            ..thrown
        };
        assert_eq!(
            unwind(&s, &map, &t),
            Err(WalkError::BadFrame { fp: thrown.sp })
        );
    }

    #[test]
    fn endless_chain_stops() {
        let funcs = program(&[&[], &[]]);
        let chain = [1; 12];
        let mut all = chain.to_vec();
        all.push(0);
        let (got, _) = run(&funcs, &all);
        assert_eq!(got, Err(WalkError::TooDeep));
    }

    #[test]
    fn map_finds_each_function_and_nothing_else() {
        let funcs = program(&[&[], &[], &[], &[]]);
        let g = Geometry::of(&funcs).unwrap();
        assert_eq!((g.base, g.shift), (0x1000, GRANULE_SHIFT));
        let mut owner = vec![0; g.len];
        let map = Map::build(g, &mut owner, &funcs);
        for f in &funcs {
            assert_eq!(map.find(f.start), Some(f));
            assert_eq!(map.find(f.end - 1), Some(f));
            assert_eq!(map.find(f.end), None);
        }
        assert_eq!(map.find(0x0fff), None);
        assert_eq!(map.find(0x1800), None);
        assert_eq!(map.find(usize::MAX), None);
    }

    #[test]
    fn wide_spans_get_coarse_granules_and_shared_ones_are_searched() {
        // Two functions 16 MiB apart, a third in the same coarse granule
        // as the first.
        let funcs = [
            Func {
                start: 0x100_0000,
                end: 0x100_0040,
                saved: SavedRegs(0),
                main: true,
            },
            Func {
                start: 0x200_0000,
                end: 0x200_0100,
                saved: SavedRegs(1),
                main: false,
            },
            Func {
                start: 0x100_0080,
                end: 0x100_00c0,
                saved: SavedRegs(2),
                main: false,
            },
        ];
        let g = Geometry::of(&funcs).unwrap();
        assert!(g.len <= MAX_GRANULES);
        assert!(g.shift > GRANULE_SHIFT);
        let mut owner = vec![0; g.len];
        let map = Map::build(g, &mut owner, &funcs);
        for f in &funcs {
            assert_eq!(map.find(f.start + 1), Some(f));
        }
        assert_eq!(map.find(0x100_0050), None);
        assert_eq!(map.find(0x200_0100), None);
    }
}
