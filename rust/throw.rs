// SPDX-License-Identifier: GPL-2.0

//! The kernel side of `bpf_throw()`: the per-program map of JITed functions,
//! the entry from the kfunc, and the entry into the exception callback.
//!
//! The verifier loads the throwing program's `struct bpf_prog_aux` into R2
//! (`rsi` on x86-64, `x1` on arm64) before each call of `bpf_throw()`, and
//! the C kfunc tail calls `bpf_exceptions_throw` with every register as the
//! program left it. That entry, per architecture (`throw_x86_64.rs`,
//! `throw_arm64.rs`), saves what it must and calls
//! [`bpf_exceptions_unwind`], which unwinds with the program's
//! [`ExceptionTable`]; the entry then restores the registers of the
//! program's caller (x86-64; on arm64 the callback does) and jumps to the
//! exception callback.

use crate::cleanup::{self, Held, Iter, Kind, Release, Scratch, Zeros, MAX_FRAMES};
use crate::unwind::{self, Arm64Layout, Frame, Func, Geometry, Map, Regs, SavedRegs, Site, Stack};

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    alloc::{flags::GFP_KERNEL, KBox, KVVec, KVec},
    bindings,
    error::code::{E2BIG, EFAULT, EINVAL, ENOMEM},
    prelude::*,
    sync::Arc,
};

extern "C" {
    /// The `bpf:bpf_throw` tracepoint (`include/trace/events/bpf_throw.h`),
    /// a `struct tracepoint`, whose static key the arch entries branch on.
    /// Only its address is used, so it is declared as a byte.
    static __tracepoint_bpf_throw: u8;
    /// `kernel.bpf_stats_enabled`'s static key (`include/linux/filter.h`),
    /// a `struct static_key_false`, whose `struct static_key` comes first.
    static bpf_stats_enabled_key: u8;
}

/// The offset of the tracepoint's static key.
const TRACEPOINT_KEY: usize = core::mem::offset_of!(bindings::tracepoint, key);
// A jump table entry keeps flags in the low two bits of the key's address
// (both clear: a branch taken while the key is on, not an init section).
const _: () = assert!(TRACEPOINT_KEY % 4 == 0);
const _: () = assert!(core::mem::offset_of!(bindings::static_key_false, key) == 0);
// Without CONFIG_JUMP_LABEL the entries test the count at the key's start.
const _: () = assert!(core::mem::offset_of!(bindings::static_key, enabled) == 0);

// The entry from `bpf_throw()` and the entry into the exception callback,
// which depend on the architecture's registers and its JIT.
#[cfg(CONFIG_X86_64)]
#[path = "throw_x86_64.rs"]
mod arch;
#[cfg(CONFIG_ARM64)]
#[path = "throw_arm64.rs"]
mod arch;

/// The most instructions an arm64 prologue has before its pushes end:
/// `bti jc`, `mov x9, lr`, `nop`, `paciasp`, two for the frame record,
/// two for the tail call count, `bti j`, five pushes and `mov x25, sp`.
const PROLOGUE_MAX: usize = 24;

/// What `bpf_throw()` needs of one program, built when it is JITed and
/// pointed to by `aux->exception_table`.
pub struct ExceptionTable {
    geometry: Geometry,
    table: KVVec<u8>,
    funcs: KVec<Func>,
    /// The program's calls of `bpf_throw()`, function by function in the
    /// order of their instructions, for the `bpf:bpf_throw` tracepoint;
    /// with its calls of subprogs if it releases anything on a throw.
    sites: KVVec<Site>,
    /// What its throws release, chain by chain: see [`cleanup`]. Empty if
    /// they release nothing; else every chain the verifier walked, but
    /// the main program's chains that release nothing.
    held: KVVec<Held>,
    /// The releases of `held`.
    releases: KVVec<Release>,
    /// arm64, if it releases anything: the layout of each function of
    /// `funcs`, read from its prologue. Empty elsewhere.
    layouts: KVec<Arm64Layout>,
}

impl ExceptionTable {
    /// Describes the JITed functions `funcs` of one program, the main
    /// function first, and its calls of `bpf_throw()`, `sites`.
    fn new(
        funcs: KVec<Func>,
        sites: KVVec<Site>,
        held: KVVec<Held>,
        releases: KVVec<Release>,
        layouts: KVec<Arm64Layout>,
    ) -> Result<Self> {
        let geometry = Geometry::of(&funcs).ok_or(EINVAL)?;
        let mut table = KVVec::from_elem(0u8, geometry.len, GFP_KERNEL)?;
        // Fills the table; the map borrows it only for this.
        Map::build(geometry, &mut table, &funcs);
        Ok(Self {
            geometry,
            table,
            funcs,
            sites,
            held,
            releases,
            layouts,
        })
    }

    /// The bytes that describe what the program's throws release.
    pub fn cleanup_size(&self) -> usize {
        self.held.len() * core::mem::size_of::<Held>()
            + self.releases.len() * core::mem::size_of::<Release>()
            + self.layouts.len() * core::mem::size_of::<Arm64Layout>()
    }

    /// The map of the program's functions.
    pub fn map(&self) -> Map<'_> {
        Map::from_parts(self.geometry, &self.table, &self.funcs)
    }
}

/// Reads the stack `bpf_throw()` runs on.
struct ThreadStack;

impl Stack for ThreadStack {
    fn read(&self, addr: usize) -> u64 {
        // SAFETY: The walks read only words from the throwing function's
        // stack pointer up to just past the last frame record they reach,
        // each record above the previous one and at most `MAX_SPAN` above
        // that stack pointer, and `release` only stack slots inside those
        // frames (checked against each function's stack when the table is
        // built): the frames being unwound, live on this stack above our
        // own frame, which nothing else writes while we read.
        unsafe { core::ptr::read(addr as *const u64) }
    }

    fn return_address(&self, addr: usize) -> usize {
        arch::strip_return_address(self.read(addr))
    }
}

/// `BPF_JMP | BPF_CALL`.
const JMP_CALL: u8 = 0x05 | 0x80;

extern "C" {
    // The kfunc, in kernel/bpf/helpers.c.
    fn bpf_throw(cookie: u64);
    // What a throw releases with: the kfuncs and helpers a program
    // releases with (kernel/bpf/helpers.c, kernel/bpf/ringbuf.c).
    fn bpf_obj_drop_impl(p: *mut c_void, meta: *mut c_void);
    fn bpf_percpu_obj_drop_impl(p: *mut c_void, meta: *mut c_void);
    fn bpf_ringbuf_discard(sample: u64, flags: u64) -> u64;
    fn bpf_ringbuf_discard_dynptr(ptr: u64, flags: u64) -> u64;
    // net/core/filter.c.
    #[cfg(CONFIG_INET)]
    fn bpf_sk_release(sk: u64) -> u64;
    // fs/bpf_fs_kfuncs.c.
    #[cfg(CONFIG_BPF_LSM)]
    fn bpf_put_file(file: *mut c_void);
    // The destroy kfuncs of the iterators (kernel/bpf/bpf_iter.c,
    // helpers.c, task_iter.c, cgroup_iter.c).
    fn bpf_iter_num_destroy(it: *mut c_void);
    fn bpf_iter_bits_destroy(it: *mut c_void);
    fn bpf_iter_task_vma_destroy(it: *mut c_void);
    fn bpf_iter_task_destroy(it: *mut c_void);
    #[cfg(CONFIG_CGROUPS)]
    fn bpf_iter_css_destroy(it: *mut c_void);
    #[cfg(CONFIG_CGROUPS)]
    fn bpf_iter_css_task_destroy(it: *mut c_void);
    fn bpf_rcu_read_unlock();
    fn bpf_preempt_enable();
}

