// SPDX-License-Identifier: GPL-2.0

//! What a throw releases.
//!
//! A program may throw while it holds resources: references to kernel
//! objects and to its own objects, ring buffer records, an RCU read section
//! or disabled preemption. The verifier knows, at each call of
//! `bpf_throw()` it walks, every reference the program holds and where each
//! one lies: in R6 to R9 or an 8-byte stack slot of one of the frames the
//! throw unwinds. It records that as a [`Held`]: the chain of calls that
//! leads to the throw (one call site per frame, the outermost first, the
//! call of `bpf_throw()` last) and, for each reference, a [`Release`]: the
//! frame, the place and how to release it.
//!
//! The verifier walks a call of `bpf_throw()` once per path that reaches it
//! with a different state. Every path with the same chain must leave the
//! same [`Release`]s (and the same RCU and preemption counts); a program
//! whose paths differ is refused (`Conflict`). The unwinder can then
//! release by the chain alone, without any bookkeeping when the program
//! acquires or releases: the code that does not throw runs as before. The
//! verifier marks each place it records as read by the throw, so that
//! state pruning never takes a path that holds something elsewhere for one
//! that was walked.
//!
//! At a throw the unwinder walks the frames (see [`crate::unwind::frames`]),
//! maps each frame's return address to its call site and finds the
//! [`Held`] whose chain is the innermost frames' sites ([`find`]); a chain
//! may start at a global subprog, which the verifier walks on its own.
//! Then it releases, the innermost frame first, each value that is not
//! NULL (a reference that may be NULL is held only where it is not), then
//! leaves the RCU read sections and enables preemption.
//!
//! This module uses no kernel types, so it also builds and is tested on the
//! host with `cargo test`.

use crate::unwind::{Frame, Saved, Stack};

/// The most frames a chain has: `MAX_CALL_FRAMES`.
pub const MAX_FRAMES: usize = 8;

/// Where a frame holds a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Loc {
    /// A register: R6 to R9 in any frame; R0 or R3 to R5 (the caller-saved
    /// registers that are not `bpf_throw()`'s cookie or the program's aux)
    /// only in the frame that calls `bpf_throw()`, where the entry of the
    /// unwinder saves them.
    Reg(u8),
    /// The stack slot `n`: the eight bytes at `fp - 8 * (n + 1)`.
    Slot(u16),
}

/// How a reference is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// By the kernel object's BTF destructor, `void dtor(void *)`, at this
    /// address (`bpf_task_release_dtor()` and the like).
    Dtor(usize),
    /// By `bpf_obj_drop_impl(p, meta)`, with the type's `btf_struct_meta`
    /// at this address (or 0).
    ObjDrop(usize),
    /// By `bpf_percpu_obj_drop_impl(p, NULL)`.
    PercpuObjDrop,
    /// By `bpf_ringbuf_discard(p, 0)`.
    RingbufDiscard,
    /// By `bpf_sk_release(p)`: a socket of `bpf_sk_lookup_tcp()` and the
    /// like.
    SkRelease,
    /// By `bpf_put_file(p)`: a file of `bpf_get_task_exe_file()`, the one
    /// kfunc of 6.12 that acquires a `struct file` (for LSM programs),
    /// which has no BTF destructor.
    PutFile,
    /// A ring buffer dynptr that the stack slot starts, by
    /// `bpf_ringbuf_discard_dynptr(&dynptr, 0)`. Its first eight bytes are
    /// the record, zero when there is none.
    DynptrDiscard,
    /// An open-coded iterator that the stack slot starts, by its
    /// `bpf_iter_<type>_destroy(&iter)`. It is destroyed whatever its bytes
    /// hold, so it may not be zero on another path.
    IterDestroy(Iter),
    /// An open-coded iterator that the place does not hold but finds: the
    /// place is a stack slot of its own for the iterator's frame pointer
    /// (its *handle*), which the program stores there after the call that
    /// makes the iterator and clears after the one that destroys it, and
    /// the iterator starts `off` bytes below the frame pointer. By
    /// `bpf_iter_<type>_destroy()`, where the handle is not zero. The
    /// verifier gives an iterator a handle where paths leave something
    /// else in its slots that its destroy would read.
    IterAt(Iter),
    /// A ring buffer dynptr found by its handle, as [`Kind::IterAt`] finds
    /// an iterator: by `bpf_ringbuf_discard_dynptr(&dynptr, 0)`, where the
    /// handle is not zero and the dynptr has a record.
    DynptrAt,
}

/// The open-coded iterators of vmlinux that a throw destroys. Each is
/// destroyed by a direct call of its `bpf_iter_<type>_destroy()`: the
/// kernel never calls those through a pointer, so with IBT they have no
/// `endbr64` to land on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Iter {
    /// `bpf_iter_num`, of `bpf_for()`.
    Num,
    /// `bpf_iter_bits`.
    Bits,
    /// `bpf_iter_task_vma`.
    TaskVma,
    /// `bpf_iter_task`.
    Task,
    /// `bpf_iter_css`.
    Css,
    /// `bpf_iter_css_task`.
    CssTask,
}

impl Iter {
    /// The iterator whose BTF type is named `name`; `None` for another
    /// (`bpf_iter_scx_dsq` of sched_ext, or a module's), which a throw
    /// does not destroy.
    pub fn of_name(name: &[u8]) -> Option<Iter> {
        Some(match name {
            b"bpf_iter_num" => Iter::Num,
            b"bpf_iter_bits" => Iter::Bits,
            b"bpf_iter_task_vma" => Iter::TaskVma,
            b"bpf_iter_task" => Iter::Task,
            b"bpf_iter_css" => Iter::Css,
            b"bpf_iter_css_task" => Iter::CssTask,
            _ => return None,
        })
    }
}

impl Kind {
    /// Whether the place holds the resource itself (a dynptr or an
    /// iterator in the stack), whose address its destructor takes, rather
    /// than a pointer to it.
    pub fn in_place(self) -> bool {
        matches!(self, Kind::DynptrDiscard | Kind::IterDestroy(_))
    }

