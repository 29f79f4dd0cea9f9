// SPDX-License-Identifier: GPL-2.0

//! A minimal KUnit suite for built-in Rust code.
//!
//! Linux 6.12 has no Rust macros for KUnit suites (6.15 adds `#[kunit_tests]`).
//! KUnit finds built-in suites through pointers that the linker gathers in the
//! `.kunit_test_suites` section, which is what C's `kunit_test_suite()` emits,
//! so [`kunit_suite!`] emits the same from Rust: a `struct kunit_case` array
//! ending in an empty case, a `struct kunit_suite` pointing to it, and the
//! suite's address in that section. Each case is a plain Rust function
//! taking a [`Test`]; [`expect_eq!`], [`expect_ok!`] and [`fail!`] report a
//! failed expectation to KUnit with file and line, and let the case go on
//! and clean up.
//!
//! ```ignore
//! fn adds(t: &mut Test) {
//!     expect_eq!(t, 1 + 1, 2);
//! }
//! kunit_suite!("example", [adds]);
//! ```

use core::{
    ffi::{c_void, CStr},
    fmt,
};
use kernel::bindings;

/// The running test case, as KUnit hands it to the case function.
pub(crate) struct Test {
    raw: *mut bindings::kunit,
}

impl Test {
    /// Wraps the test KUnit passes to a case.
    ///
    /// # Safety
    ///
    /// `raw` must be the `struct kunit` of the running case, valid until the
    /// case returns.
    pub(crate) unsafe fn from_raw(raw: *mut bindings::kunit) -> Self {
        Self { raw }
    }

    /// Marks the case failed with `msg`, reported at `file`:`line`.
    pub(crate) fn fail(
        &mut self,
        file: &'static kernel::str::CStr,
        line: u32,
        msg: fmt::Arguments<'_>,
    ) {
        let loc = bindings::kunit_loc {
            line: line as _,
            file: file.as_char_ptr(),
        };
        let assert = bindings::kunit_fail_assert::default();
        // SAFETY: `self.raw` is the running case (see `from_raw`). `loc`,
        // `assert` and `msg` outlive the call, which formats them into the
        // case's log before returning; `%pA` takes a `fmt::Arguments`. An
        // expectation, unlike an assertion, does not abort the case.
        unsafe {
            bindings::__kunit_do_failed_assertion(
                self.raw,
                &loc,
                bindings::kunit_assert_type_KUNIT_EXPECTATION,
                &assert.assert,
                Some(bindings::kunit_fail_assert_format),
                c"%pA".as_ptr().cast(),
                &msg as *const fmt::Arguments<'_> as *const c_void,
            )
        };
    }

    /// Logs a diagnostic line for the case.
    pub(crate) fn info(&self, msg: fmt::Arguments<'_>) {
        kernel::kunit::info(format_args!("    # {}\n", msg));
    }
}

/// Checks that two values are equal; on a mismatch, marks the case failed
/// with both values and evaluates to `false`.
macro_rules! expect_eq {
    ($test:expr, $left:expr, $right:expr $(,)?) => {{
        let (left, right) = (&$left, &$right);
        let equal = left == right;
        if !equal {
            $test.fail(
                kernel::c_str!(file!()),
                line!(),
                format_args!(
                    "Expected {} == {}, but\n        {} == {:?}\n        {} == {:?}",
                    stringify!($left),
                    stringify!($right),
                    stringify!($left),
                    left,
                    stringify!($right),
                    right
                ),
            );
        }
        equal
    }};
}
pub(crate) use expect_eq;

/// Marks the case failed with a formatted message, at the caller's line.
macro_rules! fail {
    ($test:expr, $($arg:tt)+) => {
        $test.fail(kernel::c_str!(file!()), line!(), format_args!($($arg)+))
    };
}
pub(crate) use fail;