/// Releases what the throw described by the arguments of
/// [`bpf_exceptions_unwind`] leaves held, as `table` records it (see
/// [`cleanup`]): each frame's references, the innermost frame first, each
/// only if it is not NULL, then the RCU read sections and the disabled
/// preemption. Does nothing if the walk fails, which the unwind then
/// reports.
// Out of line and cold: inlined, its frame (the walk's frames) would
// grow the prologue of `bpf_exceptions_unwind` on every throw.
#[inline(never)]
#[cold]
fn release(table: &ExceptionTable, regs: &Regs, scratch: &Scratch, sp: usize, fp: usize) {
    let mut frames = [Frame::default(); MAX_FRAMES];
    #[cfg(not(CONFIG_ARM64))]
    let walked = unwind::frames(&ThreadStack, &table.map(), regs, sp, fp, &mut frames);
    // The arm64 prologue saves below the frame record, by its layout.
    #[cfg(CONFIG_ARM64)]
    let walked = unwind::frames_arm64(
        &ThreadStack,
        &table.funcs,
        &table.layouts,
        regs,
        sp,
        fp,
        &mut frames,
    );
    let Ok(n) = walked else {
        return;
    };
    let mut sites = [u32::MAX; MAX_FRAMES];
    for (s, f) in sites.iter_mut().zip(frames.iter().take(n)) {
        *s = unwind::site_of(&table.funcs, &table.sites, f.ip).map_or(u32::MAX, |s| s.orig);
    }
    // The chain of the throw, then, if it starts in a global subprog, the
    // chain of the call of that subprog, and so on.
    let mut start = 0;
    while let Some(held) = cleanup::find(&table.held, sites.get(start..n).unwrap_or(&[])) {
        // Only the throwing frame's caller-saved registers are known.
        let scratch = (start == 0).then_some(scratch);
        release_chain(table, held, frames.get(start..n).unwrap_or(&[]), scratch);
        start += usize::from(held.depth).max(1);
    }
}

/// Whether [`release_chain`] has warned of a handle that holds neither
/// zero nor its frame's pointer.
static HANDLE_WARNED: AtomicBool = AtomicBool::new(false);

/// Releases what `held` records for the innermost frames of `frames`; the
/// innermost's R0 and R3-R5 are `scratch` if it called `bpf_throw()`.
fn release_chain(table: &ExceptionTable, held: &Held, frames: &[Frame], scratch: Option<&Scratch>) {
    let depth = usize::from(held.depth);
    for r in cleanup::releases(held, &table.releases).iter().rev() {
        // Frame 0 of the chain is its outermost, the last of `frames`.
        let Some(f) = depth
            .checked_sub(usize::from(r.frame) + 1)
            .and_then(|i| frames.get(i))
        else {
            continue;
        };
        // The caller-saved registers are the innermost frame's only.
        let scratch = scratch.filter(|_| core::ptr::eq(f, frames.first().unwrap_or(f)));
        // What the place holds; for a dynptr, its record.
        let p = cleanup::value(&ThreadStack, f, scratch, r.loc).unwrap_or(0);
        if p == 0 && r.kind.may_be_zero() {
            continue;
        }
        // A handle holds its frame's pointer, and the resource lies below
        // it: never anywhere else. The verifier found zero or that pointer
        // there on every path; anything else is a bug, told once.
        if r.kind.by_handle() && p != f.fp as u64 {
            if p != 0 && !HANDLE_WARNED.swap(true, Ordering::Relaxed) {
                pr_warn!("bpf_throw: a handle holds neither zero nor its frame's pointer\n");
            }
            continue;
        }
        // A dynptr or an iterator is released by its address.
        let arg = if r.kind.in_place() {
            match cleanup::address(f, r.loc) {
                Some(a) => a as u64,
                None => continue,
            }
        } else {
            r.base(p)
        };
        // SAFETY: The verifier found, on every path to this chain, a
        // reference of this kind held at `r.loc` (or NULL, for a kind that
        // may be), and held nowhere else; each destructor is the one the
        // program itself would release it with, in this context.
        unsafe {
            match r.kind {
                Kind::IterDestroy(it) | Kind::IterAt(it) => destroy(it, arg as *mut c_void),
                Kind::Dtor(f) => {
                    let f = core::mem::transmute::<usize, unsafe extern "C" fn(*mut c_void)>(f);
                    f(arg as *mut c_void)
                }
                Kind::ObjDrop(meta) => bpf_obj_drop_impl(arg as *mut c_void, meta as *mut c_void),
                Kind::PercpuObjDrop => {
                    bpf_percpu_obj_drop_impl(arg as *mut c_void, core::ptr::null_mut())
                }
                Kind::RingbufDiscard => {
                    bpf_ringbuf_discard(arg, 0);
                }
                Kind::DynptrDiscard => {
                    bpf_ringbuf_discard_dynptr(arg, 0);
                }
                // Its record is its first eight bytes, zero if none.
                Kind::DynptrAt => {
                    if ThreadStack.read(arg as usize) != 0 {
                        bpf_ringbuf_discard_dynptr(arg, 0);
                    }
                }
                #[cfg(CONFIG_INET)]
                Kind::SkRelease => {
                    bpf_sk_release(arg);
                }
                // The verifier records no socket without CONFIG_INET.
                #[cfg(not(CONFIG_INET))]
                Kind::SkRelease => {}
                #[cfg(CONFIG_BPF_LSM)]
                Kind::PutFile => bpf_put_file(arg as *mut c_void),
                // Nor a file without CONFIG_BPF_LSM.
                #[cfg(not(CONFIG_BPF_LSM))]
                Kind::PutFile => {}
            }
        }
    }
    for _ in 0..held.rcu {
        // SAFETY: The program holds that many RCU read sections.
        unsafe { bpf_rcu_read_unlock() };
    }
    for _ in 0..held.preempt {
        // SAFETY: The program disabled preemption that many times.
        unsafe { bpf_preempt_enable() };
    }
}

