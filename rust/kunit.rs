// SPDX-License-Identifier: GPL-2.0

//! Expectations for the KUnit cases of this crate.
//!
//! The suites are registered with upstream's `#[kunit_tests]` (Linux 6.15,
//! backported by patches 19-21 of the series): each `#[test]` function is a
//! case. A case takes the running test with [`Test::current`] and hands it
//! to [`expect_eq!`], [`expect_ok!`] and [`fail!`], which report a failed
//! expectation to KUnit with file and line and let the case go on and clean
//! up (the kernel crate's `kunit_assert!` would end the case at once).
//!
//! ```ignore
//! #[kunit_tests(example)]
//! mod tests {
//!     #[test]
//!     fn adds() {
//!         let Some(mut t) = Test::current() else { return };
//!         expect_eq!(t, 1 + 1, 2);
//!     }
//! }
//! ```

use core::{ffi::c_void, fmt};
use kernel::bindings;

/// The running test case.
pub(crate) struct Test {
    raw: *mut bindings::kunit,
}

impl Test {
    /// The case this task runs, if it runs one: called by the `#[test]`
    /// functions, which KUnit runs in a task of their own.
    pub(crate) fn current() -> Option<Self> {
        // SAFETY: `kunit_get_current_test()` may be called from any task;
        // it returns the running case or NULL.
        let raw = unsafe { bindings::kunit_get_current_test() };
        (!raw.is_null()).then_some(Self { raw })
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
        // SAFETY: `self.raw` is the running case (see `current`). `loc`,
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

/// Runs `case` on the running test: the body of each `#[test]` function,
/// whose case function takes the [`Test`].
pub(crate) fn run(case: fn(&mut Test)) {
    if let Some(mut t) = Test::current() {
        case(&mut t);
    }
}
