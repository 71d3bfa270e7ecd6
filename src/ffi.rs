// SPDX-License-Identifier: GPL-2.0

//! The unsafe core: every call this driver makes into C for the stress engine
//! and its tests, each wrapped in a safe function or type.
//!
//! Rust-for-Linux has no abstraction for `request_module()`, `get_fs_type()`,
//! raw kernel threads or KUnit's skip, so the calls live here and nowhere
//! else.  The rest of the crate is safe code.

use core::{fmt, ptr::NonNull};
use kernel::{
    bindings,
    error::from_err_ptr,
    ffi::{c_char, c_int, c_void},
    prelude::*,
    str::CStr,
    sync::{Arc, Completion},
};

/// `request_module("%s", name)`: asks userspace (`modprobe`) to load `name` and
/// waits for it.
///
/// Returns what the kernel returns: 0, modprobe's exit status shifted as a wait
/// status (256 for "module not found"), or a negative errno (`-ENOENT` when no
/// usermode helper can run, `-ENAMETOOLONG` for names of 56 bytes or more).
pub(crate) fn request_module(name: &CStr) -> i32 {
    // SAFETY: The format string is NUL terminated and its single `%s` is
    // matched by `name`, a NUL-terminated string that outlives the call.
    // `wait = true` from a kernel thread is allowed (we are not an async
    // function).
    unsafe { bindings::__request_module(true, c"%s".as_char_ptr(), name.as_char_ptr()) }
}

/// A file system type found by `get_fs_type()`, with a reference on the module
/// that owns it; dropping it releases that reference.
pub(crate) struct FsType(NonNull<bindings::file_system_type>);

impl FsType {
    /// Looks up `name`, asking userspace to load the module `fs-<name>` if it
    /// is not registered yet (as `mount -t name` does).
    pub(crate) fn get(name: &CStr) -> Option<Self> {
        // SAFETY: `name` is a valid NUL-terminated string for the whole call.
        let fs = unsafe { bindings::get_fs_type(name.as_char_ptr()) };
        NonNull::new(fs).map(Self)
    }
}

impl Drop for FsType {
    fn drop(&mut self) {
        // Without CONFIG_MODULE_UNLOAD module references are not counted.
        #[cfg(CONFIG_MODULE_UNLOAD)]
        // SAFETY: `get_fs_type()` returned this non-NULL file system type with
        // a reference held on `owner` (NULL for built-in file systems, which
        // `module_put()` accepts); the type stays registered while that
        // reference is held, so reading `owner` is valid, and we drop the
        // reference exactly once.
        unsafe {
            bindings::module_put(self.0.as_ref().owner)
        };
    }
}

/// A kernel thread started by [`spawn`].  Joining (or dropping) it waits until
/// the closure has returned and the thread has exited, so no thread outlives
/// the code or data it uses.
pub(crate) struct KThread {
    task: NonNull<bindings::task_struct>,
    finished: Arc<Completion>,
}

// SAFETY: The task reference may be dropped (`kthread_stop_put()`) from any
// thread; the completion is `Sync`.
unsafe impl Send for KThread {}

/// What the new thread receives: the closure and the completion it signals.
struct Start<F> {
    work: F,
    finished: Arc<Completion>,
}

/// Starts a kernel thread named `test_kmod-<index>` running `work`.
///
/// Fails with the error of `kthread_create_on_node()` (`-ENOMEM`, or `-EINTR`
/// when the caller got SIGKILL while waiting); `work` is then dropped without
/// having run.
pub(crate) fn spawn<F: FnOnce() + Send + 'static>(index: u32, work: F) -> Result<KThread> {
    let finished = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
    let start = KBox::new(
        Start {
            work,
            finished: finished.clone(),
        },
        GFP_KERNEL,
    )?;
    let data = KBox::into_raw(start);

    // SAFETY: `thread_main::<F>` matches `data`'s type; the name format is NUL
    // terminated and its `%u` is matched by a `c_uint`.
    let task = unsafe {
        bindings::kthread_create_on_node(
            Some(thread_main::<F>),
            data.cast::<c_void>(),
            bindings::NUMA_NO_NODE,
            c"test_kmod-%u".as_char_ptr(),
            index,
        )
    };
    let task = match from_err_ptr(task) {
        Ok(task) => task,
        Err(e) => {
            // SAFETY: On failure the thread function never runs, so `data`
            // still belongs to us; it came from `KBox::into_raw` above.
            drop(unsafe { KBox::from_raw(data) });
            return Err(e);
        }
    };
    // SAFETY: `task` is a valid, not yet woken kernel thread.  The extra
    // reference keeps its `task_struct` alive after it exits, which
    // `kthread_stop_put()` in `join` requires; `wake_up_process()` lets it run.
    unsafe {
        bindings::get_task_struct(task);
        bindings::wake_up_process(task);
    }
    Ok(KThread {
        // SAFETY: `from_err_ptr` returned a non-error pointer from a successful
        // `kthread_create_on_node()`, which is never NULL.
        task: unsafe { NonNull::new_unchecked(task) },
        finished,
    })
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
        // `Drop` does the work, so that a thread can never be leaked running.
    }
}

