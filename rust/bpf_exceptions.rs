// SPDX-License-Identifier: GPL-2.0

//! BPF exceptions: the `bpf_throw()` unwinder.
//!
//! A BPF program that calls the kfunc `bpf_throw(cookie)` stops at once:
//! every BPF frame down to the program's main function (the exception
//! boundary) is unwound, and the program returns what its exception callback
//! returns for `cookie` (the cookie itself with the default callback).
//!
//! The C kfunc in `kernel/bpf/helpers.c` hands its frame address to
//! [`throw::bpf_exceptions_throw`]. [`unwind`] finds the boundary; it and
//! [`insn`] use no kernel types and are also tested on the host.
//!
//! See Documentation/bpf/exceptions-rust.rst.

/// Prefix of this crate's kernel log messages.
const __LOG_PREFIX: &[u8] = b"bpf_exceptions\0";

pub mod insn;
pub mod throw;
pub mod unwind;

#[cfg(CONFIG_BPF_EXCEPTIONS_RUST_KUNIT_TEST)]
mod kunit;
#[cfg(CONFIG_BPF_EXCEPTIONS_RUST_KUNIT_TEST)]
mod tests;
