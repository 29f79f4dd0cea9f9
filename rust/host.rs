// SPDX-License-Identifier: GPL-2.0

//! Host build of the kernel-independent modules, for `cargo test`.

#![no_std]

#[path = "callgraph.rs"]
pub mod callgraph;
#[path = "cleanup.rs"]
pub mod cleanup;
#[path = "insn.rs"]
pub mod insn;
#[path = "jit.rs"]
pub mod jit;
#[path = "unwind.rs"]
pub mod unwind;
#[path = "x86.rs"]
pub mod x86;
