// SPDX-License-Identifier: GPL-2.0

//! Loading modules on demand: `request_module()` of include/linux/kmod.h
//! (kernel/module/kmod.c).
//!
//! The kernel runs the usermode helper `modprobe` (the `kernel.modprobe`
//! sysctl) and waits for it.  At most `MAX_KMOD_CONCURRENT` (50) helpers run
//! at once; a caller that finds no free slot for `MAX_KMOD_ALL_BUSY_TIMEOUT`
//! (5 s) gets `-ETIME`.

use kernel::{
    bindings,
    ffi::c_ulong,
    prelude::*, //
};

/// What `request_module()` returns when modprobe answers "module not found":
/// modprobe's exit status 1, as the wait status the helper API reports.
pub(crate) const MODULE_NOT_FOUND: i32 = 256;

/// `MODULE_NAME_LEN` of include/linux/module.h: the room for a module's
/// name with its NUL, `64 - sizeof(unsigned long)` (`MAX_PARAM_PREFIX_LEN`
/// of include/linux/moduleparam.h): 56 on 64-bit architectures, 60 on 32-bit
/// ones.  bindgen cannot evaluate a `sizeof` in a macro, so it is written
/// here as the header writes it; the `rust_kmod` suite holds it against the
/// `name` of `struct module`.
pub(crate) const MODULE_NAME_LEN: usize = 64 - size_of::<c_ulong>();

/// `MAX_KMOD_CONCURRENT` of kernel/module/kmod.c: at most this many modprobe
/// helpers run at once; further `request_module()` calls wait for a slot.
pub(crate) const MAX_KMOD_CONCURRENT: usize = 50;

/// `request_module("%s", name)`: asks userspace to load module `name` and
/// waits until modprobe has finished.
///
/// Returns what the kernel returns: 0, modprobe's exit status as a wait
/// status (`MODULE_NOT_FOUND` when there is no such module), or a negative
/// errno: `-ENOENT` when no usermode helper can run (none installed, an
/// empty or wrong `kernel.modprobe`, or no root file system yet),
/// `-ENAMETOOLONG` for names of [`MODULE_NAME_LEN`] bytes or more,
/// `-ETIME` when no modprobe slot freed up in time.
///
/// May sleep for as long as modprobe runs.
pub(crate) fn request_module(name: &CStr) -> i32 {
    // SAFETY: The format string is NUL-terminated and its single `%s` is
    // matched by `name`, a NUL-terminated string that outlives the call.
    unsafe { bindings::__request_module(true, c"%s".as_char_ptr(), name.as_char_ptr()) }
}

#[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
#[kernel::macros::kunit_tests(rust_kmod)]
mod tests {
    use super::*;
    use crate::abstractions::{
        compat,
        kunit_skip, //
    };

    /// Names that cannot be a module are refused before any helper runs,
    /// unless the modprobe path is empty (`kernel.modprobe` or
    /// `CONFIG_MODPROBE_PATH` set to ""): the kernel then refuses every name
    /// with -ENOENT first, which is a SKIP with the reason.
    #[test]
    fn name_too_long() {
        let mut long = [b'm'; MODULE_NAME_LEN + 1];
        long[MODULE_NAME_LEN] = 0;
        let long = CStr::from_bytes_with_nul(&long);
        assert!(long.is_ok());
        if let Ok(long) = long {
            let ret = request_module(long);
            if ret == ENOENT.to_errno() {
                kunit_skip::mark_skipped(fmt!(
                    "the modprobe path is empty: request_module() gives -ENOENT before it checks the length"
                ));
                return;
            }
            assert_eq!(ret, compat::enametoolong().to_errno());
        }
    }

    /// [`MODULE_NAME_LEN`] is the length of the name array of the kernel's
    /// own `struct module` on this architecture.
    #[test]
    fn module_name_len_is_the_kernels() {
        fn len<T, const N: usize>(_: fn(&bindings::module) -> &[T; N]) -> usize {
            N
        }
        assert_eq!(len(|module| &module.name), MODULE_NAME_LEN);
    }

    /// Without a usermode helper (no modprobe in a KUnit kernel) the kernel
    /// says -ENOENT; with one, modprobe says "not found".
    #[test]
    fn missing_module() {
        let ret = request_module(c"rust-kmod-test-no-such-module");
        assert!(ret == ENOENT.to_errno() || ret == MODULE_NOT_FOUND);
    }
}
