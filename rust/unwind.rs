// SPDX-License-Identifier: GPL-2.0

//! Unwinding a throwing BPF program.
//!
//! The x86-64 JIT gives every BPF function a frame record: its prologue is
//! `push rbp; mov rbp, rsp`, and `rbp` (BPF's R10) stays fixed in the body.
//! A frame record at address `fp` holds the caller's frame pointer at `fp`
//! and the return address into the caller at `fp + 8`. The arm64 JIT's
//! frame records (`stp x29, x30, [sp, #-16]!; mov x29, sp`) are laid out
//! the same way, and its entry stores the return address into the throwing
//! function (x30) where x86-64's `call` leaves it, at the stack pointer, so
//! both walk the same frames here. The prologue then
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
//! one), which says whether a function of the program owns the granule,
//! whether it is the main function and what it saves. A frame costs one
//! table lookup, however deep the call chain and however many functions the
//! program has.
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
        Self(self.0 | (1 << reg as u8))
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
    /// Whether `addr` is in the image.
    pub fn contains(&self, addr: usize) -> bool {
        self.start <= addr && addr < self.end
    }
}

/// Granule of the table: `BPF_PROG_CHUNK_SIZE`, the unit in which BPF's JIT
/// memory allocator hands out images, so that no granule holds code of two
/// allocations.
pub const GRANULE_SHIFT: u32 = 6;

/// The most table entries; a wider span gets coarser granules, which may
/// hold code of several allocations.
pub const MAX_GRANULES: usize = 4096;

// A table entry is the `SavedRegs` of the function that owns the granule,
// with these flags, or one of the two markers.
/// Entry flag: a function of the program owns the granule.
const OWNED: u8 = 0x80;
/// Entry flag: the owner is the main function.
const MAIN: u8 = 0x40;
/// Entry: no function of the program.
const NONE: u8 = 0;
/// Entry: coarse granule, or more than one function; searched.
const SEARCH: u8 = 0x20;

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
    table: &'a [u8],
    funcs: &'a [Func],
}

fn entry(f: &Func) -> u8 {
    OWNED | if f.main { MAIN } else { 0 } | (f.saved.0 & 0x1f)
}

impl<'a> Map<'a> {
    /// Fills `table` (`geometry.len` bytes, from [`Geometry::of`]) for
    /// `funcs` and returns the map.
    pub fn build(geometry: Geometry, table: &'a mut [u8], funcs: &'a [Func]) -> Self {
        table.fill(NONE);
        for f in funcs.iter().filter(|f| f.start < f.end) {
            let first = (f.start - geometry.base) >> geometry.shift;
            let last = (f.end - 1 - geometry.base) >> geometry.shift;
            for e in table.iter_mut().take(last + 1).skip(first) {
                *e = if *e == NONE && geometry.shift == GRANULE_SHIFT {
                    entry(f)
                } else {
                    SEARCH
                };
            }
        }
        Self {
            geometry,
            table,
            funcs,
        }
    }

    /// The map that [`Map::build`] returned, from the same three parts.
    ///
    /// Looking up a function in a map made of other parts gives wrong
    /// answers, but never reads outside the parts.
    pub fn from_parts(geometry: Geometry, table: &'a [u8], funcs: &'a [Func]) -> Self {
        Self {
            geometry,
            table,
            funcs,
        }
    }

    /// The table entry for `addr`: [`NONE`], [`SEARCH`], or the flags and
    /// saved registers of the function whose image holds `addr`.
    #[inline(always)]
    fn entry(&self, addr: usize) -> u8 {
        let g = addr.wrapping_sub(self.geometry.base) >> self.geometry.shift;
        match self.table.get(g) {
            Some(&SEARCH) => self
                .funcs
                .iter()
                .find(|f| f.contains(addr))
                .map_or(NONE, entry),
            Some(&e) => e,
            None => NONE,
        }
    }

    /// Whether `addr` is in the image of one of the program's functions,
    /// the main function if `main`, and what that function saves.
    pub fn find(&self, addr: usize) -> Option<(bool, SavedRegs)> {
        let e = self.entry(addr);
        (e & OWNED != 0).then_some((e & MAIN != 0, SavedRegs(e & 0x1f)))
    }
}

/// Read access to the stack being unwound.
pub trait Stack {
    /// Returns the machine word at `addr`.
    ///
    /// [`unwind`] calls this only for addresses from the throwing function's
    /// stack pointer up to [`MAX_SPAN`] above it.
    fn read(&self, addr: usize) -> u64;

    /// Returns the return address stored at `addr`, as a code address.
    ///
    /// Where return addresses are signed when stored (arm64 with pointer
    /// authentication), this strips the signature; elsewhere it is
    /// [`Stack::read`].
    fn return_address(&self, addr: usize) -> usize {
        self.read(addr) as usize
    }
}

/// Why no boundary was found. The verifier, the JIT and the attach checks
/// make each of these impossible for a program that passed them; they are
/// reported, never acted upon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkError {
    /// A return address is outside the program's functions, for example a
    /// BPF trampoline's (fexit on a function the throw passes through,
    /// which the attach checks refuse).
    Foreign {
        /// The return address.
        ip: usize,
    },
    /// A frame pointer was not above the previous one, or too far from the
    /// throwing function's stack pointer.
    BadFrame {
        /// The offending frame pointer.
        fp: usize,
    },
}

/// The farthest a frame record may lie from the throwing function's stack
/// pointer. The verifier allows eight frames and 512 bytes of BPF stack in
/// all; each frame adds its frame record, at most five saved registers and
/// two tail call slots.
pub const MAX_SPAN: usize = 4096;

const WORD: usize = core::mem::size_of::<u64>();

