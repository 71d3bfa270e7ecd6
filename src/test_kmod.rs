// SPDX-License-Identifier: GPL-2.0

//! test_kmod: a stress tester for the kernel module loader, in Rust.
//!
//! A drop-in for lib/test_kmod.c.

mod engine;
mod ffi;
#[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
mod tests;

use kernel::prelude::*;

module! {
    type: TestKmod,
    name: "test_kmod",
    authors: ["test_kmod Rust port authors"],
    description: "kmod stress test driver",
    license: "GPL",
}

struct TestKmod;

impl kernel::Module for TestKmod {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(TestKmod)
    }
}
