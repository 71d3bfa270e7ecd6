// SPDX-License-Identifier: GPL-2.0

//! Skipping a KUnit test case with a reason: what `kunit_mark_skipped()` of
//! include/kunit/test.h (a macro) does, for the case running in the current
//! task (`kunit_get_current_test()`).
//!
//! `kernel::kunit` lets a case skip only by its return value, without a
//! reason; the reason is what CI shows (`ok 3 name # SKIP reason`).

use super::cbuf::CBuf;
use kernel::{
    bindings,
    fmt,
    prelude::*, //
};

/// Marks the KUnit case running in this task as skipped, with `reason` (cut
/// to the 255 bytes of `KUNIT_STATUS_COMMENT_SIZE`) as its status comment.
/// The case goes on running; returns `false` and does nothing when no KUnit
/// case runs in this task.
pub(crate) fn mark_skipped(reason: fmt::Arguments<'_>) -> bool {
    // SAFETY: Always safe to call; NULL when no test runs in this task.
    let test = unsafe { bindings::kunit_get_current_test() };
    if test.is_null() {
        return false;
    }
    // SAFETY: `test` is the case running in this very task, which KUnit
    // keeps alive until the case function returns; its status and comment
    // are written by this task only, as `kunit_mark_skipped()` does.
    let test = unsafe { &mut *test };
    // SAFETY: `c_char` and `u8` have the same size and alignment, so the
    // comment array is a byte array of the same length.
    let comment = unsafe {
        &mut *core::ptr::from_mut(&mut test.status_comment)
            .cast::<[u8; bindings::KUNIT_STATUS_COMMENT_SIZE as usize]>()
    };
    if let Some(mut out) = CBuf::new(comment) {
        let _ = fmt::Write::write_fmt(&mut out, reason);
    }
    test.status = bindings::kunit_status_KUNIT_SKIPPED;
    true
}

#[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
#[kernel::macros::kunit_tests(rust_kunit_skip)]
mod tests {
    use super::*;
    use kernel::sync::{
        Arc,
        Completion, //
    };

    /// The status and the comment of the running case are set; the case
    /// then puts back its success, so that it reports `ok`, not SKIP.
    #[test]
    fn skips_with_reason() {
        assert!(mark_skipped(fmt!("skipped on purpose: {}", 42)));
        // SAFETY: As in `mark_skipped`: this task's running case.
        let test = unsafe { &mut *bindings::kunit_get_current_test() };
        assert_eq!(test.status, bindings::kunit_status_KUNIT_SKIPPED);
        let expected = b"skipped on purpose: 42\0";
        let comment = test.status_comment[..expected.len()].iter().copied();
        assert!(comment.eq(expected.iter().copied()));
        test.status = bindings::kunit_status_KUNIT_SUCCESS;
        test.status_comment[0] = 0;
    }

    /// Outside a KUnit case (another kernel thread) nothing happens.
    #[test]
    fn outside_a_case() -> Result {
        let done = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
        let result = Arc::new(kernel::sync::atomic::Atomic::<i32>::new(-1), GFP_KERNEL)?;
        let (d, r) = (done.clone(), result.clone());
        let thread = super::super::kthread::spawn(fmt!("rust_kunit_skip"), move || {
            r.store(
                i32::from(mark_skipped(fmt!("not a case"))),
                kernel::sync::atomic::Relaxed,
            );
            d.complete_all();
        })?;
        thread.join();
        done.wait_for_completion();
        assert_eq!(result.load(kernel::sync::atomic::Relaxed), 0);
        Ok(())
    }
}