/// Unwinds a throw from the program `map` describes, to its exception
/// boundary: the throwing function's stack pointer at its call (the address
/// of the return address into it) is `sp`, its frame pointer `fp`, and
/// `regs` hold the callee-saved registers as it left them. Replaces `regs`
/// with the callee-saved registers of the program's caller, restored from
/// each frame's save area on the way, and returns the boundary's frame
/// pointer.
///
/// Each frame costs one table lookup: this is the hot path of a throw.
#[inline(always)]
pub fn unwind<S: Stack + ?Sized>(
    stack: &S,
    map: &Map<'_>,
    regs: &mut Regs,
    sp: usize,
    fp: usize,
) -> Result<usize, WalkError> {
    walk(stack, map, regs, sp, fp, |_, _, _| {})
}

/// Walks like [`unwind`] and counts the frames it unwinds, the boundary's
/// included, without changing anything: for the `bpf:bpf_throw`
/// tracepoint, before the real unwind. `regs` are the throwing function's
/// registers, as for [`unwind`].
pub fn count_frames<S: Stack + ?Sized>(
    stack: &S,
    map: &Map<'_>,
    regs: &Regs,
    sp: usize,
    fp: usize,
) -> Result<u32, WalkError> {
    let mut scratch = *regs;
    let mut frames = 0u32;
    walk(stack, map, &mut scratch, sp, fp, |_, _, _| {
        frames = frames.wrapping_add(1)
    })?;
    Ok(frames)
}

/// A frame that [`frames`] met: where it is suspended and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Frame {
    /// The return address into it: just past the call it is suspended in.
    pub ip: usize,
    /// Its frame pointer, BPF's R10.
    pub fp: usize,
    /// Its callee-saved registers at that call.
    pub regs: Regs,
}

/// Walks like [`unwind`] without changing anything, and fills `out` with
/// the frames it unwinds, the throwing function's first and the
/// boundary's last, as far as `out` has room. Returns how many it filled.
/// `regs` are the throwing function's registers, as for [`unwind`].
pub fn frames<S: Stack + ?Sized>(
    stack: &S,
    map: &Map<'_>,
    regs: &Regs,
    sp: usize,
    fp: usize,
    out: &mut [Frame],
) -> Result<usize, WalkError> {
    let mut scratch = *regs;
    let mut n = 0;
    walk(stack, map, &mut scratch, sp, fp, |ip, fp, regs| {
        if let Some(f) = out.get_mut(n) {
            *f = Frame {
                ip,
                fp,
                regs: *regs,
            };
            n += 1;
        }
    })?;
    Ok(n)
}

/// The walk of [`unwind`]. Calls `visit` with each frame's return address,
/// frame pointer and registers (those it holds at its call) before it
/// restores the registers its caller holds; a visitor that does nothing
/// is compiled out of the hot path.
#[inline(always)]
fn walk<S: Stack + ?Sized>(
    stack: &S,
    map: &Map<'_>,
    regs: &mut Regs,
    sp: usize,
    fp: usize,
    mut visit: impl FnMut(usize, usize, &Regs),
) -> Result<usize, WalkError> {
    let limit = sp.saturating_add(MAX_SPAN);
    let mut fp = fp;
    if fp <= sp || fp > limit {
        return Err(WalkError::BadFrame { fp });
    }
    let mut ip = stack.return_address(sp);
    let mut save = sp + WORD;
    loop {
        visit(ip, fp, regs);
        // A return address lies just past its call, which is in the caller.
        let e = map.entry(ip.wrapping_sub(1));
        // Most frames: a subprogram that saved nothing.
        if e != OWNED {
            if e & OWNED == 0 {
                return Err(WalkError::Foreign { ip });
            }
            let mut bits = e & 0x1f;
            while bits != 0 {
                let r = bits.trailing_zeros() as usize;
                if let Some(reg) = regs.get_mut(r) {
                    *reg = stack.read(save);
                }
                save += WORD;
                bits &= bits - 1;
            }
            if e & MAIN != 0 {
                return Ok(fp);
            }
        }
        // Outer frames lie at higher addresses: the walk ends, at the
        // latest, MAX_SPAN bytes above where it began.
        let caller_fp = stack.read(fp) as usize;
        if caller_fp <= fp || caller_fp > limit {
            return Err(WalkError::BadFrame { fp: caller_fp });
        }
        ip = stack.return_address(fp + WORD);
        save = fp + 2 * WORD;
        fp = caller_fp;
    }
}

/// A call of `bpf_throw()`, or of a subprog when the program releases
/// anything on a throw, in a JITed program: for the `bpf:bpf_throw`
/// tracepoint and for the release (see `cleanup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Site {
    /// One past the last byte of the JITed code of the call's instruction.
    pub end: usize,
    /// The index of the function that holds the call.
    pub func: u32,
    /// The call's offset in the program's instructions.
    pub insn: u32,
    /// The call's index in the program as loaded, before the verifier
    /// rewrote it: the verifier's index when it walked the call.
    pub orig: u32,
}

/// Returns the call that returns to `ip`, given the program's functions
/// `funcs` and its calls `sites`, sorted by their `end`: the first call
/// whose code ends at or after `ip`, if it is in the function that holds
/// the return address `ip`. The call instruction is the last or the last
/// but one of the code of its BPF instruction (x86-64: `call`; arm64:
/// `blr`, then a move of the result), so its return address lies within
/// that code or at its end. One binary search, whatever the depth.
pub fn site_of(funcs: &[Func], sites: &[Site], ip: usize) -> Option<Site> {
    let s = *sites.get(sites.partition_point(|s| s.end < ip))?;
    let f = funcs.get(s.func as usize)?;
    (f.contains(ip.wrapping_sub(1)) && s.end <= f.end).then_some(s)
}

