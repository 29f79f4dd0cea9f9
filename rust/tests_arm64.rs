// SPDX-License-Identifier: GPL-2.0

//! The arm64 cases of the KUnit suite `bpf_exceptions`: a C caller's
//! callee-saved registers and its shadow call stack.

/// Values that the caller of a program keeps in x19 to x28, then how far
/// x18 (the shadow call stack pointer, with `CONFIG_SHADOW_CALL_STACK`)
/// may move across the call: not at all.
pub(crate) const CANARIES: [u64; 11] = [
    0x1111_2222_3333_4444,
    0x5555_6666_7777_8888,
    0x9999_aaaa_bbbb_cccc,
    0xdddd_eeee_ffff_0001,
    0x0123_4567_89ab_cdef,
    0x1357_9bdf_2468_ace0,
    0xfedc_ba98_7654_3210,
    0x0f1e_2d3c_4b5a_6978,
    0x8796_a5b4_c3d2_e1f0,
    0x7777_5555_3333_1111,
    0,
];

/// Calls the JITed function at `entry` with `ctx` while x19 to x28 hold
/// [`CANARIES`], as a C caller would keep values in them, and returns its
/// value and those registers after it returned, followed by x18 after the
/// call minus x18 before. A throw that left the shadow call stack pushed
/// would make the caller return through a stale entry; this sees it, and
/// puts x18 back, before the caller returns.
///
/// # Safety
///
/// `entry` must be the main function of a loaded program that only reads
/// its context, and `ctx` what it reads.
pub(crate) unsafe fn call_with_canaries(entry: usize, ctx: *const u64) -> (u64, [u64; 11]) {
    let mut regs = [0u64; 11];
    let ret: u64;
    let x18_moved: u64;
    // SAFETY: x19, which the compiler may use for itself, is saved with
    // the out pointer on a 16-byte aligned slot and restored after the
    // call; x20-x28 are declared clobbered; the inputs are in fixed
    // caller-saved registers, read before the call. x18 is saved in a
    // 16-byte slot of its own, popped after the call and put back, which
    // changes nothing if the callee kept it, and otherwise lets this
    // function return through its own shadow stack entry and report the
    // move. The callee follows the C calling convention, as the kernel's
    // own callers of BPF programs assume; its entry is a BTI landing pad
    // for `blr`.
    unsafe {
        core::arch::asm!(
            "stp x19, x12, [sp, #-16]!",
            "str x18, [sp, #-16]!",
            "ldp x20, x21, [x10, #8]",
            "ldp x22, x23, [x10, #24]",
            "ldp x24, x25, [x10, #40]",
            "ldp x26, x27, [x10, #56]",
            "ldr x28, [x10, #72]",
            "ldr x19, [x10]",
            "blr x11",
            "ldr x13, [sp], #16",
            "sub x14, x18, x13",
            "mov x18, x13",
            "ldr x9, [sp, #8]",
            "stp x19, x20, [x9]",
            "stp x21, x22, [x9, #16]",
            "stp x23, x24, [x9, #32]",
            "stp x25, x26, [x9, #48]",
            "stp x27, x28, [x9, #64]",
            "ldr x19, [sp], #16",
            in("x10") CANARIES.as_ptr(),
            in("x11") entry,
            in("x12") regs.as_mut_ptr(),
            inout("x0") ctx => ret,
            out("x13") _,
            out("x14") x18_moved,
            out("x20") _,
            out("x21") _,
            out("x22") _,
            out("x23") _,
            out("x24") _,
            out("x25") _,
            out("x26") _,
            out("x27") _,
            out("x28") _,
            clobber_abi("C"),
        );
    }
    regs[10] = x18_moved;
    (ret, regs)
}
