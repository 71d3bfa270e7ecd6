// SPDX-License-Identifier: GPL-2.0

//! What differs between the Rust-for-Linux APIs of the kernel series this
//! module builds against, Linux 7.2 and 7.3, so that no other file needs to
//! know which one it is.
//!
//! src/Makefile passes `--cfg kernel_7_2` when `$(VERSION).$(PATCHLEVEL)` is
//! 7.2; without it the 7.3 API is used.  What differs here:
//!
//! - errno constants: 7.3's `kernel::error::code` names `ENAMETOOLONG` and
//!   `ETIME` (include/uapi/asm-generic/errno.h), 7.2's does not;
//! - the module's `THIS_MODULE`: 7.2's `module!` emits `static THIS_MODULE`,
//!   7.3's emits `LocalModule` with `ModuleMetadata::THIS_MODULE`, read through
//!   `kernel::module::this_module()`; [`this_module`] reads either, and
//!   [`configfs_attrs!`] gives 7.2's `kernel::configfs_attrs!` the
//!   `THIS_MODULE` it names at its call site;
//! - `kernel::configfs` of 7.2 mistakes a subsystem's root group for a
//!   `Group` when it looks up the data of the group `make_group()` is called
//!   on (fixed in 7.3), so the subsystem's data must be a zero-sized type,
//!   which is valid at any address.  The driver's subsystem data is, on both
//!   series.

use kernel::{
    prelude::*,
    ThisModule, //
};

/// `-ENAMETOOLONG`: a name is longer than the kernel takes.
#[cfg(not(kernel_7_2))]
pub(crate) fn enametoolong() -> Error {
    ENAMETOOLONG
}

/// `-ENAMETOOLONG`: a name is longer than the kernel takes.
#[cfg(kernel_7_2)]
pub(crate) fn enametoolong() -> Error {
    Error::from_errno(-(kernel::bindings::ENAMETOOLONG as i32))
}

/// `-ETIME`: a timer expired (what `request_module()` returns when no
/// modprobe slot frees up in time).
#[cfg(not(kernel_7_2))]
pub(crate) fn etime() -> Error {
    ETIME
}

/// `-ETIME`: a timer expired (what `request_module()` returns when no
/// modprobe slot frees up in time).
#[cfg(kernel_7_2)]
pub(crate) fn etime() -> Error {
    Error::from_errno(-(kernel::bindings::ETIME as i32))
}

/// The module this code is part of (`THIS_MODULE` in C).
#[cfg(not(kernel_7_2))]
pub(crate) fn this_module() -> &'static ThisModule {
    kernel::module::this_module::<crate::LocalModule>()
}

/// The module this code is part of (`THIS_MODULE` in C).
#[cfg(kernel_7_2)]
pub(crate) fn this_module() -> &'static ThisModule {
    &crate::THIS_MODULE
}

/// `kernel::configfs_attrs!`, callable from any module of the crate.
#[cfg(not(kernel_7_2))]
macro_rules! configfs_attrs {
    ($($args:tt)*) => {
        ::kernel::configfs_attrs!($($args)*)
    };
}

/// `kernel::configfs_attrs!`, callable from any module of the crate: 7.2's
/// names `THIS_MODULE`, which `module!` defines at the crate root.
#[cfg(kernel_7_2)]
macro_rules! configfs_attrs {
    ($($args:tt)*) => {{
        #[allow(unused_imports)]
        use crate::THIS_MODULE;
        ::kernel::configfs_attrs!($($args)*)
    }};
}
pub(crate) use configfs_attrs;

#[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
#[kernel::macros::kunit_tests(rust_compat)]
mod tests {
    use super::*;

    /// The constants are the kernel's numbers, whichever series built them.
    #[test]
    fn errno_values() {
        assert_eq!(enametoolong().to_errno(), -36);
        assert_eq!(etime().to_errno(), -62);
    }

    /// `THIS_MODULE` is this module when loadable, NULL when built in.
    #[test]
    fn this_module_pointer() {
        assert_eq!(this_module().as_ptr().is_null(), cfg!(not(MODULE)));
    }
}