/// Destroys the iterator `it` of type `iter`.
///
/// # Safety
///
/// `it` must be a live iterator of that type, which nothing uses after.
unsafe fn destroy(iter: Iter, it: *mut c_void) {
    // SAFETY: Guaranteed by the caller.
    unsafe {
        match iter {
            Iter::Num => bpf_iter_num_destroy(it),
            Iter::Bits => bpf_iter_bits_destroy(it),
            Iter::TaskVma => bpf_iter_task_vma_destroy(it),
            Iter::Task => bpf_iter_task_destroy(it),
            #[cfg(CONFIG_CGROUPS)]
            Iter::Css => bpf_iter_css_destroy(it),
            #[cfg(CONFIG_CGROUPS)]
            Iter::CssTask => bpf_iter_css_task_destroy(it),
            // The verifier records no css iterator without cgroups.
            #[cfg(not(CONFIG_CGROUPS))]
            Iter::Css | Iter::CssTask => {}
        }
    }
}

/// Whether `insn` calls a subprog of the same program.
fn calls_subprog(insn: &bindings::bpf_insn) -> bool {
    insn.code == JMP_CALL && insn.src_reg() == bindings::BPF_PSEUDO_CALL as u8
}

/// Whether `insn`, of a program after the verifier's fixups, calls
/// `bpf_throw()`: a kfunc call whose `imm` is then the function's address
/// relative to `__bpf_call_base`, as the JIT reads it.
fn calls_throw(insn: &bindings::bpf_insn) -> bool {
    insn.code == JMP_CALL
        && insn.src_reg() == bindings::BPF_PSEUDO_KFUNC_CALL as u8
        && (bindings::__bpf_call_base as usize).wrapping_add(insn.imm as isize as usize)
            == bpf_throw as usize
}

/// What is known of a program's throw sites before its table is built,
/// held by `aux->throw_sites`.
///
/// The main program's aux holds what the verifier recorded of what each
/// throw leaves held ([`ThrowSites::pending`]); each JITed function's aux
/// holds its calls, from the JIT's last pass until [`prepare`] moves them
/// into the program's table.
pub(crate) struct ThrowSites {
    /// Whether to note the calls of subprogs too, not only those of
    /// `bpf_throw()`: the program releases something on a throw.
    calls: bool,
    /// The calls in one JITed function, as the JIT laid it out: for each,
    /// one past the end of its instruction's code (an offset in the
    /// function's image, which starts at `bpf_func`: no CFI preamble, as
    /// `CONFIG_BPF_EXCEPTIONS_RUST` excludes `CONFIG_CFI_CLANG`) and its
    /// instruction's index in the function as JITed (constant blinding may
    /// have added instructions before it).
    jit: KVVec<(u32, u32)>,
    /// What throws leave held, chain by chain, recorded by the verifier.
    pub(crate) pending: KVVec<Pending>,
    /// The records of `pending` by chain: a walk finds its chain in a
    /// hash table.
    pub(crate) by_chain: ChainIndex,
    /// Places to prefer and mark, chain by chain, found by the verifier's
    /// earlier passes (see [`cleanup::hints`]), sorted by chain.
    pub(crate) hints: KVVec<Hint>,
    /// The hints this pass found, for the next.
    pub(crate) next: KVVec<Hint>,
    /// The acquiring calls that have a stack slot of their own, where the
    /// verifier has the program store what each returns: see `shadow()`
    /// in `verifier.rs`.
    pub(crate) shadows: KVec<Shadow>,
    /// The acquiring calls, by index as loaded, that this pass asks a
    /// slot of their own for.
    pub(crate) shadow_next: KVec<u32>,
    /// The slots, of a subprog, that this pass asks to be zeroed on entry
    /// to it: see `zero_on_entry()` in `verifier.rs`.
    pub(crate) zero_next: KVec<(u32, u16)>,
    /// The calls that made an iterator or a dynptr held at a throw in this
    /// pass, in their own frame, sorted by place: see `handle()` in
    /// `verifier.rs`.
    pub(crate) iters: KVec<IterSite>,
    /// The calls, of `iters`, that this pass asks a handle for.
    pub(crate) handle_next: KVec<u32>,
    /// The destroys this pass walked of an iterator that its call (`site`)
    /// made in the frame of the subprog `subprog`, at `at` there (the
    /// destroy, or the call that led to it): a handle given to the call is
    /// cleared after each. See `note_release()` in `verifier.rs`.
    pub(crate) iter_released: KVec<Noted>,
    /// The releases this pass walked of a pointer that lay in its call's
    /// own slot, not cleared after yet: see `note_release()` in
    /// `verifier.rs`.
    pub(crate) released: KVec<Noted>,
    /// The releases after which the program clears the released pointer's
    /// own slot: see `clear_after()` in `verifier.rs`.
    pub(crate) clears: KVec<(u32, u32)>,
    /// The releases that this pass asks to clear the slot after.
    pub(crate) clear_next: KVec<(u32, u32)>,
    /// The calls of subprogs that returned an acquired pointer in this
    /// pass (`at`, with `site` the acquiring call and `subprog` the
    /// call's), sorted by `(site, at)`: see `note_return()` in
    /// `verifier.rs`.
    pub(crate) returns: KVec<Noted>,
    /// The verifier's passes over the program so far, less one.
    pub(crate) pass: u8,
    /// The lists of `pending`, shared where equal.
    pub(crate) shared: Shared,
    /// The BTF destructors found so far, by kernel type, at most
    /// [`MAX_DTORS`]: each is a search of the kernel's symbols.
    pub(crate) dtors: KVec<DtorOf>,
}

/// A BTF destructor the verifier looked up: type `id` of the BTF at `btf`
/// (vmlinux's or a module's) is released by the function at `addr` (0: by
/// none that a throw may call).
#[derive(Clone, Copy)]
pub(crate) struct DtorOf {
    pub(crate) btf: usize,
    pub(crate) id: u32,
    pub(crate) addr: usize,
}

/// The most destructors [`ThrowSites::dtors`] keeps: 6.12 registers a
/// handful.
pub(crate) const MAX_DTORS: usize = 16;

// The vectors that grow with the program are `KVVec`s: a program of
// 10^5 chains or calls would ask kmalloc for more than it gives, with a
// warning. `KVVec` has no `Default`.
impl Default for ThrowSites {
    fn default() -> Self {
        Self {
            calls: false,
            jit: KVVec::new(),
            pending: KVVec::new(),
            by_chain: ChainIndex::new(),
            hints: KVVec::new(),
            next: KVVec::new(),
            shadows: KVec::new(),
            shadow_next: KVec::new(),
            zero_next: KVec::new(),
            iters: KVec::new(),
            handle_next: KVec::new(),
            iter_released: KVec::new(),
            released: KVec::new(),
            clears: KVec::new(),
            clear_next: KVec::new(),
            returns: KVec::new(),
            pass: 0,
            shared: Shared::default(),
            dtors: KVec::new(),
        }
    }
}

impl Pending {
    /// Whether a throw from the chain releases nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.releases.is_empty() && self.held.is_empty()
    }
}