/// Evaluates to `Some(value)` for `Ok(value)`; for `Err(e)`, marks the case
/// failed with `$what` and `e`, and evaluates to `None`.
macro_rules! expect_ok {
    ($test:expr, $result:expr, $what:expr $(,)?) => {
        match $result {
            Ok(value) => Some(value),
            Err(e) => {
                $crate::kunit::fail!($test, "{} failed: {:?}", $what, e);
                None
            }
        }
    };
}
pub(crate) use expect_ok;

/// A case of the table: `run` is called with the running test.
pub(crate) const fn case(
    name: &'static CStr,
    run: unsafe extern "C" fn(*mut bindings::kunit),
) -> bindings::kunit_case {
    // SAFETY: All-zero is a valid `struct kunit_case`: null pointers, no
    // attributes, status "success" before the run.
    let mut c: bindings::kunit_case = unsafe { core::mem::zeroed() };
    c.name = name.as_ptr().cast();
    c.run_case = Some(run);
    c
}

/// The empty case that ends a case table.
pub(crate) const fn end_of_cases() -> bindings::kunit_case {
    // SAFETY: All-zero is a valid `struct kunit_case`, and KUnit reads a
    // null `run_case` as the end of the table.
    unsafe { core::mem::zeroed() }
}

/// A suite named `name` (at most 255 bytes) running `cases`.
pub(crate) const fn suite(name: &str, cases: *mut bindings::kunit_case) -> bindings::kunit_suite {
    // SAFETY: All-zero is a valid `struct kunit_suite`: an empty name, no
    // init or exit functions and no cases until they are set below.
    let mut s: bindings::kunit_suite = unsafe { core::mem::zeroed() };
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() && i < s.name.len() - 1 {
        s.name[i] = bytes[i] as _;
        i += 1;
    }
    s.test_cases = cases;
    s
}

/// The address of a suite, as KUnit's executor reads it from the
/// `.kunit_test_suites` section.
#[repr(transparent)]
pub(crate) struct SuiteRef(pub(crate) *mut bindings::kunit_suite);

// SAFETY: The pointer is only read, by KUnit's executor, which runs the
// suites one at a time.
unsafe impl Sync for SuiteRef {}

/// Defines a KUnit suite named `$name` whose cases are the functions
/// `$case`, each a `fn(&mut Test)`, run in the order given.
macro_rules! kunit_suite {
    ($name:literal, [$($case:ident),+ $(,)?]) => {
        $(
            // Each case gets an `extern "C"` entry point, in a module named
            // like the case function; modules and functions have separate
            // namespaces.
            #[allow(non_snake_case)]
            mod $case {
                /// KUnit's entry point of the case.
                ///
                /// # Safety
                ///
                /// `test` must be the running case, valid until this returns.
                pub(super) unsafe extern "C" fn run(test: *mut kernel::bindings::kunit) {
                    // SAFETY: KUnit passes the running case, which stays
                    // valid until we return.
                    let mut t = unsafe { $crate::kunit::Test::from_raw(test) };
                    super::$case(&mut t);
                }
            }
        )+

        const CASE_COUNT: usize = [$(stringify!($case)),+].len();

        static mut CASES: [kernel::bindings::kunit_case; CASE_COUNT + 1] = [
            $($crate::kunit::case(
                // SAFETY: The literal ends in its only NUL.
                unsafe {
                    core::ffi::CStr::from_bytes_with_nul_unchecked(
                        concat!(stringify!($case), "\0").as_bytes(),
                    )
                },
                $case::run,
            ),)+
            $crate::kunit::end_of_cases(),
        ];

        // KUnit writes the suite's and the cases' status while it runs them.
        static mut SUITE: kernel::bindings::kunit_suite =
            $crate::kunit::suite($name, (&raw mut CASES).cast());

        #[used]
        #[link_section = ".kunit_test_suites"]
        static SUITES: [$crate::kunit::SuiteRef; 1] = [$crate::kunit::SuiteRef(&raw mut SUITE)];
    };
}
pub(crate) use kunit_suite;