    /// Whether the unwinder releases the resource only where its place is
    /// not zero: a pointer (NULL where nothing was acquired) or a ring
    /// buffer dynptr (no record). An iterator is destroyed whatever its
    /// bytes hold: see [`Release::absent`].
    pub fn may_be_zero(self) -> bool {
        !matches!(self, Kind::IterDestroy(_))
    }

    /// The iterator it destroys, in place or by its handle.
    pub fn iter(self) -> Option<Iter> {
        match self {
            Kind::IterDestroy(it) | Kind::IterAt(it) => Some(it),
            _ => None,
        }
    }

    /// Whether the place is a handle: a resource in place, found by the
    /// pointer of its frame that the place holds.
    pub fn by_handle(self) -> bool {
        matches!(self, Kind::IterAt(_) | Kind::DynptrAt)
    }

    /// The stack slots that the resource in place it releases, in place
    /// or by its handle, takes: its type's size in eight-byte words.
    fn slots(self) -> u16 {
        match self {
            Kind::DynptrDiscard | Kind::DynptrAt => 2,
            Kind::IterDestroy(it) | Kind::IterAt(it) => it.slots(),
            _ => 1,
        }
    }

    /// How a resource in place is released by a handle.
    pub fn with_handle(self) -> Option<Kind> {
        match self {
            Kind::IterDestroy(it) => Some(Kind::IterAt(it)),
            Kind::DynptrDiscard => Some(Kind::DynptrAt),
            _ => None,
        }
    }
}

impl Iter {
    /// The slot, counted down from the iterator's first (so at a lower
    /// index, a higher address), whose bytes `bpf_iter_<type>_destroy()`
    /// of 6.12 reads to decide whether it frees anything: it frees
    /// nothing where they are zero. `None` for the destroys that read
    /// nothing: `bpf_iter_num_destroy()` zeroes the iterator's eight
    /// bytes, `bpf_iter_task_destroy()` and `bpf_iter_css_destroy()` are
    /// empty (those iterators hold no reference, only the RCU read
    /// section they run in).
    /// Its size in eight-byte words, as 6.12's `struct bpf_iter_<type>`
    /// declares its `__opaque` state.
    fn slots(self) -> u16 {
        match self {
            Iter::Num | Iter::TaskVma | Iter::CssTask => 1,
            Iter::Bits => 2,
            Iter::Task | Iter::Css => 3,
        }
    }

    fn read_slot(self) -> Option<u16> {
        match self {
            Iter::Num | Iter::Task | Iter::Css => None,
            // `nr_bits`, at byte 8: the words are freed only above 64.
            Iter::Bits => Some(1),
            // `data` and `css_it`, at byte 0.
            Iter::TaskVma | Iter::CssTask => Some(0),
        }
    }
}

/// What a path that does not hold a resource must hold where another path
/// does, for a throw to release both paths by one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absent {
    /// Zero in this place (of this frame): the unwinder then releases
    /// nothing.
    Zero(u8, Loc),
    /// Anything: the release reads nothing there (an iterator whose
    /// destroy reads nothing).
    Anything,
}

/// One reference that a throw releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Release {
    /// The frame that holds it, 0 for the outermost of the chain.
    pub frame: u8,
    /// Where in the frame.
    pub loc: Loc,
    /// How to release it.
    pub kind: Kind,
    /// Where the place points in the resource (a pointer to a field, such
    /// as the list node of an object popped from a list): the resource
    /// starts `off` bytes before the value. 0 for a resource in place.
    pub off: i16,
}

impl Release {
    /// What a path that lacks the resource must hold instead: zero in its
    /// place for a pointer or a dynptr; for an iterator, zero where its
    /// destroy reads (see [`Iter::read_slot`]), or anything.
    pub fn absent(&self) -> Absent {
        match (self.kind, self.loc) {
            (Kind::IterDestroy(it), Loc::Slot(n)) => match it.read_slot() {
                None => Absent::Anything,
                Some(d) => Absent::Zero(self.frame, Loc::Slot(n.wrapping_sub(d))),
            },
            _ => Absent::Zero(self.frame, self.loc),
        }
    }

    /// Whether a path with zeros `zeros` may lack the resource.
    pub fn may_lack(&self, zeros: &Zeros) -> bool {
        match self.absent() {
            Absent::Anything => true,
            Absent::Zero(f, l) => zeros.has(f, l),
        }
    }

    /// The first slot, in its frame, of the resource in place it releases,
    /// in place or by its handle (which holds the frame's pointer).
    pub fn first_slot(&self) -> Option<u16> {
        match (self.kind, self.loc) {
            (k, Loc::Slot(n)) if k.in_place() => Some(n),
            (k, _) if k.by_handle() && self.off >= 8 && self.off % 8 == 0 => {
                Some(self.off as u16 / 8 - 1)
            }
            _ => None,
        }
    }

    /// The slots of its frame, lowest index first, that the resource in
    /// place it releases takes: its first slot and those below it.
    fn slots(&self) -> Option<(u16, u16)> {
        let first = self.first_slot()?;
        Some((first.checked_sub(self.kind.slots() - 1)?, first))
    }

    /// The pointer to release, from `value`, what the place holds.
    pub fn base(&self, value: u64) -> u64 {
        value.wrapping_sub(self.off as i64 as u64)
    }
}

/// What the throws from one chain of calls leave held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Held {
    /// The call sites, as instruction indices of the program as loaded:
    /// `chain[0]` in the outermost frame, `chain[depth - 1]` the call of
    /// `bpf_throw()`.
    pub chain: [u32; MAX_FRAMES],
    /// The frames of the chain.
    pub depth: u8,
    /// RCU read sections to leave.
    pub rcu: u8,
    /// Times to enable preemption.
    pub preempt: u32,
    /// Its releases are `len` entries of the table from `first`.
    pub first: u32,
    /// See `first`.
    pub len: u32,
}

impl Held {
    /// The chain, outermost first.
    pub fn calls(&self) -> &[u32] {
        self.chain.get(..self.depth as usize).unwrap_or(&[])
    }

    /// Whether the throw releases nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0 && self.rcu == 0 && self.preempt == 0
    }
}

/// Why two walks of one chain do not agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict;