/// The most entries that the lists of one pass's records may hold in all,
/// some 24 MiB: see [`Shared`].
pub(crate) const MAX_STORED: usize = 1 << 20;

/// What a record costs in [`Shared::stored`] besides its lists: its size,
/// in entries of a releases list. A record took 224 bytes, charged as 8
/// entries, until its zeros were shared too: 2^17 records then, and a
/// program that holds nothing at 51^3 chains (three levels of 51 calls),
/// which stock loads, was refused. Now 5 (104 bytes): a pass makes at
/// most some 2*10^5 records (some 22 MiB). With 4 and 224 bytes, a program
/// of 2.7*10^5 chains, which stock verifies with most of a 1 GiB guest,
/// ran it out of memory.
pub(crate) const RECORD_COST: usize = cost_of(core::mem::size_of::<Pending>());

/// What a set of zeros costs in [`Shared::stored`]: its size with the
/// `Arc`'s count, in entries of a releases list.
pub(crate) const ZEROS_COST: usize =
    cost_of(core::mem::size_of::<Zeros>() + core::mem::size_of::<usize>());

/// How many of the zeros made last [`Shared::zeros`] looks among.
const RECENT_ZEROS: usize = 4;

/// `bytes` in entries of a releases list, rounded up.
const fn cost_of(bytes: usize) -> usize {
    bytes.div_ceil(core::mem::size_of::<Release>())
}

/// The lists of the records of one pass, [`Pending::releases`] and
/// [`Pending::sites`], and their zeros, [`Pending::zeros`]. A record of
/// each chain with a list of its own cost
/// a program that held 63 tasks at each of 150 000 calls of a global
/// function some 400 MiB of slab: the guest ran out of memory where stock
/// verifies it. Consecutive chains mostly hold the same, so a record
/// shares the list made last when equal; and the lists made, the records
/// ([`RECORD_COST`] each) and the hints count, up to [`MAX_STORED`]
/// entries, beyond which the program is refused. A static subprog with
/// 900 calls of a global function, called from 900 places, makes 810 000
/// chains in a program of a few thousand instructions.
#[derive(Default)]
pub(crate) struct Shared {
    /// The releases list made last.
    releases: Option<Arc<KVec<Release>>>,
    /// The acquiring calls list made last.
    sites: Option<Arc<KVec<Acquired>>>,
    /// The last [`RECENT_ZEROS`] zeros made, the next to replace at
    /// `zeros_next`.
    zeros: [Option<Arc<Zeros>>; RECENT_ZEROS],
    /// See `zeros`.
    zeros_next: usize,
    /// The entries of the lists made.
    pub(crate) stored: usize,
}

impl Shared {
    /// Counts `n` more entries made; `E2BIG` beyond [`MAX_STORED`].
    pub(crate) fn charge(&mut self, n: usize) -> Result {
        charge(&mut self.stored, n)
    }

    /// `list` as a record's releases.
    pub(crate) fn releases(&mut self, list: &[Release]) -> Result<Arc<KVec<Release>>> {
        share(&mut self.releases, &mut self.stored, list)
    }

    /// `list` as a record's acquiring calls.
    pub(crate) fn sites(&mut self, list: &[Acquired]) -> Result<Arc<KVec<Acquired>>> {
        share(&mut self.sites, &mut self.stored, list)
    }

    /// `zeros` as shared zeros: one of the last [`RECENT_ZEROS`] made, if
    /// equal, else new zeros, which count in `stored`. A chain's zeros
    /// differ from the one before when a program zeroes a register before
    /// every other call: the last made only, and such a program made
    /// new zeros at every record.
    pub(crate) fn zeros(&mut self, zeros: &Zeros) -> Result<Arc<Zeros>> {
        if let Some(z) = self.zeros.iter().flatten().find(|z| ***z == *zeros) {
            return Ok(z.clone());
        }
        charge(&mut self.stored, ZEROS_COST)?;
        let z = Arc::new(*zeros, GFP_KERNEL)?;
        let at = self.zeros_next % RECENT_ZEROS;
        if let Some(slot) = self.zeros.get_mut(at) {
            *slot = Some(z.clone());
        }
        self.zeros_next = at + 1;
        Ok(z)
    }
}

/// Adds `n` to `stored`; `E2BIG` beyond [`MAX_STORED`].
fn charge(stored: &mut usize, n: usize) -> Result {
    *stored = stored.saturating_add(n);
    if *stored > MAX_STORED {
        return Err(E2BIG);
    }
    Ok(())
}

/// `list` as a shared list: `last` if equal, else a new list, which
/// becomes `last` and counts in `stored`; `E2BIG` beyond [`MAX_STORED`].
fn share<T: Copy + PartialEq>(
    last: &mut Option<Arc<KVec<T>>>,
    stored: &mut usize,
    list: &[T],
) -> Result<Arc<KVec<T>>> {
    if let Some(l) = last.as_ref().filter(|l| l[..] == *list) {
        return Ok(l.clone());
    }
    charge(stored, list.len())?;
    let mut v = KVec::with_capacity(list.len(), GFP_KERNEL)?;
    for x in list {
        v.push(*x, GFP_KERNEL)?;
    }
    let a = Arc::new(v, GFP_KERNEL)?;
    *last = Some(a.clone());
    Ok(a)
}

/// The records of [`ThrowSites::pending`] by chain: an open-addressing
/// table of their indexes ([`cleanup::probe`]), at most half full, hashed
/// with a random seed.
pub(crate) struct ChainIndex {
    table: KVVec<u32>,
    seed: u64,
}

impl ChainIndex {
    /// An empty index.
    pub(crate) fn new() -> Self {
        Self {
            table: KVVec::new(),
            seed: 0,
        }
    }

    /// The index in `list` of the record of `chain`, if any.
    pub(crate) fn find(&self, list: &[Pending], chain: &[u32]) -> Option<usize> {
        let is = |k: u32| {
            list.get(k as usize)
                .is_some_and(|p| p.held.calls() == chain)
        };
        let hash = cleanup::chain_hash(self.seed, chain);
        let i = cleanup::probe(&self.table, hash, is).ok()?;
        self.table.get(i).map(|&k| k as usize)
    }

    /// Adds the last record of `list`, which it does not hold yet.
    pub(crate) fn add_last(&mut self, list: &[Pending]) -> Result {
        let n = list.len();
        if n.saturating_mul(2) > self.table.len() {
            if self.table.is_empty() {
                // SAFETY: Any context may ask for random bytes.
                self.seed = unsafe { bindings::get_random_u64() };
            }
            let size = self.table.len().saturating_mul(2).max(64);
            self.table = KVVec::from_elem(cleanup::EMPTY, size, GFP_KERNEL)?;
            return list
                .iter()
                .enumerate()
                .try_for_each(|(k, p)| self.put(k, p));
        }
        match list.last() {
            Some(p) => self.put(n - 1, p),
            None => Ok(()),
        }
    }

