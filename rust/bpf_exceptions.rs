// SPDX-License-Identifier: GPL-2.0

//! BPF exceptions: the verifier's checks, the `bpf_throw()` unwinder and the
//! x86-64 JIT prologue.
//!
//! A BPF program that calls the kfunc `bpf_throw(cookie)` stops at once:
//! every BPF frame down to the program's main function (the exception
//! boundary) is unwound, and the program returns what its exception callback
//! returns for `cookie` (the cookie itself with the default callback).
//!
//! [`verifier`] holds the verifier's exception checks, called from
//! `kernel/bpf/verifier.c`: the callback, throws as program exits, global
//! subprogs that may throw, and the hidden default callback.
//!
//! The C kfunc in `kernel/bpf/helpers.c` tail calls
//! [`throw::bpf_exceptions_throw`], which unwinds with [`unwind`] and the
//! table the verifier had built for the program after JIT.
//!
//! On arm64 the JIT is upstream's C, and only the entry into the unwinder
//! and the callback differ (`throw_arm64.rs`). The x86-64 JIT emits the
//! prologue of every BPF function, and the restore of its callee-saved
//! registers, through [`jit_ffi`]: [`jit`] lays out the
//! frame (every function saves only the callee-saved registers it uses;
//! exception callbacks take over the boundary's frame) with the encoder
//! [`x86`].
//!
//! [`cleanup`] describes what a throw releases. `env` is the safe view of
//! the verifier's state through which [`verifier`] reads and changes it.
//!
//! [`callgraph`], [`cleanup`], [`unwind`], [`jit`], [`x86`] and [`insn`] use
//! no kernel types and are also tested on the host.
//!
//! The crate is built with `CONFIG_BPF_EXCEPTIONS_RUST` or with the x86-64
//! JIT in a kernel built with Rust (`CONFIG_BPF_JIT_RUST`); [`verifier`] and
//! [`throw`] only with the first. Without them `kernel/bpf/exceptions_off.c`
//! takes the verifier's calls and rejects programs that use exceptions.
//!
//! See Documentation/bpf/exceptions-rust.rst.

/// Prefix of this crate's kernel log messages.
const __LOG_PREFIX: &[u8] = b"bpf_exceptions\0";

pub mod callgraph;
pub mod cleanup;
#[cfg(CONFIG_BPF_EXCEPTIONS_RUST)]
mod env;
pub mod insn;
pub mod jit;
#[cfg(CONFIG_BPF_JIT_RUST)]
pub mod jit_ffi;
#[cfg(CONFIG_BPF_EXCEPTIONS_RUST)]
pub mod throw;
pub mod unwind;
#[cfg(CONFIG_BPF_EXCEPTIONS_RUST)]
pub mod verifier;
pub mod x86;

#[cfg(CONFIG_BPF_EXCEPTIONS_RUST_KUNIT_TEST)]
mod kunit;
#[cfg(CONFIG_BPF_EXCEPTIONS_RUST_KUNIT_TEST)]
mod tests;
#[cfg(all(CONFIG_BPF_EXCEPTIONS_RUST_KUNIT_TEST, CONFIG_ARM64))]
mod tests_arm64;
#[cfg(all(CONFIG_BPF_EXCEPTIONS_RUST_KUNIT_TEST, CONFIG_X86_64))]
mod tests_x86_64;
#[cfg(CONFIG_BPF_EXCEPTIONS_RUST_KUNIT_TEST)]
mod verifier_tests;
