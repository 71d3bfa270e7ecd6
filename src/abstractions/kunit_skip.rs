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
    prelude::*,
    sync::atomic::{
        atomic_store,
        Relaxed, //
    }, //
};

/// Marks the KUnit case running in this task as skipped, with `reason` (cut
/// to the 255 bytes of `KUNIT_STATUS_COMMENT_SIZE`) as its status comment.
/// The case goes on running; returns `false` and does nothing when no KUnit
/// case runs in this task.
///
/// Only the two fields `kunit_mark_skipped()` writes are touched, through
/// raw pointers: `struct kunit` also holds a lock and a resource list that
/// other threads use, so no reference to the whole struct is made.
pub(crate) fn mark_skipped(reason: fmt::Arguments<'_>) -> bool {
    // SAFETY: Always safe to call; NULL when no test runs in this task.
    let test = unsafe { bindings::kunit_get_current_test() };
    if test.is_null() {
        return false;
    }
    // As `kunit_mark_skipped()`: the status first, with `WRITE_ONCE()`.
    // SAFETY: `test` is the case running in this very task, which KUnit
    // keeps alive until the case function returns.  `status` may be written
    // by any thread of the case, always with `WRITE_ONCE()`
    // (`kunit_set_failure()`, `kunit_mark_skipped()`), and KUnit reads it
    // only once the case has ended (include/kunit/test.h).
    unsafe {
        write_once_status(
            &raw mut (*test).status,
            bindings::kunit_status_KUNIT_SKIPPED,
        )
    };
    // SAFETY: As above, for `status_comment`, which only
    // `kunit_mark_skipped()` writes, from the case's own threads (this
    // module's cases skip from their own task only), and KUnit reads once
    // the case has ended; `c_char` and `u8` have the same size and
    // alignment, so the array is a byte array of the same length.  The
    // reference covers this field only, not the `lock` and `resources`
    // that other threads use.
    let comment = unsafe {
        &mut *(&raw mut (*test).status_comment)
            .cast::<[u8; bindings::KUNIT_STATUS_COMMENT_SIZE as usize]>()
    };
    if let Some(mut out) = CBuf::new(comment) {
        let _ = fmt::Write::write_fmt(&mut out, reason);
    }
    true
}

/// `WRITE_ONCE(*status, value)`.
///
/// # Safety
///
/// `status` must be valid for writes and properly aligned, and every
/// concurrent access to it atomic (KUnit writes it with `WRITE_ONCE()` only,
/// and reads it once the case's threads have ended).
unsafe fn write_once_status(status: *mut bindings::kunit_status, value: bindings::kunit_status) {
    // SAFETY: By the function's contract.
    unsafe { atomic_store(status, value, Relaxed) };
}

/// In a KUnit case, fails the case unless `cond` holds, by returning an
/// error from the case function instead of aborting the case's thread (as a
/// failed `assert!` does), so that every object the case holds is dropped:
/// registered devices, running threads.  Prints the condition and where it
/// is.  For cases that return `Result`.
macro_rules! ensure {
    ($cond:expr $(,)?) => {
        if !$cond {
            ::kernel::pr_err!(
                "    # {}:{}: expected {}\n",
                ::core::file!(),
                ::core::line!(),
                ::core::stringify!($cond)
            );
            return Err(::kernel::error::code::EINVAL);
        }
    };
}
pub(crate) use ensure;

#[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
#[kernel::macros::kunit_tests(rust_kunit_skip)]
mod tests {
    use super::*;
    use kernel::sync::{
        atomic::atomic_load,
        Arc,
        Completion, //
    };

    /// The status and the comment of the running case are set; the case
    /// then puts back its success, so that it reports `ok`, not SKIP.
    #[test]
    fn skips_with_reason() {
        assert!(mark_skipped(fmt!("skipped on purpose: {}", 42)));
        // SAFETY: As in `mark_skipped`: this task's running case, whose
        // `status` and `status_comment` only this task writes; each field
        // is reached through the raw pointer.
        unsafe {
            let test = bindings::kunit_get_current_test();
            let status = atomic_load(&raw mut (*test).status, Relaxed);
            let comment = &*(&raw const (*test).status_comment)
                .cast::<[u8; bindings::KUNIT_STATUS_COMMENT_SIZE as usize]>();
            write_once_status(
                &raw mut (*test).status,
                bindings::kunit_status_KUNIT_SUCCESS,
            );
            let expected = b"skipped on purpose: 42\0";
            let matches = comment[..expected.len()] == expected[..];
            (*test).status_comment[0] = 0;
            assert_eq!(status, bindings::kunit_status_KUNIT_SKIPPED);
            assert!(matches);
        }
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