    /// Puts record `k`, `p`, in the table's first free entry for it.
    fn put(&mut self, k: usize, p: &Pending) -> Result {
        let hash = cleanup::chain_hash(self.seed, p.held.calls());
        let i = cleanup::probe(&self.table, hash, |_| false)
            .err()
            .ok_or(EFAULT)?;
        *self.table.get_mut(i).ok_or(EFAULT)? = u32::try_from(k).map_err(|_| E2BIG)?;
        Ok(())
    }
}

/// What the verifier's walks of one chain leave held.
pub(crate) struct Pending {
    /// The chain, its RCU and preemption counts (`first` and `len` unused).
    pub(crate) held: Held,
    /// What it releases, sorted: the places of the first walk. Shared
    /// with other chains that release the same (see [`Shared`]).
    pub(crate) releases: Arc<KVec<Release>>,
    /// The places where every walk held zero. Shared with other chains
    /// (see [`Shared`]): 128 bytes, most of a record.
    pub(crate) zeros: Arc<Zeros>,
    /// The calls that acquired the pointers that the walks hold, sorted
    /// by index as loaded, at most `MAX_SITES` (a call left out is never
    /// given a slot of its own: the program may then be refused).
    pub(crate) sites: Arc<KVec<Acquired>>,
    /// The lengths of `sites` and of [`ThrowSites::returns`] when a
    /// conflict of this pass last asked slots of their own for them: a
    /// later conflict of the chain asks again only if one has grown.
    pub(crate) asked: Option<(usize, usize)>,
    /// The entry of [`ThrowSites::next`] that holds this pass's hints for
    /// the chain, if any.
    pub(crate) next_hint: Option<u32>,
}

/// An acquiring call whose pointer a walk of a chain holds.
#[derive(Clone, Copy, PartialEq)]
pub(crate) struct Acquired {
    /// The call, by its index as loaded.
    pub(crate) site: u32,
    /// Whether it lies in a subprog of the chain's frames; if not, a
    /// subprog returned the pointer (see `note_return()` in
    /// `verifier.rs`), and the calls in the frames that returned it get
    /// the slot of their own instead.
    pub(crate) here: bool,
}

/// The places that the verifier's earlier passes found for the walks of
/// one chain to prefer and to mark as precise where they hold zero.
pub(crate) struct Hint {
    /// The chain, by index as loaded, as [`Held::calls`] gives it.
    pub(crate) chain: [u32; MAX_FRAMES],
    /// The chain's length.
    pub(crate) depth: u8,
    /// The places, in the order found.
    pub(crate) places: KVec<Release>,
}

impl Hint {
    /// The chain.
    pub(crate) fn calls(&self) -> &[u32] {
        self.chain.get(..usize::from(self.depth)).unwrap_or(&[])
    }
}

/// A call that the verifier walked: a release of a pointer that lay in
/// its acquiring call's own slot, or a call of a subprog that returned an
/// acquired pointer.
#[derive(Clone, Copy)]
pub(crate) struct Noted {
    /// The call, by its index as loaded.
    pub(crate) at: u32,
    /// The acquiring call, by its index as loaded.
    pub(crate) site: u32,
    /// The subprog of the call.
    pub(crate) subprog: u32,
    /// Whether a clear after it has been asked for (releases).
    pub(crate) asked: bool,
}

/// A stack slot of its own for what an acquiring call returns, or for the
/// frame pointer of the iterator that a call makes (its handle), or a slot
/// zeroed on entry to its subprog (`site` `u32::MAX`).
#[derive(Clone, Copy)]
pub(crate) struct Shadow {
    /// The call, by its index as loaded.
    pub(crate) site: u32,
    /// The subprog of the call.
    pub(crate) subprog: u32,
    /// The slot, in the subprog's frame.
    pub(crate) slot: u16,
    /// Whether it is an iterator's handle.
    pub(crate) handle: bool,
}

/// A call that made an iterator or a ring buffer dynptr in a stack slot of
/// its own frame, held at a throw: it may get a handle (see `handle()` in
/// `verifier.rs`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct IterSite {
    /// The call, by its index as loaded.
    pub(crate) site: u32,
    /// The subprog of the call.
    pub(crate) subprog: u32,
    /// The iterator's first slot.
    pub(crate) slot: u16,
}

impl ThrowSites {
    /// The verifier's record in `aux`, the main program's, made empty if
    /// there is none yet; `None` if memory runs out.
    ///
    /// # Safety
    ///
    /// `aux` must be a program's own `struct bpf_prog_aux`, not a copy:
    /// its `throw_sites` is NULL or a `KBox<ThrowSites>` that this module
    /// stored there and the aux owns.
    pub(crate) unsafe fn pending(aux: &mut bindings::bpf_prog_aux) -> Option<&mut ThrowSites> {
        if aux.throw_sites.is_null() {
            let b = KBox::new(ThrowSites::default(), GFP_KERNEL).ok()?;
            aux.throw_sites = KBox::into_raw(b).cast();
        }
        // SAFETY: Per the caller, a `KBox<ThrowSites>` that the aux owns,
        // lent with the aux.
        unsafe { aux.throw_sites.cast::<ThrowSites>().as_mut() }
    }

    /// Whether the verifier recorded anything to release.
    fn releases(&self) -> bool {
        self.pending.iter().any(|p| !p.is_empty())
    }

    /// Whether the verifier recorded anything to release in `aux`.
    ///
    /// # Safety
    ///
    /// As for [`ThrowSites::pending`].
    pub(crate) unsafe fn releases_any(aux: &bindings::bpf_prog_aux) -> bool {
        // SAFETY: Per the caller; read only.
        unsafe { aux.throw_sites.cast::<ThrowSites>().as_ref() }.is_some_and(ThrowSites::releases)
    }

    /// Makes the JIT note the calls of subprogs of the function whose aux
    /// is `aux` too. If memory runs out it does not, and [`prepare`] then
    /// fails the load.
    ///
    /// # Safety
    ///
    /// As for [`ThrowSites::pending`].
    pub(crate) unsafe fn note_calls(aux: &mut bindings::bpf_prog_aux) {
        // SAFETY: Guaranteed by the caller.
        drop(unsafe { take_jit_sites(aux) });
        let t = ThrowSites {
            calls: true,
            ..ThrowSites::default()
        };
        if let Ok(b) = KBox::new(t, GFP_KERNEL) {
            aux.throw_sites = KBox::into_raw(b).cast();
        }
    }
}