impl Drop for KThread {
    fn drop(&mut self) {
        // Wait for the closure first: a `kthread_stop()` that came before the
        // thread was scheduled would stop it without ever running the closure.
        self.finished.wait_for_completion();
        // SAFETY: We hold a reference on `task` (taken in `spawn`), so it is
        // valid even if it has already exited; `kthread_stop_put()` waits for
        // the exit and drops that reference, once.
        unsafe { bindings::kthread_stop_put(self.task.as_ptr()) };
    }
}

/// Whether a userspace `modprobe` can be run: the usermode helper path is set
/// and names a file that opens.  Under `kunit.py run` (no root file system) it
/// does not, and `request_module()` returns -ENOENT.
pub(crate) fn modprobe_available() -> bool {
    modprobe_lookup().is_ok()
}

/// Opens the usermode helper as `request_module()` would find it: the error
/// says why it cannot run.
pub(crate) fn modprobe_lookup() -> Result {
    // A usermode helper waits for the initramfs to be unpacked (it is, in the
    // background, during boot) before it runs; look at what it will see.
    #[cfg(CONFIG_BLK_DEV_INITRD)]
    wait_for_initramfs();
    let helper = modprobe_path_ptr();
    with_init_fs(|| {
        // SAFETY: `helper` is a NUL-terminated path; flags and mode are plain
        // values.
        let file = unsafe { bindings::filp_open(helper, bindings::O_RDONLY as c_int, 0) };
        let file = from_err_ptr(file)?;
        // SAFETY: `filp_open()` succeeded, so `file` is ours to close, once.
        unsafe { bindings::filp_close(file, core::ptr::null_mut()) };
        Ok(())
    })
}

/// Runs `f` resolving paths as userspace's init does, which is what a
/// usermode helper sees: since Linux 7.0 kernel threads (KUnit cases among
/// them) resolve paths in an empty nullfs.  C's `scoped_with_init_fs()`, an
/// inline of include/linux/fs_struct.h, a header outside the bindings.
fn with_init_fs<R>(f: impl FnOnce() -> R) -> R {
    extern "C" {
        // `struct fs_struct *`, declared opaque: only the pointer is copied.
        static userspace_init_fs: *mut c_void;
    }
    // SAFETY: `get_current()` is the running task, valid for the call.
    let task = unsafe { bindings::get_current() };
    // SAFETY: Only this task changes its own `fs` pointer here, exactly as
    // `__override_init_fs()` does (`WRITE_ONCE`, no lock).  `userspace_init_fs`
    // is set by PID 1 before any initcall and holds a reference for as long
    // as the system runs; the old value is put back before returning.
    let saved = unsafe {
        let fs = core::ptr::addr_of_mut!((*task).fs);
        let saved = *fs;
        core::ptr::write_volatile(fs, userspace_init_fs.cast());
        saved
    };
    let result = f();
    // SAFETY: As above: restores this task's own pointer (`__revert_init_fs()`).
    unsafe { core::ptr::write_volatile(core::ptr::addr_of_mut!((*task).fs), saved) };
    result
}

/// `wait_for_initramfs()` of include/linux/initrd.h, a header outside the
/// bindings.
#[cfg(CONFIG_BLK_DEV_INITRD)]
fn wait_for_initramfs() {
    extern "C" {
        fn wait_for_initramfs();
    }
    // SAFETY: No arguments; it returns at once once the initramfs is unpacked.
    unsafe { wait_for_initramfs() };
}

