// SPDX-License-Identifier: GPL-2.0

//! Kernel threads: `kthread_create_on_node()` and `kthread_stop()` of
//! include/linux/kthread.h (kernel/kthread.c), over `kernel::task::Task`.
//!
//! [`spawn`] starts a kernel thread that runs a closure once; [`KThread`] owns
//! it, and joining it (or dropping it) waits until the closure has returned
//! and the thread has exited, so no thread outlives the data it uses.
//! Threads are created by `kthreadd` (PID 2), which the caller waits for.

use kernel::{
    bindings,
    error::from_err_ptr,
    fmt,
    prelude::*,
    sync::{
        aref::ARef,
        Arc,
        Completion, //
    },
    task::Task, //
};

/// A running or finished kernel thread started by [`spawn`].
///
/// `Send` and `Sync` are derived from its fields (`ARef<Task>` and
/// `Arc<Completion>` are both): joining it, that is `kthread_stop()`, may
/// happen on any thread, and `&KThread` gives nothing to share.
///
/// # Invariants
///
/// `task` is a kernel thread created by `kthread_create_on_node()` and woken
/// up, whose thread function is [`thread_main`] with a `Start` that owns a
/// clone of `finished`; `finished` is completed once the closure returned.
/// `kthread_stop()` has not been called on it yet.
pub(crate) struct KThread {
    task: ARef<Task>,
    finished: Arc<Completion>,
}

/// What the new thread receives: the closure and the completion it signals.
struct Start<F> {
    work: F,
    finished: Arc<Completion>,
}

/// Starts a kernel thread named `name` (at most 15 bytes are kept, as for
/// every task) that runs `work` once and exits.
///
/// Fails with the error of `kthread_create_on_node()`: `-ENOMEM` when
/// `kthreadd` could not create the task, `-EINTR` when the caller got SIGKILL
/// while waiting for it; `work` is then dropped without having run.
pub(crate) fn spawn<F>(name: fmt::Arguments<'_>, work: F) -> Result<KThread>
where
    F: FnOnce() + Send + 'static,
{
    let finished = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
    let start = KBox::new(
        Start {
            work,
            finished: finished.clone(),
        },
        GFP_KERNEL,
    )?;
    let data = KBox::into_raw(start);

    // SAFETY: `thread_main::<F>` takes a `Start<F>` from `KBox::into_raw`,
    // which `data` is.  The name format is NUL-terminated and its `%pA` is
    // matched by a `fmt::Arguments` that outlives the call (the name is
    // formatted before it returns).
    let task = unsafe {
        bindings::kthread_create_on_node(
            Some(thread_main::<F>),
            data.cast::<c_void>(),
            bindings::NUMA_NO_NODE,
            c"%pA".as_char_ptr(),
            core::ptr::from_ref(&name).cast::<c_void>(),
        )
    };
    let task = match from_err_ptr(task) {
        Ok(task) => task,
        Err(e) => {
            // SAFETY: On failure the thread function never runs (a thread
            // created after its creator was killed exits before calling it),
            // so `data` is still ours; it came from `KBox::into_raw` above.
            drop(unsafe { KBox::from_raw(data) });
            return Err(e);
        }
    };
    // SAFETY: A successful `kthread_create_on_node()` returns a valid task
    // that holds a reference of its own until it has exited and been reaped,
    // which it cannot before it is woken up below; `Task` is a transparent
    // wrapper of `task_struct`.
    let task = unsafe { &*task.cast::<Task>() };
    // Our own reference keeps the `task_struct` valid for `kthread_stop()`
    // after the thread has exited.
    let task = ARef::from(task);
    task.wake_up();
    // INVARIANT: Created with `thread_main` and `finished` above, woken up,
    // not stopped.
    Ok(KThread { task, finished })
}

/// Entry point of every thread started by [`spawn`].
///
/// # Safety
///
/// `data` must come from `KBox::<Start<F>>::into_raw` and be used only here.
unsafe extern "C" fn thread_main<F: FnOnce() + Send + 'static>(data: *mut c_void) -> c_int {
    // SAFETY: By the function's contract `data` is an owned `KBox<Start<F>>`.
    let start = unsafe { KBox::from_raw(data.cast::<Start<F>>()) };
    let Start { work, finished } = KBox::into_inner(start);
    work();
    finished.complete_all();
    0
}

impl KThread {
    /// Waits until the closure has returned and the thread has exited.
    pub(crate) fn join(self) {
        // `Drop` does the work, so that a thread can never be left running.
    }
}

impl Drop for KThread {
    fn drop(&mut self) {
        // Wait for the closure first: a `kthread_stop()` that came before the
        // thread first ran would stop it without ever running the closure.
        self.finished.wait_for_completion();
        // SAFETY: By the type invariant `task` is a kernel thread not stopped
        // yet, and our `ARef` keeps its `task_struct` valid even though it may
        // have exited; `kthread_stop()` waits for the exit.  The `ARef` is
        // dropped after this, as `kthread_stop()` requires.
        unsafe { bindings::kthread_stop(self.task.as_ptr()) };
    }
}

#[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
#[kernel::macros::kunit_tests(rust_kthread)]
mod tests {
    use super::*;
    use kernel::sync::atomic::{
        Atomic,
        Relaxed, //
    };

    /// The closure runs exactly once, in another task, and is done when
    /// `join` returns.
    #[test]
    fn runs_once() -> Result {
        let ran = Arc::new(Atomic::<i32>::new(0), GFP_KERNEL)?;
        let seen = ran.clone();
        let me = current!().pid();
        let pid = Arc::new(Atomic::<i32>::new(0), GFP_KERNEL)?;
        let pid_seen = pid.clone();
        let thread = spawn(fmt!("rust_kthread-{}", 1), move || {
            seen.fetch_add(1, Relaxed);
            pid_seen.store(current!().pid(), Relaxed);
        })?;
        thread.join();
        assert_eq!(ran.load(Relaxed), 1);
        assert!(pid.load(Relaxed) != 0 && pid.load(Relaxed) != me);
        Ok(())
    }

    /// Dropping a thread without `join` waits just the same, even when the
    /// thread is still starting.
    #[test]
    fn drop_waits() -> Result {
        let ran = Arc::new(Atomic::<i32>::new(0), GFP_KERNEL)?;
        for _ in 0..32 {
            let seen = ran.clone();
            drop(spawn(fmt!("rust_kthread"), move || {
                seen.fetch_add(1, Relaxed);
            })?);
        }
        assert_eq!(ran.load(Relaxed), 32);
        Ok(())
    }

    /// Many threads at once, joined in any order.
    #[test]
    fn many_at_once() -> Result {
        let ran = Arc::new(Atomic::<i32>::new(0), GFP_KERNEL)?;
        let mut threads = KVec::new();
        for i in 0..100 {
            let seen = ran.clone();
            threads.push(
                spawn(fmt!("rust_kthread-{i}"), move || {
                    seen.fetch_add(1, Relaxed);
                })?,
                GFP_KERNEL,
            )?;
        }
        while let Some(thread) = threads.pop() {
            thread.join();
        }
        assert_eq!(ran.load(Relaxed), 100);
        Ok(())
    }
}