/// Notes where the calls of `bpf_throw()` in `prog` end in its JITed code,
/// for the `bpf:bpf_throw` tracepoint, and those of subprogs if the
/// program releases anything on a throw. Called by the JIT once it has laid
/// out a function for the last time; `insn_to_jit_off[i]` is the offset of
/// the end of instruction `i`'s code. Does nothing for a function without
/// such calls; if memory runs out, the tracepoint gives no offset.
///
/// # Safety
///
/// `prog` must be the function being JITed, with `prog->len` instructions
/// and as many entries in `insn_to_jit_off`.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_jit_sites(
    prog: *mut bindings::bpf_prog,
    insn_to_jit_off: *const u32,
) {
    // SAFETY: Guaranteed by the caller.
    let prog = unsafe { &*prog };
    // A program that can throw always has subprogs (the hidden default
    // callback at least), JITed one by one as functions: the scan skips
    // every other program (classic BPF, seccomp, single functions).
    if prog.is_func() == 0 {
        return;
    }
    // SAFETY: `prog->aux` is the function's own, apart from its
    // instructions.
    let aux = unsafe { &mut *prog.aux };
    // A function JITed again replaces what its last JIT noted.
    // SAFETY: As above.
    let calls = unsafe { take_jit_sites(aux) }.is_some_and(|t| t.calls);
    // SAFETY: Guaranteed by the caller.
    let insns = unsafe { crate::verifier::prog_insns(prog) };
    // SAFETY: Guaranteed by the caller.
    let offs = unsafe { core::slice::from_raw_parts(insn_to_jit_off, insns.len()) };
    let mut sites = KVVec::new();
    for ((i, insn), &off) in insns.iter().enumerate().zip(offs) {
        let noted = calls_throw(insn) || (calls && calls_subprog(insn));
        if noted && sites.push((off, i as u32), GFP_KERNEL).is_err() {
            return;
        }
    }
    if sites.is_empty() && !calls {
        return;
    }
    let t = ThrowSites {
        calls,
        jit: sites,
        ..ThrowSites::default()
    };
    if let Ok(b) = KBox::new(t, GFP_KERNEL) {
        aux.throw_sites = KBox::into_raw(b).cast();
    }
}

/// Takes `aux->throw_sites`.
///
/// # Safety
///
/// As for [`ThrowSites::pending`].
unsafe fn take_jit_sites(aux: &mut bindings::bpf_prog_aux) -> Option<KBox<ThrowSites>> {
    let p = core::mem::replace(&mut aux.throw_sites, core::ptr::null_mut());
    // SAFETY: Per the caller, NULL or a `KBox<ThrowSites>` the aux owned.
    (!p.is_null()).then(|| unsafe { KBox::from_raw(p.cast::<ThrowSites>()) })
}