/// arm64: where a JITed function's prologue put what a release needs, as
/// [`arm64_layout`] reads it from the function's code.
///
/// The arm64 JIT (upstream's) pushes the frame record, then a pair for
/// the tail call count, then the callee-saved registers the function uses
/// in pairs (R6 to R9, that is x19 to x22, then R10's x25 and the arena's
/// x28; the exception boundary all of x19 to x28), each pair with
/// `stp a, b, [sp, #-16]!`, and sets R10 (x25) to the stack pointer below
/// them. So a function's save area and its R10 lie below its frame
/// record, at distances fixed per function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Arm64Layout {
    /// For R6 to R9: how many bytes below its frame record the function
    /// saved its caller's value, or 0 if it did not.
    pub saved: [u16; 4],
    /// How many bytes below its frame record its R10 points.
    pub bpf_fp: u16,
}

/// `stp xa, xb, [sp, #-16]!`, without its two registers.
const A64_PUSH: u32 = 0xa9bf_03e0;
/// The bits of a push that are not its registers.
const A64_PUSH_MASK: u32 = 0xffff_83e0;
/// `mov x29, sp`, `mov x25, sp` and `mov x26, sp` (`add xd, sp, #0`).
const A64_MOV_X29_SP: u32 = 0x9100_03fd;
const A64_MOV_X25_SP: u32 = 0x9100_03f9;
const A64_MOV_X26_SP: u32 = 0x9100_03fa;
/// What else the prologue has before its pushes end: `bti jc`, `bti j`,
/// `mov x9, lr` (`add x9, x30, #0`, for fentry), `nop`, `paciasp`.
const A64_PROLOGUE_OTHER: [u32; 5] = [
    0xd503_24df,
    0xd503_249f,
    0x9100_03c9,
    0xd503_201f,
    0xd503_233f,
];

/// Reads the layout of an arm64 JITed function from `code`, its first
/// instructions: the pushes up to `mov x25, sp` or the first instruction
/// that is not one of the prologue's. `None` if the code does not start
/// with the frame record (`stp x29, x30, [sp, #-16]!; mov x29, sp`), as
/// the exception callback's does not.
pub fn arm64_layout(code: &[u32]) -> Option<Arm64Layout> {
    let mut layout = Arm64Layout::default();
    // Pairs pushed; the first is the frame record.
    let mut pushes: u16 = 0;
    let mut record = false;
    for &insn in code {
        if insn & A64_PUSH_MASK == A64_PUSH {
            let (a, b) = ((insn & 0x1f) as usize, ((insn >> 10) & 0x1f) as usize);
            if pushes == 0 && (a, b) != (29, 30) {
                return None;
            }
            // `a` at 16 * pushes below the record, `b` 8 above it.
            let below = 16u16.checked_mul(pushes)?;
            for (r, at) in [(a, below), (b, below.wrapping_sub(8))] {
                if let Some(s) = r.checked_sub(19).and_then(|i| layout.saved.get_mut(i)) {
                    if pushes > 0 && *s == 0 {
                        *s = at;
                    }
                }
            }
            pushes = pushes.checked_add(1)?;
        } else if insn == A64_MOV_X29_SP {
            if pushes != 1 {
                return None;
            }
            record = true;
        } else if insn == A64_MOV_X25_SP
            || (insn != A64_MOV_X26_SP && !A64_PROLOGUE_OTHER.contains(&insn))
        {
            // R10 set, or the prologue's pushes are over.
            break;
        }
    }
    // Without `mov x25, sp` the function has no stack: where R10 would be.
    layout.bpf_fp = 16u16.checked_mul(pushes.checked_sub(1)?)?;
    record.then_some(layout)
}

