// SPDX-License-Identifier: GPL-2.0

//! File system types: `get_fs_type()` of include/linux/fs.h
//! (fs/filesystems.c) and `module_put()` of include/linux/module.h.
//!
//! `get_fs_type()` finds a registered file system type by name and takes a
//! reference on the module that provides it, asking userspace to load module
//! `fs-<name>` first if no such type is registered (as `mount -t` does).

use core::ptr::NonNull;
use kernel::{
    bindings,
    prelude::*, //
};

/// A registered file system type, with a reference on its module held for as
/// long as this value lives.
///
/// Only the fields that stay put while the type is registered (`name`,
/// `owner`) are read, each through the raw pointer: the VFS writes others
/// (`next`, `fs_supers`) at any time, so no reference to the whole struct
/// is made.
///
/// # Invariants
///
/// `ptr` was returned by a successful `get_fs_type()`, whose module reference
/// (on `owner`, NULL for built-in file systems) this value owns: the type
/// stays registered until [`Drop`] releases it.
pub(crate) struct FileSystemType {
    ptr: NonNull<bindings::file_system_type>,
}

// SAFETY: The value owns a module reference, which `module_put()` may give
// back from any thread, and reads only fields that do not change while the
// type is registered.
unsafe impl Send for FileSystemType {}

// SAFETY: `&FileSystemType` only reads `name`, which does not change while
// the type is registered, so it may be shared between threads.
unsafe impl Sync for FileSystemType {}

impl FileSystemType {
    /// Looks up file system type `name`, loading its module if needed.
    /// `None` when there is no such type, also after asking userspace.
    ///
    /// May sleep for as long as modprobe runs.
    pub(crate) fn get(name: &CStr) -> Option<Self> {
        // SAFETY: `name` is a valid NUL-terminated string for the whole call.
        let ptr = unsafe { bindings::get_fs_type(name.as_char_ptr()) };
        // INVARIANT: A non-NULL return comes with the module reference.
        NonNull::new(ptr).map(|ptr| Self { ptr })
    }

    /// The type's name, as registered.
    pub(crate) fn name(&self) -> &CStr {
        // SAFETY: By the type invariant the type stays registered, and with
        // it its name, a static NUL-terminated string of the providing
        // module, set before registration and never written after; only
        // that field is read.
        unsafe { CStr::from_char_ptr((*self.ptr.as_ptr()).name) }
    }
}

impl Drop for FileSystemType {
    fn drop(&mut self) {
        // Without CONFIG_MODULE_UNLOAD module references are not counted.
        #[cfg(CONFIG_MODULE_UNLOAD)]
        // SAFETY: By the type invariant we own one reference on `owner`
        // (which `module_put()` accepts NULL for), and the type is still
        // registered, so reading that field (set before registration, never
        // written after) is valid; it is put exactly once.
        unsafe {
            bindings::module_put((*self.ptr.as_ptr()).owner)
        };
    }
}

#[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
#[kernel::macros::kunit_tests(rust_fs_type)]
mod tests {
    use super::*;
    use crate::abstractions::kunit_skip::ensure;

    /// ramfs is always built in (`CONFIG_SHMEM` or not).
    #[test]
    fn finds_a_built_in_type() -> Result {
        let fs = FileSystemType::get(c"ramfs").ok_or(ENOENT)?;
        ensure!(fs.name().to_bytes() == b"ramfs");
        Ok(())
    }

    /// Unknown names and the empty name are not file system types.
    #[test]
    fn rejects_unknown_types() {
        assert!(FileSystemType::get(c"rust-fs-type-no-such-fs").is_none());
        assert!(FileSystemType::get(c"").is_none());
    }

    /// References can be held many at a time and are all given back (the
    /// module-reference count is checked by the unload of a loaded module
    /// in the VM tests).
    #[test]
    fn many_references() -> Result {
        let mut held = KVec::new();
        for _ in 0..64 {
            held.push(FileSystemType::get(c"ramfs").ok_or(ENOENT)?, GFP_KERNEL)?;
        }
        ensure!(held.len() == 64);
        Ok(())
    }

    /// References move between threads (`Send`) and are shared (`Sync`).
    #[test]
    fn send_and_sync() {
        fn shareable<T: Send + Sync>() {}
        shareable::<FileSystemType>();
    }
}