/// Builds the [`ExceptionTable`] of a program that can throw and stores it
/// in `aux->exception_table`. Called by the verifier once the program's
/// `cnt` functions in `func` are JITed at their final addresses; `insns`
/// are the program's instructions as `bpftool prog dump xlated` shows them,
/// and function `i` starts at instruction `start_of(i)` of them.
///
/// The k-th call of `bpf_throw()` that the JIT noted in a function is the
/// k-th in the function's range of `insns`: constant blinding, which the
/// JIT applies to a copy of each function, adds instructions but no calls.
/// The same holds for calls of subprogs, noted if the verifier recorded
/// anything to release in `aux`; `orig_of(i)` is then the index of
/// instruction `i` as loaded, by which the verifier recorded the calls.
///
/// # Safety
///
/// `aux` must be the program's own `struct bpf_prog_aux`, with no table
/// yet, and `func` must point to `cnt` JITed functions.
pub(crate) unsafe fn prepare(
    aux: *mut bindings::bpf_prog_aux,
    func: *mut *mut bindings::bpf_prog,
    cnt: u32,
    insns: &[bindings::bpf_insn],
    start_of: impl Fn(usize) -> u32,
    orig_of: impl Fn(usize) -> u32,
) -> c_int {
    // SAFETY: The caller gives the program's own aux.
    let pending = unsafe { take_jit_sites(&mut *aux) };
    let calls = pending.as_deref().is_some_and(ThrowSites::releases);
    // A pass that found new hints is never the verifier's last.
    if pending.as_deref().is_some_and(|p| {
        !p.next.is_empty()
            || !p.shadow_next.is_empty()
            || !p.zero_next.is_empty()
            || !p.handle_next.is_empty()
            || !p.clear_next.is_empty()
    }) {
        pr_err!("bpf_throw: the verifier's last pass left hints\n");
        return EFAULT.to_errno();
    }
    let mut funcs = KVec::new();
    let mut sites = KVVec::new();
    let mut depths = KVec::new();
    let mut layouts = KVec::new();
    for i in 0..cnt as usize {
        // SAFETY: The caller gives `cnt` live, JITed functions.
        let (start, len, saved, depth, is_cb, jit_sites) = unsafe {
            let f = *func.add(i);
            (
                (*f).bpf_func.map_or(0, |p| p as usize),
                (*f).jited_len as usize,
                (*(*f).aux).jit_saved_regs,
                (*(*f).aux).stack_depth,
                (*(*f).aux).exception_cb,
                take_jit_sites(&mut *(*f).aux),
            )
        };
        if cfg!(CONFIG_ARM64) && calls {
            // SAFETY: The function's image is `len` bytes at `start`,
            // JITed and no longer written.
            let code = unsafe {
                core::slice::from_raw_parts(start as *const u32, (len / 4).min(PROLOGUE_MAX))
            };
            // The exception callback has no frame record of its own, and
            // is in no chain.
            let layout = match unwind::arm64_layout(code) {
                Some(l) => l,
                None if is_cb => Arm64Layout::default(),
                None => {
                    pr_err!("bpf_throw: an arm64 prologue that the unwinder cannot read\n");
                    return EFAULT.to_errno();
                }
            };
            if layouts.push(layout, GFP_KERNEL).is_err() {
                return ENOMEM.to_errno();
            }
        }
        // Every function must have noted its calls of subprogs if the
        // program releases anything: else the calls below would not match
        // the JIT's.
        if calls && !jit_sites.as_ref().is_some_and(|s| s.calls) {
            return ENOMEM.to_errno();
        }
        if depths.push(depth, GFP_KERNEL).is_err() {
            return ENOMEM.to_errno();
        }
        let f = Func {
            start,
            end: start + len,
            saved: SavedRegs(saved),
            main: i == 0,
        };
        if funcs.push(f, GFP_KERNEL).is_err() {
            return ENOMEM.to_errno();
        }
        // The function's calls of bpf_throw() in `insns`, in order.
        let first = start_of(i) as usize;
        let last = if i.wrapping_add(1) < cnt as usize {
            start_of(i.wrapping_add(1)) as usize
        } else {
            insns.len()
        };
        let mut calls_in = insns
            .get(first..last)
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .filter(|(_, insn)| calls_throw(insn) || (calls && calls_subprog(insn)))
            .map(|(k, _)| first.wrapping_add(k) as u32);
        for &(end, _) in jit_sites.iter().flat_map(|s| s.jit.iter()) {
            // Past the function's calls (which cannot be): no offset.
            let insn = calls_in.next().unwrap_or(u32::MAX);
            let site = Site {
                end: start.wrapping_add(end as usize),
                func: i as u32,
                insn,
                orig: if insn == u32::MAX {
                    u32::MAX
                } else {
                    orig_of(insn as usize)
                },
            };
            if sites.push(site, GFP_KERNEL).is_err() {
                return ENOMEM.to_errno();
            }
        }
    }
    // Every chain (but main's that release nothing), if any releases
    // something: the unwinder goes from chain to chain, through the calls
    // of global subprogs.
    let (mut held, mut releases) = (KVVec::new(), KVVec::new());
    // Each chain's calls are found by a binary search, not a scan of the
    // calls per call of each chain. A call that the verifier inserted
    // (that of the callback of an inlined bpf_loop()) has index 0 as
    // loaded, as the program's first instruction has, which lies in main:
    // main's calls come first among equal indexes, so that a chain's call
    // of index 0 is found in main. Callbacks cannot throw, so no chain
    // has an inserted call.
    sites.sort_unstable_by_key(|s| (s.orig, s.func, s.end));
    if calls {
        // The records' lists, by address, with the record of each: the
        // lists are copied into the table once each, below.
        let mut lists: KVVec<(usize, u32, &KVec<Release>)> = KVVec::new();
        for p in pending.iter().flat_map(|p| p.pending.iter()) {
            // Each call of a chain must be one the JIT noted: a chain the
            // unwinder cannot find would release nothing. And each slot
            // released must lie in its function's stack as JITed.
            let mut funcs_of = [u32::MAX; MAX_FRAMES];
            for (f, &c) in funcs_of.iter_mut().zip(p.held.calls()) {
                match sites.get(sites.partition_point(|s| s.orig < c)) {
                    Some(s) if s.orig == c => *f = s.func,
                    _ => {
                        pr_err!("bpf_throw: a call of a chain of releases was not JITed\n");
                        return EFAULT.to_errno();
                    }
                }
            }
            for r in p.releases.iter() {
                // How far below the frame's pointer the release reads: its
                // slot, and for an iterator by its handle, the iterator.
                let below = match (r.loc, r.kind) {
                    (cleanup::Loc::Slot(n), k) if k.by_handle() => {
                        (8 * (u32::from(n) + 1)).max(u32::from(r.off.unsigned_abs()))
                    }
                    (cleanup::Loc::Slot(n), _) => 8 * (u32::from(n) + 1),
                    (cleanup::Loc::Reg(_), _) => 0,
                };
                let depth = funcs_of
                    .get(usize::from(r.frame))
                    .and_then(|&f| depths.get(f as usize))
                    .copied()
                    .unwrap_or(0);
                // The JIT rounds the stack up to 8 bytes.
                // A handle finds a resource of at least eight bytes (a
                // dynptr, sixteen) on a slot's boundary.
                let least = if r.kind == Kind::DynptrAt { 16 } else { 8 };
                if below > depth.next_multiple_of(8)
                    || (r.kind.by_handle() && (r.off < least || r.off % 8 != 0))
                {
                    pr_err!("bpf_throw: a slot to release is outside its frame\n");
                    return EFAULT.to_errno();
                }
            }
            // A chain of main's that releases nothing needs no record:
            // the unwinder looks no further out than main's chain.
            if p.is_empty() && funcs_of.first() == Some(&0) {
                continue;
            }
            let list: &KVec<Release> = &p.releases;
            let entry = (
                list as *const KVec<Release> as usize,
                held.len() as u32,
                list,
            );
            if held.push(p.held, GFP_KERNEL).is_err() || lists.push(entry, GFP_KERNEL).is_err() {
                return ENOMEM.to_errno();
            }
        }
        // Chains that share a list (see `Shared`) share its entries in the
        // table too, wherever they lie in the records' order (merges
        // give a record the list made last): the table then holds no more
        // entries than the verifier counted in its cap. Copied per chain,
        // 810 000 chains of 63 releases would take 1.2 GB.
        lists.sort_unstable_by_key(|&(list, at, _)| (list, at));
        let mut last: Option<(usize, u32, u32)> = None;
        for &(list, at, rel) in lists.iter() {
            let (first, len) = match last {
                Some((l, first, len)) if l == list => (first, len),
                _ => {
                    let first = releases.len() as u32;
                    for r in rel.iter() {
                        if releases.push(*r, GFP_KERNEL).is_err() {
                            return ENOMEM.to_errno();
                        }
                    }
                    (first, rel.len() as u32)
                }
            };
            last = Some((list, first, len));
            if let Some(h) = held.get_mut(at as usize) {
                h.first = first;
                h.len = len;
            }
        }
    }
    // site_of() searches the calls by the end of their code, and
    // cleanup::find() the chains by their innermost call.
    sites.sort_unstable_by_key(|s| s.end);
    cleanup::sort_held(&mut held);
    let table = match ExceptionTable::new(funcs, sites, held, releases, layouts)
        .and_then(|t| KBox::new(t, GFP_KERNEL).map_err(Into::into))
    {
        Ok(t) => t,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: The caller gives the program's own aux, which owns the table
    // from here until `bpf_exceptions_release`.
    unsafe { (*aux).exception_table = KBox::into_raw(table).cast() };
    0
}

/// Frees `aux->exception_table`, if any. Called when the program is freed,
/// after the last run of it has ended.
///
/// # Safety
///
/// `aux` must be a program's `struct bpf_prog_aux` that no one runs anymore.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_release(aux: *mut bindings::bpf_prog_aux) {
    // SAFETY: The caller gives a valid aux; the program no longer runs.
    let aux = unsafe { &mut *aux };
    let table = core::mem::replace(&mut aux.exception_table, core::ptr::null_mut());
    if !table.is_null() {
        // SAFETY: `prepare` stored a `KBox` of ours there.
        drop(unsafe { KBox::from_raw(table.cast::<ExceptionTable>()) });
    }
    // A function whose JIT or verification failed after its last pass.
    // SAFETY: As above.
    drop(unsafe { take_jit_sites(aux) });
}

/// Returns the bytes of the table of the program whose aux is `aux` (0
/// if it has none), and in `*cleanup` those that describe what its throws
/// release. For the program's fdinfo.
///
/// # Safety
///
/// `aux` must be a loaded program's aux, and `cleanup` writable.
#[no_mangle]
pub unsafe extern "C" fn bpf_exceptions_table_bytes(
    aux: *const bindings::bpf_prog_aux,
    cleanup: *mut usize,
) -> usize {
    // SAFETY: A loaded program's table lives as long as the program.
    let t = unsafe { table(aux) };
    let c = t.map_or(0, |t| t.cleanup_size());
    // SAFETY: Guaranteed by the caller.
    unsafe { *cleanup = c };
    t.map_or(0, |t| {
        core::mem::size_of::<ExceptionTable>()
            + t.table.len()
            + t.funcs.len() * core::mem::size_of::<Func>()
            + t.sites.len() * core::mem::size_of::<Site>()
            + c
    })
}