/// The releases of a chain, in the order the verifier records them.
pub fn releases<'a>(held: &Held, table: &'a [Release]) -> &'a [Release] {
    let first = held.first as usize;
    table
        .get(first..first.saturating_add(held.len as usize))
        .unwrap_or(&[])
}

/// Puts a walk's releases in their canonical order: by frame, then place.
/// A reference lies in one place only ([`choose`]), so no two compare
/// equal.
pub fn sort(releases: &mut [Release]) {
    releases.sort_unstable();
}

/// The places of a walk's frames that hold zero (a NULL pointer): R6 to
/// R9 and the stack slots, per frame of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Zeros([u128; MAX_FRAMES]);

impl Zeros {
    fn bit(loc: Loc) -> Option<u32> {
        match loc {
            Loc::Reg(r @ 0..=9) => Some(u32::from(r)),
            Loc::Slot(n) if n < 118 => Some(u32::from(n) + 10),
            _ => None,
        }
    }

    /// Notes that `loc` of `frame` holds zero.
    pub fn set(&mut self, frame: u8, loc: Loc) {
        if let (Some(w), Some(b)) = (self.0.get_mut(usize::from(frame)), Self::bit(loc)) {
            *w |= 1 << b;
        }
    }

    /// Keeps only the zeros that `other` has too.
    pub fn and(&mut self, other: &Zeros) {
        for (w, o) in self.0.iter_mut().zip(other.0.iter()) {
            *w &= o;
        }
    }

    /// Whether `loc` of `frame` holds zero.
    pub fn has(&self, frame: u8, loc: Loc) -> bool {
        match (self.0.get(usize::from(frame)), Self::bit(loc)) {
            (Some(w), Some(b)) => w & (1 << b) != 0,
            _ => false,
        }
    }
}

/// Merges a new walk of a chain (its releases `new`, sorted, and its
/// zeros `new_zeros`) into what the earlier walks recorded (`old`,
/// sorted, and `old_zeros`, the places where every one of them held
/// zero), pushing the merged releases, sorted, with `push`.
///
/// A place may hold a reference on one walk and zero (NULL) on others: a
/// reference acquired on some paths only. An iterator may be held on one
/// walk only if the others hold zero where its destroy reads, or
/// anything if it reads nothing ([`Release::absent`]). The verifier must
/// have marked those zeros precise on those walks, so that state pruning
/// keeps them zero; it marks the zeros that the chain's releases rely on,
/// and from the chain's first walk those that the releases `hinted`
/// names rely on (see [`hints`]). So a resource on the new walk where the
/// earlier walks released nothing is merged only if its place is hinted
/// and every earlier walk may lack it.
///
/// Any other difference is a [`Conflict`]. The verifier marks precise
/// only the zeros a chain releases or is hinted to, not every zero of
/// every walk: a loop counter that is zero on the first pass through a
/// throw would then be precise, and a loop over an iterator would never
/// converge.
///
/// `push` returns false if it runs out of memory, which stops the merge
/// with `Ok(false)`.
pub fn merge(
    old: &[Release],
    old_zeros: &Zeros,
    new: &[Release],
    new_zeros: &Zeros,
    hinted: impl Fn(u8, Loc) -> bool,
    mut push: impl FnMut(Release) -> bool,
) -> Result<bool, Conflict> {
    let (mut a, mut b) = (old.iter().peekable(), new.iter().peekable());
    loop {
        let r = match (a.peek(), b.peek()) {
            (None, None) => return Ok(true),
            (Some(&&x), Some(&&y)) if (x.frame, x.loc) == (y.frame, y.loc) => {
                a.next();
                b.next();
                if (x.kind, x.off) != (y.kind, y.off) {
                    return Err(Conflict);
                }
                x
            }
            (Some(&&x), y) if y.map_or(true, |y| (x.frame, x.loc) < (y.frame, y.loc)) => {
                a.next();
                if !x.may_lack(new_zeros) {
                    return Err(Conflict);
                }
                x
            }
            // A reference where no earlier walk released one.
            (_, Some(&&y)) => {
                b.next();
                if !hinted(y.frame, y.loc) || !y.may_lack(old_zeros) {
                    return Err(Conflict);
                }
                y
            }
            (Some(_), None) => return Err(Conflict),
        };
        if !push(r) {
            return Ok(false);
        }
    }
}

/// Whether the merged record `releases` would release bytes of one frame
/// both by a handle and in place, which [`merge`], pairing releases by
/// their places, does not see: a walk where the handle was cleared while
/// the iterator lived on (a callee that destroys it on some paths only)
/// merged with one where the handle holds the frame's pointer, for an
/// iterator whose destroy reads nothing ([`Absent::Anything`]). A throw
/// on the second path would destroy it twice. The verifier counts it as
/// a [`Conflict`].
pub fn doubled(releases: &[Release]) -> bool {
    releases
        .iter()
        .filter(|h| h.kind.by_handle())
        .filter_map(|h| Some((h, h.slots()?)))
        .any(|(h, (lo, hi))| {
            releases.iter().any(|p| {
                p.kind.in_place()
                    && p.frame == h.frame
                    && p.slots().is_some_and(|(l, u)| l <= hi && lo <= u)
            })
        })
}

/// Whether `a` and `b` release different resources from one place: two
/// paths that leave them there cannot be told apart at run time, in any
/// pass of the verifier.
pub fn clash(a: &Release, b: &Release) -> bool {
    (a.frame, a.loc) == (b.frame, b.loc) && (a.kind, a.off) != (b.kind, b.off)
}

