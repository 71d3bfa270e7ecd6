// SPDX-License-Identifier: GPL-2.0

//! Safe abstractions over the kernel facilities that the driver uses and that
//! Rust-for-Linux does not wrap (as of Linux 7.3), one module per facility.
//!
//! Each module is written as a `rust/kernel/` file is: its documentation names
//! the C header and functions it wraps, it offers a safe API that any driver
//! could use, its types state their `# Invariants`, and every `unsafe` block
//! sits here with its `// SAFETY:` comment.  None of them knows the driver:
//! the driver's files (next to this folder) are safe code built on top.  Each
//! module has KUnit cases of its own at its end, built with
//! `CONFIG_TEST_KMOD_RUST_KUNIT`.
//!
//! What would retire them: [`misc_attrs`] the posted `DeviceAttribute` /
//! `attribute_list!` series together with named attribute groups for
//! `kernel::miscdevice`; [`param`] the posted `string` parameter type for
//! `module!` (with sysfs-visible permissions); the others have no posted
//! series yet.

pub(crate) mod cbuf;
pub(crate) mod compat;
pub(crate) mod fs_type;
pub(crate) mod kmod;
pub(crate) mod kstrtox;
pub(crate) mod kthread;
#[cfg(CONFIG_KUNIT)]
pub(crate) mod kunit_skip;
pub(crate) mod meminfo;
pub(crate) mod misc_attrs;
pub(crate) mod param;