/// Returns the entry of the exception callback of the program whose aux is
/// `aux`, as the verifier stored it.
///
/// # Safety
///
/// `aux` must be the aux of a program that is running, and so is alive.
pub(crate) unsafe fn callback(aux: *const bindings::bpf_prog_aux) -> Option<usize> {
    // SAFETY: The caller's guarantee; the field is set before the program
    // can run and never changes.
    unsafe { (*aux).bpf_exception_cb.map(|f| f as usize) }
}

/// Returns the table of the program whose aux is `aux`.
///
/// # Safety
///
/// `aux` must be the aux of a program that is running, and so is alive.
pub(crate) unsafe fn table<'a>(aux: *const bindings::bpf_prog_aux) -> Option<&'a ExceptionTable> {
    // SAFETY: The caller's guarantee; a running program's table is freed
    // only with the program.
    unsafe { (*aux).exception_table.cast::<ExceptionTable>().as_ref() }
}

/// Unwinds a throw of the program with the table `table` from the function
/// whose stack pointer at its call is `sp` and whose frame pointer is `fp`,
/// on this stack; see [`unwind::unwind`].
#[inline(always)]
pub(crate) fn unwind_with(
    table: &ExceptionTable,
    regs: &mut Regs,
    sp: usize,
    fp: usize,
) -> core::result::Result<usize, unwind::WalkError> {
    unwind::unwind(&ThreadStack, &table.map(), regs, sp, fp)
}

/// Where [`bpf_exceptions_unwind`] sends `bpf_exceptions_throw`: the
/// exception callback and the boundary's frame pointer (rax and rdx on
/// x86-64, x0 and x1 on arm64).
#[repr(C)]
pub(crate) struct Landing {
    callback: usize,
    fp: usize,
}

/// Unwinds the BPF program that called `bpf_throw()`: replaces `*regs`
/// with the callee-saved registers of the program's caller and returns the
/// program's exception callback and the frame it is to return from.
///
/// The verifier, the JIT and the attach checks leave no foreign frame
/// between a throw and its boundary, and `bpf_throw()` cannot be traced, so
/// the walk cannot fail for a program that passed them. If it fails all the
/// same (no table, a return address that is not the program's, a broken
/// chain of frame records: a kernel bug), this reports why and stops the
/// task with `BUG()`. Nothing safe is left to do: the code after the call
/// of `bpf_throw()` was verified as a program exit; returning the cookie to
/// a foreign caller (a trampoline) would hand it to BPF code verified to
/// expect the exact value the callee returns; and skipping the foreign
/// frame would give the program's caller registers that the foreign code
/// may have changed.
///
/// # Safety
///
/// Called only by `bpf_exceptions_throw`, on behalf of `bpf_throw()`
/// called from a JITed program: `aux` is that program's aux, `regs` its
/// callee-saved registers, `fp` the throwing function's frame pointer,
/// `sp` the address of the return address into it, and `scratch` its R0
/// and R3-R5 at the call (x86-64 and arm64; NULL elsewhere).
pub(crate) unsafe extern "C" fn bpf_exceptions_unwind(
    _cookie: u64,
    aux: *const bindings::bpf_prog_aux,
    regs: *mut Regs,
    fp: usize,
    sp: usize,
    scratch: *const Scratch,
) -> Landing {
    // SAFETY: `aux` is the running program's.
    let (Some(table), Some(callback)) = (unsafe { (table(aux), callback(aux)) }) else {
        pr_emerg!("bpf_throw: program has no exception table or callback\n");
        stop();
    };
    // SAFETY: `regs` is on our caller's stack, for us to read and write.
    let regs = unsafe { &mut *regs };
    if !table.held.is_empty() {
        // SAFETY: On x86-64 and arm64, the architectures whose programs
        // release anything, `scratch` is on our caller's stack, for us to
        // read.
        if let Some(scratch) = unsafe { scratch.as_ref() } {
            release(table, regs, scratch, sp, fp);
        }
    }
    let fp = match unwind_with(table, regs, sp, fp) {
        Ok(fp) => fp,
        Err(e) => {
            pr_emerg!("bpf_throw: cannot unwind: {:?}\n", e);
            stop();
        }
    };

    // The frames below the boundary are abandoned without returning, but
    // none of them is instrumented by KASAN: JITed BPF frames, the entry's
    // (assembly) and nothing of `bpf_throw()`, a bare jump. Every C and
    // Rust function of the throw (this one included) returns before the
    // jump and unpoisons its own stack. So, unlike stock's C `bpf_throw()`,
    // nothing is left poisoned, and there is no
    // `kasan_unpoison_task_stack_below()` here: its range starts at the
    // `THREAD_SIZE`-aligned address below `fp`, which is the task stack's
    // base only in task context; on an IRQ or NMI stack it reaches below
    // the stack and unpoisons the shadow of whatever lies there.

    // The JIT built `callback` as this program's exception callback:
    // it takes over the boundary's frame at `fp` and returns from it to the
    // program's caller, with the registers that caller expects, which
    // `unwind` recovered into `regs`. Everything below that frame (our
    // frames, `bpf_throw()` and the unwound BPF frames) is dead from then
    // on; none of it holds a lock or reference.
    Landing { callback, fp }
}

/// Fires the `bpf:bpf_throw` tracepoint for a throw, before
/// [`bpf_exceptions_unwind`] unwinds it: the arch entry jumps here, with
/// the same arguments, only while the tracepoint is on (a static branch,
/// a no-op otherwise). Counts the frames with a walk that changes nothing,
/// and finds the call of `bpf_throw()` by its return address. Fires nothing
/// if the walk fails, which the unwind then reports.
///
/// # Safety
///
/// As for [`bpf_exceptions_unwind`].
pub(crate) unsafe extern "C" fn bpf_exceptions_trace(
    cookie: u64,
    aux: *const bindings::bpf_prog_aux,
    regs: *const Regs,
    fp: usize,
    sp: usize,
) {
    // SAFETY: `aux` is the running program's.
    let Some(table) = (unsafe { table(aux) }) else {
        return;
    };
    // SAFETY: `regs` is on our caller's stack, for us to read.
    let regs = unsafe { &*regs };
    let Ok(frames) = unwind::count_frames(&ThreadStack, &table.map(), regs, sp, fp) else {
        return;
    };
    let ip = ThreadStack.return_address(sp);
    let (func, insn) = unwind::site_of(&table.funcs, &table.sites, ip)
        .map_or((u32::MAX, u32::MAX), |s| (s.func, s.insn));
    // SAFETY: `aux` is the running program's, alive for the call.
    unsafe { bindings::bpf_exceptions_trace_throw(aux, func, insn, cookie, frames) };
}

/// Stops the task: see [`bpf_exceptions_unwind`]. Inlined, so that objtool
/// sees the call of the `BUG()` helper, which it knows does not return.
#[inline(always)]
fn stop() -> ! {
    // SAFETY: `BUG()` may be called from any context.
    unsafe { bindings::BUG() }
}

const _: () = assert!(core::mem::size_of::<Regs>() == 40);