/// The places that a new walk of a chain whose merge was a [`Conflict`]
/// gives the verifier's next pass as hints, or a `Conflict` that no pass
/// resolves.
///
/// The merge depends on the order of the walks: the first one fixes where
/// the chain releases, and its zeros are marked precise only where it
/// releases. A reference that is NULL on the path walked first, or that
/// the first walk releases from R6 while a later one holds it only in a
/// stack slot, conflicts though each path, on its own, can be released.
/// The verifier then walks the program again (`verify_again()` in
/// `verifier.rs`), with the places where the conflicting walk releases
/// (`new`) and where the earlier walks released and it holds zero
/// (from `old`) as hints: every walk of the chain then prefers them for
/// its references and marks its zeros there, from the first walk on.
///
/// The places of `new` come first, and the verifier prefers the first
/// hints: a walk that holds a reference both where the earlier walks
/// released it and where the conflicting walk does then releases it
/// where the conflicting walk does, and the two agree.
///
/// `known` are the chain's hints so far; the result is those of the
/// places that it lacks, in that order. Two kinds of resource in one place, among the
/// walks and the hints, are a `Conflict`.
pub fn hints<'a>(
    old: &'a [Release],
    new: &'a [Release],
    new_zeros: &'a Zeros,
    known: &'a [Release],
) -> Result<impl Iterator<Item = Release> + 'a, Conflict> {
    let kept = move |x: &&Release| x.may_lack(new_zeros);
    let all = move || Iterator::chain(new.iter(), old.iter().filter(kept));
    let against = Iterator::chain(Iterator::chain(old.iter(), new.iter()), known.iter());
    for x in against {
        if all().any(|y| clash(x, y)) {
            return Err(Conflict);
        }
    }
    Ok(all()
        .filter(move |x| !known.iter().any(|k| k == *x))
        .copied())
}

/// The index, in `held`, of the record of `chain` (outermost first).
pub fn position(held: &[Held], chain: &[u32]) -> Option<usize> {
    held.iter().position(|h| h.calls() == chain)
}

/// Chooses, among the places that hold one reference (frame, place),
/// the one a throw releases: the outermost frame, and in it a callee-saved
/// register, then a stack slot, then a caller-saved register (where a
/// value lives least long), the lowest first. Walks of one chain that keep
/// a reference in the same places then choose the same; the verifier also
/// puts first a place where an earlier walk released the same kind.
pub fn choose(places: impl Iterator<Item = (u8, Loc)>) -> Option<(u8, Loc)> {
    places.min_by_key(|&(frame, loc)| rank(frame, loc))
}

/// The order of [`choose`]: the least is chosen.
pub fn rank(frame: u8, loc: Loc) -> (u8, u8, Loc) {
    let class = match loc {
        Loc::Reg(6..=9) => 0,
        Loc::Slot(_) => 1,
        Loc::Reg(_) => 2,
    };
    (frame, class, loc)
}

/// Values of the caller-saved registers R0, R3, R4 and R5 at the call of
/// `bpf_throw()`, in that order.
pub type Scratch = [u64; 4];

/// The index in [`Scratch`] of BPF register `r`.
pub fn scratch_index(r: u8) -> Option<usize> {
    match r {
        0 => Some(0),
        3..=5 => Some(usize::from(r) - 2),
        _ => None,
    }
}

/// An entry of a [`probe`] table that holds no record.
pub const EMPTY: u32 = u32::MAX;

/// The hash of `chain` for a [`probe`] table, with the table's random
/// `seed`: a program cannot choose its chains to collide without the
/// seed.
pub fn chain_hash(seed: u64, chain: &[u32]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = seed ^ (chain.len() as u64).wrapping_mul(K);
    for &c in chain {
        h = (h ^ u64::from(c)).wrapping_mul(K);
        h ^= h >> 31;
    }
    h ^ (h >> 29)
}

/// Looks a record up in an open-addressing `table`, a power of two long,
/// whose entries are records' indexes or [`EMPTY`], from the entry of
/// `hash` on: the entry that holds the record for which `is` holds, or
/// else the empty entry where it goes. The verifier keeps the table at
/// most half full: where it is full, `Err(usize::MAX)`.
///
/// The records of the verifier's walks of a program were kept sorted by
/// chain, with an insertion each: a program of 10^5 chains, walked from
/// the last to the first, made that some 10^10 moves.
pub fn probe(table: &[u32], hash: u64, is: impl Fn(u32) -> bool) -> Result<usize, usize> {
    let mask = table.len().wrapping_sub(1);
    let mut i = hash as usize & mask;
    for _ in 0..table.len() {
        match table.get(i) {
            Some(&EMPTY) => return Err(i),
            Some(&k) if is(k) => return Ok(i),
            _ => i = i.wrapping_add(1) & mask,
        }
    }
    Err(usize::MAX)
}

/// Puts the records in the order that [`find`] searches: by chain,
/// compared from its innermost call outwards.
pub fn sort_held(held: &mut [Held]) {
    held.sort_unstable_by(|a, b| a.calls().iter().rev().cmp(b.calls().iter().rev()));
}

/// The record whose chain is the innermost frames of a throw, given their
/// call sites `sites`, the throwing frame's first, and the records `held`
/// in the order of [`sort_held`]. The verifier records the chains of each
/// walk from its start, the main function or a global subprog, so at most
/// one record can match: a binary search per number of frames, so that a
/// throw costs the same in a program of 16 000 chains as in one of two.
pub fn find<'a>(held: &'a [Held], sites: &[u32]) -> Option<&'a Held> {
    (1..=sites.len().min(MAX_FRAMES)).find_map(|k| {
        let inner = sites.get(..k)?;
        let i = held
            .binary_search_by(|h| h.calls().iter().rev().cmp(inner.iter()))
            .ok()?;
        held.get(i)
    })
}

/// The index in [`crate::unwind::Regs`] of BPF register `r`, R6 to R9.
pub fn reg_index(r: u8) -> Option<usize> {
    let s = match r {
        6 => Saved::Rbx,
        7 => Saved::R13,
        8 => Saved::R14,
        9 => Saved::R15,
        _ => return None,
    };
    Some(s as usize)
}

/// The value at `loc` in `frame`, read from `stack` for a stack slot, and
/// from `scratch` for a caller-saved register of the frame that called
/// `bpf_throw()` (`None` for the other frames).
pub fn value<S: Stack + ?Sized>(
    stack: &S,
    frame: &Frame,
    scratch: Option<&Scratch>,
    loc: Loc,
) -> Option<u64> {
    match loc {
        Loc::Reg(r @ 6..=9) => frame.regs.get(reg_index(r)?).copied(),
        Loc::Reg(r) => scratch?.get(scratch_index(r)?).copied(),
        Loc::Slot(n) => {
            let off = 8usize.checked_mul(usize::from(n) + 1)?;
            Some(stack.read(frame.fp.checked_sub(off)?))
        }
    }
}