/// The usermode helper path that `request_module()` runs.  Modules cannot see
/// the (unexported) sysctl variable, so they check the compiled-in default.
fn modprobe_path_ptr() -> *const c_char {
    #[cfg(not(MODULE))]
    {
        modprobe_path::as_ptr()
    }
    #[cfg(MODULE)]
    {
        bindings::CONFIG_MODPROBE_PATH.as_ptr().cast::<c_char>()
    }
}

/// The kernel's `modprobe_path` sysctl (`/proc/sys/kernel/modprobe`), only
/// reachable from built-in code.
#[cfg(not(MODULE))]
pub(crate) mod modprobe_path {
    use super::*;

    /// `KMOD_PATH_LEN` of kernel/module/internal.h.
    const LEN: usize = 256;
    type Path = [u8; LEN];

    // kernel/module/internal.h declares it, a header outside the bindings; an
    // array of bytes has the same layout in C and Rust.
    extern "C" {
        static mut modprobe_path: Path;
    }

    pub(super) fn as_ptr() -> *const c_char {
        // Only the address is taken; the array lives forever.
        core::ptr::addr_of!(modprobe_path).cast::<c_char>()
    }

    /// Sets the usermode helper path and returns the old one; bytes past the
    /// buffer are cut.
    pub(crate) fn replace(new: &[u8]) -> Path {
        let mut buf = [0u8; LEN];
        let len = new.len().min(LEN - 1);
        buf[..len].copy_from_slice(&new[..len]);
        swap(buf)
    }

    /// Puts back a value returned by [`replace`].
    pub(crate) fn restore(old: Path) {
        swap(old);
    }

    fn swap(new: Path) -> Path {
        // SAFETY: `modprobe_path` is a `KMOD_PATH_LEN` byte array that lives
        // forever.  The sysctl writes it without a lock as well: a concurrent
        // `request_module()` sees the old or the new path, both NUL terminated
        // (the last byte is always 0).
        unsafe { core::ptr::replace(core::ptr::addr_of_mut!(modprobe_path), new) }
    }
}

/// Memory that can be had without swapping (`MemAvailable`), in bytes.
pub(crate) fn available_memory() -> usize {
    // SAFETY: Always safe to call; it only reads counters.
    let pages = unsafe { bindings::si_mem_available() };
    usize::try_from(pages)
        .unwrap_or(0)
        .saturating_mul(bindings::PAGE_SIZE)
}

/// Marks the KUnit test running in this thread as skipped, with `reason` as
/// its status comment (`kunit_mark_skipped()`, a C macro).  Does nothing
/// outside a KUnit test.
pub(crate) fn kunit_mark_skipped(reason: fmt::Arguments<'_>) {
    // SAFETY: Always safe to call; NULL when no test runs in this task.
    let test = unsafe { bindings::kunit_get_current_test() };
    if test.is_null() {
        return;
    }
    // SAFETY: `test` is the test running in this very task, which KUnit keeps
    // alive until the case function returns; only this task writes its status.
    let test = unsafe { &mut *test };
    let comment = &mut test.status_comment;
    // SAFETY: `c_char` and `u8` have the same size and alignment.
    let bytes = unsafe { &mut *(core::ptr::from_mut(comment).cast::<[u8; 256]>()) };
    write_truncated(bytes, reason);
    test.status = bindings::kunit_status_KUNIT_SKIPPED;
}

/// Formats `args` into `buf` as a NUL-terminated string, cutting what does not fit.
fn write_truncated(buf: &mut [u8], args: fmt::Arguments<'_>) {
    struct Cursor<'a> {
        buf: &'a mut [u8],
        len: usize,
    }
    impl fmt::Write for Cursor<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let room = self.buf.len() - 1 - self.len;
            let n = s.len().min(room);
            self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }
    if buf.is_empty() {
        return;
    }
    let mut cursor = Cursor { buf, len: 0 };
    let _ = fmt::Write::write_fmt(&mut cursor, args);
    let len = cursor.len;
    cursor.buf[len] = 0;
}
