// SPDX-License-Identifier: GPL-2.0

//! The C driver's module parameters, with their C names, types and modes
//! (visible read-only in /sys/module/test_kmod/parameters/; built in, they
//! are `test_kmod.<name>` on the kernel command line):
//!
//! - `force_init_test` (`bool_enable_only`): run the start scenarios when the
//!   driver loads (or, built in, during boot);
//! - `start_driver` (`charp`): module to request, default `test_module`;
//! - `start_test_fs` (`charp`): file system to get, default none;
//! - `start_num_threads` (`uint`, not in C): threads of the start
//!   configuration (and of `reset`), default 50 as C; with `mem=` it shows
//!   the memory budget at work.

use crate::{
    abstractions::param::module_param,
    knobs::{
        DEFAULT_THREADS,
        MAX_THREADS, //
    },
};
use kernel::prelude::*;

module_param! {
    module: "test_kmod",
    static FORCE_INIT_TEST: bool_enable_only = false,
    name: "force_init_test",
    perm: 0o444,
    desc: "Force kicking a test immediately after driver loads",
}

module_param! {
    module: "test_kmod",
    static START_DRIVER: charp,
    name: "start_driver",
    perm: 0o444,
    desc: "Module/driver to use for the testing after driver loads",
}

module_param! {
    module: "test_kmod",
    static START_TEST_FS: charp,
    name: "start_test_fs",
    perm: 0o444,
    desc: "File system to use for the testing after driver loads",
}

module_param! {
    module: "test_kmod",
    static START_NUM_THREADS: uint = DEFAULT_THREADS,
    name: "start_num_threads",
    perm: 0o444,
    desc: "Number of threads of the start configuration (not in the C driver; default 50)",
}

/// `force_init_test`.
pub(crate) fn force_init_test() -> bool {
    FORCE_INIT_TEST.get()
}

/// `start_driver`, if given.
pub(crate) fn start_driver() -> Option<&'static CStr> {
    START_DRIVER.get()
}

/// `start_test_fs`, if given.
pub(crate) fn start_test_fs() -> Option<&'static CStr> {
    START_TEST_FS.get()
}

/// `start_num_threads`, if it is a valid thread count; C's 50 otherwise.
pub(crate) fn start_num_threads() -> u32 {
    let threads = START_NUM_THREADS.get();
    if threads == 0 || threads > MAX_THREADS {
        pr_warn!(
            "start_num_threads={threads} is not in 1..={MAX_THREADS}, using {DEFAULT_THREADS}\n"
        );
        return DEFAULT_THREADS;
    }
    threads
}