/// The address of the stack slot `loc` of `frame`, where a resource held
/// in place starts ([`Kind::in_place`]); `None` for a register.
pub fn address(frame: &Frame, loc: Loc) -> Option<usize> {
    match loc {
        Loc::Slot(n) => frame
            .fp
            .checked_sub(8usize.checked_mul(usize::from(n) + 1)?),
        Loc::Reg(_) => None,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::{collections::BTreeMap, vec, vec::Vec};

    fn held(chain: &[u32], first: u32, len: u32) -> Held {
        let mut h = Held {
            depth: chain.len() as u8,
            first,
            len,
            ..Held::default()
        };
        h.chain[..chain.len()].copy_from_slice(chain);
        h
    }

    const TASK: Kind = Kind::Dtor(0xffff_1000);

    #[test]
    fn find_matches_the_innermost_frames() {
        // main calls a static subprog at 4, which throws at 20; main
        // throws at 9; a global subprog's own walk calls at 30 a static
        // subprog that throws at 40.
        let mut t = [
            held(&[4, 20], 0, 1),
            held(&[9], 1, 0),
            held(&[30, 40], 1, 2),
        ];
        sort_held(&mut t);
        let found = |sites: &[u32]| find(&t, sites).map(|h| h.calls().to_vec());
        assert_eq!(found(&[20, 4]), Some(vec![4, 20]));
        assert_eq!(found(&[9]), Some(vec![9]));
        // The global subprog's caller (main, at 12) is not in its chain.
        assert_eq!(found(&[40, 30, 12]), Some(vec![30, 40]));
        // The same throw from another call site: not recorded.
        assert_eq!(found(&[20, 5]), None);
        assert_eq!(found(&[20]), None);
        assert_eq!(found(&[]), None);
    }

    /// A xorshift generator from `x`: each call gives a number below `m`.
    fn xorshift(mut x: u64) -> impl FnMut(u64) -> u64 {
        move |m| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        }
    }

    #[test]
    fn probe_finds_what_was_put() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
        for round in 0..50u64 {
            let seed = next(u64::MAX);
            let mut chains: Vec<Vec<u32>> = Vec::new();
            let mut table = vec![EMPTY; 64];
            for _ in 0..200 {
                let c: Vec<u32> = (0..=next(MAX_FRAMES as u64 - 1))
                    .map(|_| next(if round % 2 == 0 { 8 } else { 1 << 20 }) as u32)
                    .collect();
                let h = chain_hash(seed, &c);
                let is = |k: u32| chains[k as usize] == c;
                match probe(&table, h, is) {
                    Ok(i) => assert_eq!(chains[table[i] as usize], c),
                    Err(i) => {
                        assert!(!chains.contains(&c));
                        chains.push(c);
                        table[i] = (chains.len() - 1) as u32;
                        // At most half full, as the verifier keeps it.
                        if chains.len() * 2 > table.len() {
                            table = vec![EMPTY; table.len() * 2];
                            for (k, c) in chains.iter().enumerate() {
                                let h = chain_hash(seed, c);
                                let at = probe(&table, h, |_| false).unwrap_err();
                                table[at] = k as u32;
                            }
                        }
                    }
                }
            }
            for (k, c) in chains.iter().enumerate() {
                let i = probe(&table, chain_hash(seed, c), |j| chains[j as usize] == *c).unwrap();
                assert_eq!(table[i], k as u32);
            }
        }
        // A full table has no entry to give.
        assert_eq!(probe(&[0, 1], 5, |_| false), Err(usize::MAX));
        assert_eq!(probe(&[], 5, |_| false), Err(usize::MAX));
    }

    #[test]
    fn find_agrees_with_a_scan() {
        // Random chains of up to MAX_FRAMES calls from a few sites, so that
        // many share their innermost calls: the binary search finds what a
        // scan of the records finds.
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
        for _ in 0..200 {
            let mut t: Vec<Held> = Vec::new();
            for _ in 0..next(40) {
                let c: Vec<u32> = (0..=next(MAX_FRAMES as u64))
                    .map(|_| next(6) as u32)
                    .collect();
                let c = &c[..c.len().min(MAX_FRAMES)];
                // The verifier's chains are unique, and none is the
                // innermost calls of another (see find()).
                let clash = |h: &Held| {
                    let (a, b) = (h.calls(), c);
                    let n = a.len().min(b.len());
                    a[a.len() - n..] == b[b.len() - n..]
                };
                if !t.iter().any(clash) {
                    t.push(held(c, 0, 0));
                }
            }
            sort_held(&mut t);
            for _ in 0..50 {
                let s: Vec<u32> = (0..next(MAX_FRAMES as u64 + 1))
                    .map(|_| next(6) as u32)
                    .collect();
                let scan = t.iter().find(|h| {
                    let c = h.calls();
                    c.len() <= s.len() && c.iter().rev().zip(&s).all(|(a, b)| a == b)
                });
                assert_eq!(find(&t, &s), scan);
            }
        }
    }

    fn merged(old: &[Release], new: &[Release], nz: &Zeros) -> Result<Vec<Release>, Conflict> {
        merged_hinted(old, &Zeros::default(), new, nz, &[])
    }

    fn merged_hinted(
        old: &[Release],
        oz: &Zeros,
        new: &[Release],
        nz: &Zeros,
        hints: &[Release],
    ) -> Result<Vec<Release>, Conflict> {
        let mut out = Vec::new();
        let hinted = |f, l| hints.iter().any(|h| (h.frame, h.loc) == (f, l));
        merge(old, oz, new, nz, hinted, |r| {
            out.push(r);
            true
        })?;
        // As the verifier does.
        if doubled(&out) {
            return Err(Conflict);
        }
        Ok(out)
    }

    #[test]
    fn walks_of_a_chain_merge_where_they_agree_or_hold_null() {
        let task = Release {
            frame: 0,
            loc: Loc::Reg(6),
            kind: TASK,
            off: 0,
        };
        let rb = Release {
            frame: 1,
            loc: Loc::Slot(0),
            kind: Kind::RingbufDiscard,
            off: 0,
        };
        let none = Zeros::default();
        let mut r6 = Zeros::default();
        r6.set(0, Loc::Reg(6));
        let mut slot = Zeros::default();
        slot.set(1, Loc::Slot(0));
        // The same on both walks.
        assert_eq!(merged(&[task, rb], &[task, rb], &none), Ok(vec![task, rb]));
        // Acquired on the first walk, NULL on a later one.
        assert_eq!(merged(&[task, rb], &[task], &slot), Ok(vec![task, rb]));
        assert_eq!(merged(&[task, rb], &[rb], &r6), Ok(vec![task, rb]));
        // NULL first: that zero was not marked precise.
        assert_eq!(merged(&[task], &[task, rb], &none), Err(Conflict));
        assert_eq!(merged(&[], &[task], &none), Err(Conflict));
        // Held on one walk, something else (not zero) on the other.
        assert_eq!(merged(&[task, rb], &[rb], &none), Err(Conflict));
        // Another kind, or another place.
        let obj = Release {
            kind: Kind::ObjDrop(0),
            ..task
        };
        assert_eq!(merged(&[task], &[obj], &none), Err(Conflict));
        let r7 = Release {
            loc: Loc::Reg(7),
            ..task
        };
        assert_eq!(merged(&[task], &[r7], &r6), Err(Conflict));
        let mut both = r6;
        both.set(0, Loc::Reg(7));
        assert_eq!(merged(&[task, r7], &[], &both), Ok(vec![task, r7]));
        // The same reference through another field: another release.
        let node = Release { off: 16, ..task };
        assert_eq!(merged(&[task], &[node], &none), Err(Conflict));
        assert_eq!(merged(&[node], &[node], &none), Ok(vec![node]));
        assert_eq!(node.base(0xffff_8800_0000_1010), 0xffff_8800_0000_1000);
        assert_eq!(Release { off: -8, ..task }.base(0x1000), 0x1008);
        // Out of memory stops the merge.
        let no = |_, _| false;
        assert_eq!(
            merge(&[task], &none, &[task], &none, no, |_| false),
            Ok(false)
        );
        let h = held(&[4, 20], 0, 2);
        assert_eq!(position(&[held(&[9], 0, 0), h], &[4, 20]), Some(1));
        assert_eq!(position(&[h], &[4]), None);
    }

    #[test]
    fn hints_resolve_the_order_of_walks() {
        let task = |loc| Release {
            frame: 0,
            loc,
            kind: TASK,
            off: 0,
        };
        let (r6, slot) = (task(Loc::Reg(6)), task(Loc::Slot(0)));
        let zero = |places: &[Loc]| {
            let mut z = Zeros::default();
            for &l in places {
                z.set(0, l);
            }
            z
        };
        let none = Zeros::default();
        let hints_of = |old: &[Release], new: &[Release], nz: &Zeros, known: &[Release]| {
            hints(old, new, nz, known).map(|h| h.collect::<Vec<_>>())
        };

        // NULL in R6 on the path walked first, a task on the other: the
        // first pass conflicts and hints R6 ...
        assert_eq!(merged(&[], &[r6], &none), Err(Conflict));
        assert_eq!(hints_of(&[], &[r6], &none, &[]), Ok(vec![r6]));
        // ... and with R6 hinted (and so marked on the first walk) the
        // second pass merges.
        let z6 = zero(&[Loc::Reg(6)]);
        assert_eq!(merged_hinted(&[], &z6, &[r6], &none, &[r6]), Ok(vec![r6]));
        // Not when a walk before held something else there, or when R6
        // is not hinted.
        assert_eq!(
            merged_hinted(&[], &none, &[r6], &none, &[r6]),
            Err(Conflict)
        );
        assert_eq!(
            merged_hinted(&[], &z6, &[r6], &none, &[slot]),
            Err(Conflict)
        );
        // An iterator whose destroy reads its first slot: only where the
        // earlier walks held zero there.
        let iter = Release {
            kind: Kind::IterDestroy(Iter::CssTask),
            ..slot
        };
        let z0 = zero(&[Loc::Slot(0)]);
        assert_eq!(
            merged_hinted(&[], &z0, &[iter], &none, &[iter]),
            Ok(vec![iter])
        );
        assert_eq!(
            merged_hinted(&[], &z6, &[iter], &none, &[iter]),
            Err(Conflict)
        );
        assert_eq!(hints_of(&[], &[iter], &none, &[]), Ok(vec![iter]));

        // Released from R6 first, from the slot (R6 zero) later: both
        // are hinted; the first walk then marks the slot, or prefers it
        // if it holds the task there too.
        assert_eq!(merged(&[r6], &[slot], &z6), Err(Conflict));
        assert_eq!(hints_of(&[r6], &[slot], &z6, &[]), Ok(vec![slot, r6]));
        assert_eq!(
            merged_hinted(&[r6], &z0, &[slot], &z6, &[slot, r6]),
            Ok(vec![r6, slot])
        );
        // R6 not zero on the later walk: only the slot.
        assert_eq!(hints_of(&[r6], &[slot], &none, &[]), Ok(vec![slot]));
        // What is known is not hinted again: no new hint, no new pass.
        assert_eq!(hints_of(&[r6], &[slot], &none, &[slot]), Ok(vec![]));

        // Two kinds in one place: no pass resolves it.
        let obj = Release {
            kind: Kind::ObjDrop(0),
            ..r6
        };
        assert_eq!(hints_of(&[r6], &[obj], &none, &[]).err(), Some(Conflict));
        assert_eq!(hints_of(&[], &[obj], &none, &[r6]).err(), Some(Conflict));
        assert_eq!(hints_of(&[obj], &[slot], &z6, &[]).err(), None);
        assert!(clash(&r6, &obj) && !clash(&r6, &slot) && !clash(&r6, &r6));

        let mut z = zero(&[Loc::Reg(6), Loc::Slot(0)]);
        z.and(&z6);
        assert!(z.has(0, Loc::Reg(6)) && !z.has(0, Loc::Slot(0)));
    }

    #[test]
    fn table_entries_keep_their_documented_sizes() {
        use core::mem::size_of;
        // Documentation/bpf/exceptions-rust.rst gives these (64-bit).
        assert_eq!(size_of::<Held>(), 48);
        assert_eq!(size_of::<Release>(), 24);
        assert_eq!(size_of::<crate::unwind::Site>(), 24);
    }

    #[test]
    fn zeros_per_frame_and_place() {
        let mut z = Zeros::default();
        z.set(0, Loc::Reg(9));
        z.set(7, Loc::Slot(63));
        z.set(8, Loc::Reg(6));
        z.set(0, Loc::Reg(5));
        z.set(0, Loc::Reg(10));
        assert!(z.has(0, Loc::Reg(9)) && z.has(7, Loc::Slot(63)) && z.has(0, Loc::Reg(5)));
        assert!(!z.has(0, Loc::Reg(6)) && !z.has(8, Loc::Reg(6)) && !z.has(0, Loc::Reg(10)));
        assert!(!z.has(1, Loc::Reg(9)) && !z.has(7, Loc::Slot(62)));
    }

    #[test]
    fn releases_are_sorted_by_frame_then_place() {
        let r = |frame, loc| Release {
            frame,
            loc,
            kind: TASK,
            off: 0,
        };
        let mut v = vec![
            r(1, Loc::Slot(3)),
            r(0, Loc::Slot(0)),
            r(1, Loc::Reg(9)),
            r(0, Loc::Reg(6)),
        ];
        sort(&mut v);
        assert_eq!(
            v,
            [
                r(0, Loc::Reg(6)),
                r(0, Loc::Slot(0)),
                r(1, Loc::Reg(9)),
                r(1, Loc::Slot(3))
            ]
        );
        assert_eq!(
            choose([(2, Loc::Slot(1)), (1, Loc::Slot(0)), (1, Loc::Reg(8))].into_iter()),
            Some((1, Loc::Reg(8)))
        );
        // Callee-saved, then a slot, then caller-saved.
        assert_eq!(
            choose([(0, Loc::Reg(0)), (0, Loc::Slot(3)), (0, Loc::Reg(9))].into_iter()),
            Some((0, Loc::Reg(9)))
        );
        assert_eq!(
            choose([(0, Loc::Reg(3)), (0, Loc::Slot(3)), (0, Loc::Reg(0))].into_iter()),
            Some((0, Loc::Slot(3)))
        );
        assert_eq!(
            choose([(1, Loc::Reg(5)), (1, Loc::Reg(0)), (2, Loc::Reg(6))].into_iter()),
            Some((1, Loc::Reg(0)))
        );
        assert_eq!(choose(core::iter::empty()), None);
        // Out of range: no releases rather than a panic.
        assert_eq!(releases(&held(&[1], 1, 5), &v), &[] as &[Release]);
    }

    struct Words(BTreeMap<usize, u64>);

    impl Stack for Words {
        fn read(&self, addr: usize) -> u64 {
            *self.0.get(&addr).expect("read outside the frame")
        }
    }

    #[test]
    fn values_come_from_the_frame() {
        let f = Frame {
            ip: 0x1234,
            fp: 0x9000,
            regs: [0x99, 0x88, 0x77, 0x66, 0x12],
        };
        let s = Words([(0x8ff8, 0xaa), (0x8e00, 0xbb)].into_iter().collect());
        let got: Vec<_> = [Loc::Reg(6), Loc::Reg(7), Loc::Reg(8), Loc::Reg(9)]
            .iter()
            .map(|&l| value(&s, &f, None, l))
            .collect();
        assert_eq!(got, [Some(0x66), Some(0x77), Some(0x88), Some(0x99)]);
        assert_eq!(value(&s, &f, None, Loc::Slot(0)), Some(0xaa));
        assert_eq!(value(&s, &f, None, Loc::Slot(63)), Some(0xbb));
        assert_eq!(value(&s, &f, None, Loc::Reg(1)), None);
        assert_eq!(value(&s, &f, None, Loc::Reg(5)), None);
        // The caller-saved registers of the throwing frame: R1 (the
        // cookie) and R2 (the aux) never hold a reference.
        let scratch = [0x100, 0x300, 0x400, 0x500];
        let got: Vec<_> = [0, 1, 2, 3, 4, 5]
            .iter()
            .map(|&r| value(&s, &f, Some(&scratch), Loc::Reg(r)))
            .collect();
        assert_eq!(
            got,
            [
                Some(0x100),
                None,
                None,
                Some(0x300),
                Some(0x400),
                Some(0x500)
            ]
        );
        assert_eq!(value(&s, &f, Some(&scratch), Loc::Reg(6)), Some(0x66));
        // A dynptr or an iterator starts at its slot's address.
        assert_eq!(address(&f, Loc::Slot(0)), Some(0x8ff8));
        assert_eq!(address(&f, Loc::Slot(2)), Some(0x8fe8));
        assert_eq!(address(&f, Loc::Reg(6)), None);
        let low = Frame { fp: 8, ..f };
        assert_eq!(address(&low, Loc::Slot(1)), None);
    }

    #[test]
    fn an_iterator_is_absent_where_its_destroy_frees_nothing() {
        let slot = |kind| Release {
            frame: 0,
            loc: Loc::Slot(2),
            kind,
            off: 0,
        };
        let (iter, dynptr) = (
            slot(Kind::IterDestroy(Iter::Num)),
            slot(Kind::DynptrDiscard),
        );
        let (vma, bits) = (
            slot(Kind::IterDestroy(Iter::TaskVma)),
            slot(Kind::IterDestroy(Iter::Bits)),
        );
        let none = Zeros::default();
        let mut zero = Zeros::default();
        zero.set(0, Loc::Slot(2));
        let mut zero_below = Zeros::default();
        zero_below.set(0, Loc::Slot(1));
        // A ring buffer dynptr has no record where it is zero.
        assert_eq!(merged(&[dynptr], &[], &zero), Ok(vec![dynptr]));
        assert_eq!(merged(&[dynptr], &[], &none), Err(Conflict));
        // bpf_iter_num_destroy() reads nothing: any bytes will do.
        assert_eq!(merged(&[iter], &[], &none), Ok(vec![iter]));
        assert_eq!(iter.absent(), Absent::Anything);
        // bpf_iter_task_vma_destroy() frees `data`, its first eight bytes,
        // if not NULL; bpf_iter_bits_destroy() frees the words if
        // `nr_bits`, at byte 8 (the slot below), is over 64.
        assert_eq!(merged(&[vma], &[], &zero), Ok(vec![vma]));
        assert_eq!(merged(&[vma], &[], &zero_below), Err(Conflict));
        assert_eq!(merged(&[bits], &[], &zero_below), Ok(vec![bits]));
        assert_eq!(merged(&[bits], &[], &zero), Err(Conflict));
        assert_eq!(bits.absent(), Absent::Zero(0, Loc::Slot(1)));
        // A two-slot iterator cannot start at slot 0; were it recorded
        // there, no zero would do.
        let low = Release {
            loc: Loc::Slot(0),
            ..bits
        };
        let mut all = Zeros::default();
        for n in 0..118 {
            all.set(0, Loc::Slot(n));
        }
        assert!(!low.may_lack(&all));
        // Held on a later walk only: hinted, and zero where it reads on
        // every earlier walk.
        assert_eq!(
            merged_hinted(&[], &zero, &[vma], &none, &[vma]),
            Ok(vec![vma])
        );
        assert_eq!(merged_hinted(&[], &zero, &[vma], &none, &[]), Err(Conflict));
        assert_eq!(
            merged_hinted(&[], &none, &[iter], &none, &[iter]),
            Ok(vec![iter])
        );
        assert_eq!(merged(&[iter], &[iter], &none), Ok(vec![iter]));
        // Two resources in one place are never merged.
        assert_eq!(merged(&[iter], &[dynptr], &none), Err(Conflict));
        assert_eq!(merged(&[vma], &[bits], &none), Err(Conflict));
        assert!(iter.kind.in_place() && dynptr.kind.in_place());
        assert!(!Kind::SkRelease.in_place() && Kind::SkRelease.may_be_zero());
        assert_eq!(Iter::of_name(b"bpf_iter_task_vma"), Some(Iter::TaskVma));
        assert_eq!(Iter::of_name(b"bpf_iter_num"), Some(Iter::Num));
        assert_eq!(Iter::of_name(b"bpf_iter_scx_dsq"), None);
        assert_eq!(Iter::of_name(b"bpf_iter_num_destroy"), None);
    }

    #[test]
    fn iterators_by_their_handle() {
        // A task_vma iterator at slot 0 (fp - 8) on one path, 5 there on
        // another: in place, nothing merges them; by a handle in slot 3,
        // which holds the frame pointer where the iterator lives and zero
        // where it does not, they merge as a pointer and NULL do.
        let in_place = Release {
            frame: 0,
            loc: Loc::Slot(0),
            kind: Kind::IterDestroy(Iter::TaskVma),
            off: 0,
        };
        let handle = Release {
            frame: 0,
            loc: Loc::Slot(3),
            kind: Kind::IterAt(Iter::TaskVma),
            off: 8,
        };
        let none = Zeros::default();
        assert_eq!(merged(&[in_place], &[], &none), Err(Conflict));
        let mut handle_zero = Zeros::default();
        handle_zero.set(0, Loc::Slot(3));
        assert_eq!(merged(&[handle], &[], &handle_zero), Ok(vec![handle]));
        assert_eq!(merged(&[handle], &[], &none), Err(Conflict));
        assert_eq!(handle.absent(), Absent::Zero(0, Loc::Slot(3)));
        assert!(!handle.kind.in_place() && handle.kind.may_be_zero());
        assert_eq!(handle.kind.iter(), Some(Iter::TaskVma));
        assert_eq!(in_place.kind.iter(), Some(Iter::TaskVma));
        assert_eq!(Kind::SkRelease.iter(), None);
        assert_eq!(
            (handle.first_slot(), in_place.first_slot()),
            (Some(0), Some(0))
        );
        let odd = Release { off: 12, ..handle };
        assert_eq!(odd.first_slot(), None);
        // A number iterator at slot 0, by its handle on one walk and in
        // place on another (whose handle was cleared while it lived):
        // merged, a throw would destroy it twice. So would a dynptr's
        // second slot, or a three-slot task iterator's first.
        let num = Release {
            kind: Kind::IterDestroy(Iter::Num),
            ..in_place
        };
        let num_at = Release {
            kind: Kind::IterAt(Iter::Num),
            ..handle
        };
        let mut both_zero = handle_zero;
        both_zero.set(0, Loc::Slot(0));
        assert_eq!(merged(&[num_at], &[], &handle_zero), Ok(vec![num_at]));
        assert_eq!(merged(&[num], &[], &none), Ok(vec![num]));
        assert_eq!(
            merged_hinted(&[num_at], &none, &[num], &handle_zero, &[num]),
            Err(Conflict)
        );
        assert!(doubled(&[num, num_at]));
        let dynptr_at = Release {
            kind: Kind::DynptrAt,
            off: 16,
            ..handle
        };
        assert!(doubled(&[num, dynptr_at]));
        let task_at = Release {
            kind: Kind::IterAt(Iter::Task),
            off: 24,
            ..handle
        };
        let num_above = Release {
            loc: Loc::Slot(3),
            ..num
        };
        assert!(doubled(&[num, task_at]));
        assert!(!doubled(&[num_above, num_at]));
        assert!(!doubled(&[Release { frame: 1, ..num }, num_at]));
        assert!(!doubled(&[num, in_place]));
        // The iterator starts `off` below the frame pointer the handle
        // holds.
        assert_eq!(handle.base(0xffff_c900_0000_1000), 0xffff_c900_0000_0ff8);
        // The same iterator by its handle on one walk and in place on
        // another is two places: the in-place one is not zero on the
        // first walk, so they do not merge.
        assert_eq!(merged(&[handle], &[in_place], &none), Err(Conflict));
        // Nor does an iterator of another type at the same handle.
        let num = Release {
            kind: Kind::IterAt(Iter::Num),
            ..handle
        };
        assert_eq!(merged(&[handle], &[num], &none), Err(Conflict));
    }
}