/// arm64: walks like [`frames`], with the layouts of the program's
/// functions (`layouts[i]` that of `funcs[i]`): each frame's R10 and its
/// R6 to R9 at its call, from the registers the throwing function left
/// (`regs`, in the order of [`Regs`]) and each frame's save area. `fp` is
/// the throwing function's frame record, `sp` its stack pointer at the
/// call of `bpf_throw()`. Not the hot path: only a throw that releases
/// something walks this way.
pub fn frames_arm64<S: Stack + ?Sized>(
    stack: &S,
    funcs: &[Func],
    layouts: &[Arm64Layout],
    regs: &Regs,
    sp: usize,
    fp: usize,
    out: &mut [Frame],
) -> Result<usize, WalkError> {
    // R6 to R9 in `Regs`.
    const INDEX: [Saved; 4] = [Saved::Rbx, Saved::R13, Saved::R14, Saved::R15];
    let limit = sp.saturating_add(MAX_SPAN);
    let mut regs = *regs;
    let mut fp = fp;
    if fp <= sp || fp > limit {
        return Err(WalkError::BadFrame { fp });
    }
    let mut ip = stack.return_address(sp);
    let mut n = 0;
    loop {
        let i = funcs
            .iter()
            .position(|f| f.contains(ip.wrapping_sub(1)))
            .ok_or(WalkError::Foreign { ip })?;
        let (f, layout) = match (funcs.get(i), layouts.get(i)) {
            (Some(f), Some(l)) => (f, l),
            _ => return Err(WalkError::Foreign { ip }),
        };
        let bpf_fp = fp
            .checked_sub(usize::from(layout.bpf_fp))
            .filter(|&a| a > sp)
            .ok_or(WalkError::BadFrame { fp })?;
        if let Some(o) = out.get_mut(n) {
            *o = Frame {
                ip,
                fp: bpf_fp,
                regs,
            };
            n += 1;
        }
        if f.main {
            return Ok(n);
        }
        // What the caller held in R6 to R9 at its call: what this
        // function saved, or what it left alone.
        for (&below, r) in layout.saved.iter().zip(INDEX) {
            if below == 0 {
                continue;
            }
            let at = fp
                .checked_sub(usize::from(below))
                .filter(|&a| a > sp)
                .ok_or(WalkError::BadFrame { fp })?;
            if let Some(v) = regs.get_mut(r as usize) {
                *v = stack.read(at);
            }
        }
        let caller_fp = stack.read(fp) as usize;
        if caller_fp <= fp || caller_fp > limit {
            return Err(WalkError::BadFrame { fp: caller_fp });
        }
        ip = stack.return_address(fp + WORD);
        fp = caller_fp;
    }
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

    /// The state at a throw: the arguments of [`unwind`].
    #[derive(Clone, Copy)]
    struct Thrown {
        sp: usize,
        fp: usize,
        regs: Regs,
        /// The frame pointer of the main function, which `unwind` must
        /// return.
        main_fp: usize,
    }

    const CALLER: Regs = [0xf15, 0xf14, 0xf13, 0xb0b, 0xf12];

    fn saved(regs: &[Saved]) -> SavedRegs {
        regs.iter().fold(SavedRegs::default(), |s, r| s.with(*r))
    }

    /// A program: main at 0x1000, subprograms 0x100 apart from 0x2000,
    /// each saving what `uses` says.
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
    /// and so on up to the main function, built call by call as the JIT's
    /// code builds it. Each function clobbers the registers it saved.
    fn throw_through(funcs: &[Func], chain: &[usize]) -> (FakeStack, Thrown) {
        let mut s = FakeStack::default();
        let mut live = CALLER;
        let mut sp = 0x9000usize;
        let mut fp = 0x9abc_0000usize;
        let mut ra = 0xffff_0000u64;
        let mut main_fp = 0;
        for (depth, &fi) in chain.iter().rev().enumerate() {
            let f = &funcs[fi];
            // call: the return address.
            s.put(sp, ra);
            // push rbp; mov rbp, rsp
            sp -= 8;
            s.put(sp, fp as u64);
            fp = sp;
            if depth == 0 {
                main_fp = fp;
            }
            // sub rsp, 16 (a stack), then the pushes r12, rbx, r13-r15.
            sp -= 16;
            for r in [Saved::R12, Saved::Rbx, Saved::R13, Saved::R14, Saved::R15] {
                if f.saved.0 & 1 << r as u8 != 0 {
                    sp -= 8;
                    s.put(sp, live[r as usize]);
                    live[r as usize] = 0xdead_0000 | (depth as u64) << 8 | r as u64;
                }
            }
            // The next call's return address goes below.
            sp -= 8;
            ra = (f.start + 0x10) as u64;
        }
        // bpf_throw()'s return address into the throwing function.
        s.put(sp, ra);
        let thrown = Thrown {
            sp,
            fp,
            regs: live,
            main_fp,
        };
        (s, thrown)
    }

    fn map_of(funcs: &[Func], table: &mut Vec<u8>) -> Map<'static> {
        let g = Geometry::of(funcs).unwrap();
        *table = vec![0; g.len];
        let table: &'static mut [u8] = table.clone().leak();
        let funcs: &'static [Func] = funcs.to_vec().leak();
        Map::build(g, table, funcs)
    }

    fn run_on(s: &FakeStack, map: &Map<'_>, t: &Thrown) -> Result<(usize, Regs), WalkError> {
        let mut regs = t.regs;
        unwind(s, map, &mut regs, t.sp, t.fp).map(|fp| (fp, regs))
    }

    fn run(funcs: &[Func], chain: &[usize]) -> (Result<(usize, Regs), WalkError>, Thrown) {
        let map = map_of(funcs, &mut Vec::new());
        let (s, t) = throw_through(funcs, chain);
        (run_on(&s, &map, &t), t)
    }

    #[test]
    fn frames_are_counted_without_changing_anything() {
        use Saved::*;
        let funcs = program(&[&[Rbx], &[R13], &[], &[R12, R15]]);
        let map = map_of(&funcs, &mut Vec::new());
        for (chain, want) in [
            (&[0][..], 1),
            (&[1, 0][..], 2),
            (&[3, 2, 1, 0][..], 4),
            (&[2, 2, 2, 2, 2, 2, 2, 0][..], 8),
        ] {
            let (s, t) = throw_through(&funcs, chain);
            assert_eq!(count_frames(&s, &map, &t.regs, t.sp, t.fp), Ok(want));
            // The unwind that follows sees the same stack and registers.
            assert_eq!(run_on(&s, &map, &t), Ok((t.main_fp, CALLER)));
        }
        // A foreign frame fails the count as it fails the unwind.
        let (mut s, t) = throw_through(&funcs, &[1, 0]);
        s.put(t.sp, 0x5555_0000);
        assert_eq!(
            count_frames(&s, &map, &t.regs, t.sp, t.fp),
            Err(WalkError::Foreign { ip: 0x5555_0000 })
        );
    }

    #[test]
    fn frames_hold_each_frames_registers() {
        use Saved::*;
        let funcs = program(&[&[Rbx, R13], &[R13], &[], &[R12, R15]]);
        let map = map_of(&funcs, &mut Vec::new());
        let chain = [3, 2, 1, 0];
        let (s, t) = throw_through(&funcs, &chain);
        let mut out = [Frame::default(); 8];
        assert_eq!(frames(&s, &map, &t.regs, t.sp, t.fp, &mut out), Ok(4));
        // The throwing frame holds the registers as it left them.
        assert_eq!(out[0].regs, t.regs);
        assert_eq!(out[0].fp, t.fp);
        assert_eq!(out[3].fp, t.main_fp);
        for (f, &fi) in out.iter().zip(&chain) {
            // Each frame is suspended in a call in its own function.
            assert!(funcs[fi].contains(f.ip - 1), "{f:x?}");
        }
        // Each outer frame holds what the next inner one saved: main's R7
        // is what subprog 1 saved, and R6 what main itself had.
        assert_eq!(out[3].regs[R13 as usize], 0xdead_0000 | 2);
        assert_eq!(out[3].regs[Rbx as usize], 0xdead_0000 | 3);
        assert_eq!(out[2].regs[R15 as usize], CALLER[R15 as usize]);
        assert_eq!(out[1].regs[R13 as usize], 0xdead_0000 | 1 << 8 | 2);
        // The unwind that follows sees the same stack and registers.
        assert_eq!(run_on(&s, &map, &t), Ok((t.main_fp, CALLER)));
        // Room for fewer frames: the walk goes on, and fills what it can.
        assert_eq!(frames(&s, &map, &t.regs, t.sp, t.fp, &mut out[..2]), Ok(2));
    }

    #[test]
    fn sites_are_found_across_functions_in_any_address_order() {
        // Subprog 1 lies below main; the sites are sorted by their ends.
        let funcs = [
            Func {
                start: 0x3000,
                end: 0x3080,
                saved: SavedRegs::default(),
                main: true,
            },
            Func {
                start: 0x1000,
                end: 0x1080,
                saved: SavedRegs::default(),
                main: false,
            },
        ];
        let site = |end, func, insn| Site {
            end,
            func,
            insn,
            orig: insn,
        };
        let sites = [site(0x1020, 1, 30), site(0x1070, 1, 33), site(0x3010, 0, 2)];
        assert_eq!(site_of(&funcs, &sites, 0x1020).map(|s| s.insn), Some(30));
        assert_eq!(site_of(&funcs, &sites, 0x1070).map(|s| s.insn), Some(33));
        assert_eq!(site_of(&funcs, &sites, 0x3010).map(|s| s.insn), Some(2));
        // Past subprog 1's last call: the next site is main's, not taken.
        assert_eq!(site_of(&funcs, &sites, 0x1078), None);
        assert_eq!(site_of(&funcs, &sites, 0x3020), None);
    }

    #[test]
    fn the_site_of_a_return_address() {
        let funcs = program(&[&[], &[], &[]]);
        // main (0x1000..0x1080) calls bpf_throw() in instructions 3 and 9,
        // subprog 1 (0x2100..0x2180) in 14, subprog 2 in none.
        let sites = [
            Site {
                end: 0x1010,
                func: 0,
                insn: 3,
                orig: 103,
            },
            Site {
                end: 0x1040,
                func: 0,
                insn: 9,
                orig: 109,
            },
            Site {
                end: 0x2120,
                func: 1,
                insn: 14,
                orig: 114,
            },
        ];
        // x86-64: the call is the end of its instruction's code.
        assert_eq!(site_of(&funcs, &sites, 0x1010).map(|s| s.insn), Some(3));
        assert_eq!(site_of(&funcs, &sites, 0x1040).map(|s| s.insn), Some(9));
        assert_eq!(site_of(&funcs, &sites, 0x2120).map(|s| s.insn), Some(14));
        // arm64: a move of the result follows the call.
        assert_eq!(site_of(&funcs, &sites, 0x103c).map(|s| s.insn), Some(9));
        assert_eq!(site_of(&funcs, &sites, 0x211c).map(|s| s.insn), Some(14));
        // Past the last call of its function, or in a function without
        // calls, or outside the program: none, never another function's.
        assert_eq!(site_of(&funcs, &sites, 0x1050), None);
        assert_eq!(site_of(&funcs, &sites, 0x2210), None);
        assert_eq!(site_of(&funcs, &sites, 0x9000), None);
        assert_eq!(site_of(&funcs, &[], 0x1010), None);
    }

    #[test]
    fn throw_from_main_restores_what_it_saved() {
        let funcs = program(&[&[Saved::Rbx, Saved::R15], &[]]);
        let (got, t) = run(&funcs, &[0]);
        assert_eq!(got, Ok((t.fp, CALLER)));
        assert_eq!(t.fp, t.main_fp);
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
            let (got, t) = run(&funcs, &chain);
            assert_eq!(got, Ok((t.main_fp, CALLER)), "depth {depth}");
        }
    }

    /// A stack whose stored return addresses carry a signature in their
    /// top bits, as arm64's pointer authentication leaves them, and which
    /// strips it as `xpaclri` does.
    struct SignedStack(FakeStack);

    const PAC: u64 = 0x005a_0000_0000_0000;

    impl Stack for SignedStack {
        fn read(&self, addr: usize) -> u64 {
            self.0.read(addr)
        }

        fn return_address(&self, addr: usize) -> usize {
            (self.read(addr) & !PAC) as usize
        }
    }

    #[test]
    fn signed_return_addresses_are_stripped() {
        // arm64: nothing saved in any frame (the boundary's save area is
        // the callback's), every stored return address signed.
        let funcs = program(&[&[], &[], &[]]);
        let map = map_of(&funcs, &mut Vec::new());
        let (mut s, t) = throw_through(&funcs, &[2, 1, 0]);
        let signed: Vec<(usize, u64)> = s
            .words
            .iter()
            .filter(|(_, &v)| v >= 0x1000 && v < 0x3000)
            .map(|(&a, &v)| (a, v | PAC))
            .collect();
        assert_eq!(signed.len(), 3);
        for (a, v) in signed {
            s.put(a, v);
        }
        let s = SignedStack(s);
        let mut regs = t.regs;
        assert_eq!(unwind(&s, &map, &mut regs, t.sp, t.fp), Ok(t.main_fp));
        // Without stripping, the first signed address is foreign.
        let mut regs = t.regs;
        assert!(matches!(
            unwind(&s.0, &map, &mut regs, t.sp, t.fp),
            Err(WalkError::Foreign { .. })
        ));
    }

    #[test]
    fn a_function_called_twice_in_the_chain() {
        let funcs = program(&[&[], &[Saved::R14], &[Saved::Rbx]]);
        let (got, t) = run(&funcs, &[1, 2, 1, 0]);
        assert_eq!(got, Ok((t.main_fp, CALLER)));
    }

    #[test]
    fn reads_stay_in_the_unwound_frames() {
        let funcs = program(&[&[Saved::Rbx], &[Saved::R13], &[]]);
        let map = map_of(&funcs, &mut Vec::new());
        let (s, t) = throw_through(&funcs, &[2, 1, 0]);
        run_on(&s, &map, &t).unwrap();
        let reads = s.reads.borrow();
        assert!(reads.iter().all(|&a| a >= t.sp && a < t.main_fp));
    }

    #[test]
    fn foreign_return_address() {
        let funcs = program(&[&[], &[]]);
        let map = map_of(&funcs, &mut Vec::new());
        let (mut s, t) = throw_through(&funcs, &[1, 0]);
        // As if a trampoline had called function 1.
        s.put(t.fp + 8, 0x7000);
        assert_eq!(run_on(&s, &map, &t), Err(WalkError::Foreign { ip: 0x7000 }));
    }

    #[test]
    fn bad_frame_pointers() {
        let funcs = program(&[&[], &[]]);
        let map = map_of(&funcs, &mut Vec::new());
        let (mut s, t) = throw_through(&funcs, &[1, 0]);
        for bad in [t.fp - 8, t.fp, t.sp + MAX_SPAN + 8] {
            s.put(t.fp, bad as u64);
            assert_eq!(run_on(&s, &map, &t), Err(WalkError::BadFrame { fp: bad }));
        }
        for fp in [t.sp, t.sp - 8, t.sp + MAX_SPAN + 8] {
            let t = Thrown { fp, ..t };
            assert_eq!(run_on(&s, &map, &t), Err(WalkError::BadFrame { fp }));
        }
    }

    #[test]
    fn endless_chain_stops() {
        // Frame records that keep returning into a subprogram stop at
        // MAX_SPAN.
        let funcs = program(&[&[], &[]]);
        let map = map_of(&funcs, &mut Vec::new());
        let mut s = FakeStack::default();
        let sp = 0x1_0000;
        s.put(sp, 0x2110);
        let mut fp = sp + 0x10;
        while fp <= sp + MAX_SPAN + 0x40 {
            s.put(fp, (fp + 0x40) as u64);
            s.put(fp + 8, 0x2110);
            fp += 0x40;
        }
        let mut regs = CALLER;
        assert!(matches!(
            unwind(&s, &map, &mut regs, sp, sp + 0x10),
            Err(WalkError::BadFrame { .. })
        ));
        assert!(s.reads.borrow().len() < 2 * MAX_SPAN / 0x40 + 4);
    }

    #[test]
    fn map_finds_each_function_and_nothing_else() {
        let funcs = program(&[&[Saved::Rbx], &[], &[Saved::R12], &[]]);
        let g = Geometry::of(&funcs).unwrap();
        assert_eq!((g.base, g.shift), (0x1000, GRANULE_SHIFT));
        let map = map_of(&funcs, &mut Vec::new());
        for f in &funcs {
            let want = Some((f.main, f.saved));
            assert_eq!(map.find(f.start), want);
            assert_eq!(map.find(f.end - 1), want);
            assert_eq!(map.find(f.end), None);
        }
        assert_eq!(map.find(0x0fff), None);
        assert_eq!(map.find(0x1800), None);
        assert_eq!(map.find(usize::MAX), None);
    }

    #[test]
    fn wide_spans_get_coarse_granules_that_are_searched() {
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
        let map = map_of(&funcs, &mut Vec::new());
        for f in &funcs {
            assert_eq!(map.find(f.start + 1), Some((f.main, f.saved)));
        }
        assert_eq!(map.find(0x100_0050), None);
        assert_eq!(map.find(0x200_0100), None);
    }

    /// xorshift64*: deterministic randomness for the property tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn random_saved(rng: &mut Rng) -> SavedRegs {
        SavedRegs((rng.next() & 0x1f) as u8)
    }

    /// Random programs (1 to 9 functions, random save sets, random sizes
    /// and places, main anywhere) and random call chains of depth 0 to 8,
    /// functions repeating: every throw unwinds to the main function's
    /// frame and gives the caller back every register.
    #[test]
    fn random_programs_and_chains_unwind() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for round in 0..20_000 {
            let n = 1 + rng.below(9);
            // Ranges apart, adjacent, or far (coarse granules), then
            // handed to the functions in random order.
            let mut ranges = Vec::new();
            let mut at = 0x10_0000 + 64 * rng.below(1 << 10);
            for _ in 0..n {
                let len = 64 * (1 + rng.below(40));
                ranges.push((at, at + len));
                at += len + 64 * [0, 1, 7, 1 << 14][rng.below(4)];
            }
            for i in (1..n).rev() {
                ranges.swap(i, rng.below(i + 1));
            }
            let funcs: Vec<Func> = ranges
                .iter()
                .enumerate()
                .map(|(i, &(start, end))| Func {
                    start,
                    end,
                    saved: random_saved(&mut rng),
                    main: i == 0,
                })
                .collect();
            let depth = rng.below(9);
            let mut chain: Vec<usize> = (0..depth)
                .map(|_| if n > 1 { 1 + rng.below(n - 1) } else { 0 })
                .filter(|&f| f != 0)
                .collect();
            chain.push(0);
            let (got, t) = run(&funcs, &chain);
            assert_eq!(got, Ok((t.main_fp, CALLER)), "round {round}: {chain:?}");
        }
    }

    /// Random words on the stack and random registers: the walk always
    /// ends, with an answer or an error, reads only inside the frames it
    /// may read, and never panics.
    #[test]
    fn random_stacks_end_and_stay_in_bounds() {
        let mut rng = Rng(0x0bad_5eed_0000_0002);
        let funcs = program(&[&[Saved::Rbx], &[], &[Saved::R12, Saved::R15], &[Saved::R13]]);
        let map = map_of(&funcs, &mut Vec::new());
        let sp = 0x8000usize;
        for _ in 0..20_000 {
            let mut s = FakeStack::default();
            // Each word: a return address into a function, a frame
            // pointer nearby (maybe going down), or noise.
            for w in 0..(MAX_SPAN / WORD + 8) {
                let v = match rng.below(4) {
                    0 => (funcs[rng.below(funcs.len())].start + 8 * rng.below(16)) as u64,
                    1 => (sp + 8 * rng.below(MAX_SPAN / WORD + 16)) as u64,
                    2 => (sp + 8 * w + 8 * rng.below(64)) as u64,
                    _ => rng.next(),
                };
                s.put(sp + w * WORD, v);
            }
            let fp = sp + 8 * (1 + rng.below(64));
            let mut regs = CALLER;
            let _ = unwind(&s, &map, &mut regs, sp, fp);
            let reads = s.reads.borrow();
            // A frame record at most MAX_SPAN above, and the five-word save
            // area just above the record below it.
            assert!(reads
                .iter()
                .all(|&a| a >= sp && a < sp + MAX_SPAN + 8 * WORD));
            assert!(reads.len() <= MAX_SPAN / WORD + 8);
        }
    }

    /// An arm64 prologue as upstream's JIT emits it: a subprog (`main`
    /// false) pushing the registers `used` (x19 to x22, x25, x28) in pairs,
    /// or the exception boundary pushing x19 to x28.
    fn a64_prologue(main: bool, used: &[u32]) -> Vec<u32> {
        let push = |a: u32, b: u32| A64_PUSH | a | b << 10;
        let mut code = vec![0xd503_24df, 0x9100_03c9, 0xd503_201f, 0xd503_233f];
        code.push(push(29, 30));
        code.push(A64_MOV_X29_SP);
        if main {
            code.push(push(31, 26));
            code.push(A64_MOV_X26_SP);
            code.push(0xd503_249f);
            for r in [19, 21, 23, 25, 27] {
                code.push(push(r, r + 1));
            }
        } else {
            code.push(push(26, 26));
            for pair in used.chunks(2) {
                code.push(push(pair[0], *pair.get(1).unwrap_or(&31)));
            }
        }
        if main || used.contains(&25) {
            code.push(A64_MOV_X25_SP);
        }
        // sub sp, sp, #32; then the body.
        code.extend([0xd100_83ff, A64_PUSH | 19 | 20 << 10]);
        code
    }

    #[test]
    fn arm64_layouts_are_read_from_the_prologue() {
        let l = arm64_layout(&a64_prologue(true, &[])).unwrap();
        // The boundary: x19/x20 at -32, x21/x22 at -48; R10 at -96.
        assert_eq!(
            l,
            Arm64Layout {
                saved: [32, 24, 48, 40],
                bpf_fp: 96
            }
        );
        let l = arm64_layout(&a64_prologue(false, &[19, 21, 25])).unwrap();
        assert_eq!(
            l,
            Arm64Layout {
                saved: [32, 0, 24, 0],
                bpf_fp: 48
            }
        );
        let l = arm64_layout(&a64_prologue(false, &[20, 22])).unwrap();
        assert_eq!(
            l,
            Arm64Layout {
                saved: [0, 32, 0, 24],
                bpf_fp: 32
            }
        );
        let l = arm64_layout(&a64_prologue(false, &[19, 20, 21, 22, 25])).unwrap();
        assert_eq!(
            l,
            Arm64Layout {
                saved: [32, 24, 48, 40],
                bpf_fp: 64
            }
        );
        // Nothing but the tail call count: no save, R10 right below it.
        let l = arm64_layout(&a64_prologue(false, &[])).unwrap();
        assert_eq!(
            l,
            Arm64Layout {
                saved: [0; 4],
                bpf_fp: 16
            }
        );
        // The pushes of the body are not the prologue's.
        assert_eq!(
            arm64_layout(&a64_prologue(false, &[25])),
            arm64_layout(&a64_prologue(false, &[25])[..9])
        );
        // The exception callback pushes no frame record; nor does code
        // that is not a JITed function.
        assert_eq!(
            arm64_layout(&[0xd503_24df, 0x9100_03c9, 0xd503_201f, 0x9100_005d]),
            None
        );
        assert_eq!(
            arm64_layout(&[A64_PUSH | 19 | 20 << 10, A64_MOV_X29_SP]),
            None
        );
        assert_eq!(arm64_layout(&[]), None);
    }

    /// The stack of an arm64 throw from `chain[0]`, called by `chain[1]`
    /// and so on up to main, as upstream's JIT builds it; `used[i]` is
    /// what function `i` pushes. Returns the stack, the throwing
    /// function's stack pointer (at bpf_throw()'s return address) and
    /// frame record, the registers x19 to x22 as it left them (in the
    /// order of `Regs`), and each frame's frame record.
    fn a64_throw_through(
        funcs: &[Func],
        used: &[&[u32]],
        chain: &[usize],
    ) -> (FakeStack, usize, usize, Regs, Vec<usize>) {
        let mut s = FakeStack::default();
        // x19 to x22 by number.
        let mut live = [0u64; 32];
        for r in 19..=22 {
            live[r] = 0xca11_0000 | r as u64;
        }
        let mut sp = 0x9000usize;
        let mut fp = 0x9abc_0000usize;
        let mut lr = 0xffff_0000u64;
        let mut records = Vec::new();
        for (depth, &fi) in chain.iter().rev().enumerate() {
            let main = depth == 0;
            fn push(s: &mut FakeStack, sp: &mut usize, a: u64, b: u64) {
                *sp -= 16;
                s.put(*sp, a);
                s.put(*sp + 8, b);
            }
            push(&mut s, &mut sp, fp as u64, lr);
            fp = sp;
            records.push(fp);
            push(&mut s, &mut sp, 0, 0);
            let saved: Vec<u32> = if main {
                (19..=28).collect()
            } else {
                used[fi].to_vec()
            };
            for pair in saved.chunks(2) {
                let v = |r: u32| live.get(r as usize).copied().unwrap_or(0);
                let b = pair.get(1).map_or(0, |&r| v(r));
                push(&mut s, &mut sp, v(pair[0]), b);
            }
            for &r in saved.iter().filter(|&&r| (19..=22).contains(&r)) {
                live[r as usize] = 0xdead_0000 | (depth as u64) << 8 | r as u64;
            }
            // The BPF stack, 32 bytes, then the call.
            sp -= 32;
            lr = (funcs[fi].start + 0x10) as u64;
        }
        // bpf_exceptions_throw's store of the return address.
        sp -= 16;
        s.put(sp, lr);
        let regs = [live[22], live[21], live[20], live[19], 0];
        records.reverse();
        (s, sp, fp, regs, records)
    }

    #[test]
    fn arm64_frames_hold_each_frames_registers() {
        let used: [&[u32]; 4] = [&[], &[19, 20, 25], &[], &[22, 25]];
        let funcs = program(&[&[], &[], &[], &[]]);
        let layouts: Vec<Arm64Layout> = used
            .iter()
            .enumerate()
            .map(|(i, u)| arm64_layout(&a64_prologue(i == 0, u)).unwrap())
            .collect();
        let chain = [3, 2, 1, 0];
        let (s, sp, fp, regs, records) = a64_throw_through(&funcs, &used, &chain);
        let mut out = [Frame::default(); 8];
        assert_eq!(
            frames_arm64(&s, &funcs, &layouts, &regs, sp, fp, &mut out),
            Ok(4)
        );
        for (k, (f, &fi)) in out.iter().zip(&chain).enumerate() {
            assert!(funcs[fi].contains(f.ip - 1), "{f:x?}");
            // R10 below the frame record by what the prologue pushed.
            assert_eq!(f.fp, records[k] - usize::from(layouts[fi].bpf_fp));
        }
        assert_eq!(out[3].fp, records[3] - 96);
        // The throwing frame holds the registers as it left them.
        assert_eq!(out[0].regs, regs);
        // Subprog 3 saved R9 (x22), which main had set: subprogs 2 and 1
        // hold that; their R6 is what subprog 1 set, which nothing saved.
        let r = |f: &Frame, s: Saved| f.regs[s as usize];
        assert_eq!(r(&out[2], Saved::R15), 0xdead_0000 | 22);
        assert_eq!(r(&out[2], Saved::Rbx), 0xdead_0000 | 1 << 8 | 19);
        assert_eq!(r(&out[1], Saved::Rbx), 0xdead_0000 | 1 << 8 | 19);
        // Main's R6 and R7 are what subprog 1 saved, its R8 and R9 what
        // main had.
        assert_eq!(r(&out[3], Saved::Rbx), 0xdead_0000 | 19);
        assert_eq!(r(&out[3], Saved::R13), 0xdead_0000 | 20);
        assert_eq!(r(&out[3], Saved::R14), 0xdead_0000 | 21);
        assert_eq!(r(&out[3], Saved::R15), 0xdead_0000 | 22);
        // Every read lay in the unwound frames.
        assert!(s
            .reads
            .borrow()
            .iter()
            .all(|&a| a >= sp && a < records[3] + 16));
    }

    #[test]
    fn arm64_frames_refuse_foreign_and_bad_frames() {
        let used: [&[u32]; 2] = [&[], &[19]];
        let funcs = program(&[&[], &[]]);
        let layouts = [
            arm64_layout(&a64_prologue(true, &[])).unwrap(),
            arm64_layout(&a64_prologue(false, &[19])).unwrap(),
        ];
        let (s, sp, fp, regs, _) = a64_throw_through(&funcs, &used, &[1, 0]);
        let mut out = [Frame::default(); 8];
        assert_eq!(
            frames_arm64(&s, &funcs, &layouts, &regs, sp, fp, &mut out),
            Ok(2)
        );
        // A layout missing: foreign.
        assert!(matches!(
            frames_arm64(&s, &funcs, &layouts[..1], &regs, sp, fp, &mut out),
            Err(WalkError::Foreign { .. })
        ));
        // A frame record at or below the stack pointer.
        assert!(matches!(
            frames_arm64(&s, &funcs, &layouts, &regs, sp, sp, &mut out),
            Err(WalkError::BadFrame { .. })
        ));
        // A save area that would lie below the stack pointer.
        let deep = [
            Arm64Layout {
                saved: [0; 4],
                bpf_fp: 96,
            },
            Arm64Layout {
                saved: [0x200, 0, 0, 0],
                bpf_fp: 16,
            },
        ];
        assert!(matches!(
            frames_arm64(&s, &funcs, &deep, &regs, sp, fp, &mut out),
            Err(WalkError::BadFrame { .. })
        ));
    }
}
