// SPDX-License-Identifier: GPL-2.0

//! `force_init_test`: the start scenarios the C driver runs when it loads
//! (`request_module(start_driver)`, then `get_fs_type(start_test_fs)` if one
//! is given), reported as a KTAP suite of their own, `test_kmod_start`, so
//! that a boot log with the driver built in parses into JUnit.
//!
//! Without a userspace modprobe (built in and booted with no initramfs) the
//! calls cannot succeed, which the kernel reports as -ENOENT from
//! `request_module()`.  The driver scenario runs first; when it gets exactly
//! that, there is no modprobe, and a file system scenario that then gives
//! -EINVAL (its type is not built in) is a SKIP too, with the reason, never a
//! silent pass.

use crate::{
    engine::TestCase,
    knobs::Knobs, //
};
use kernel::prelude::*;

/// Runs the start scenarios on `knobs` and prints their KTAP.  Fails (and so
/// fails the driver's init, as in C) when a scenario cannot be run at all.
pub(crate) fn run(knobs: &Knobs) -> Result {
    let scenarios = [
        (TestCase::Driver, "start_driver"),
        (TestCase::FsType, "start_test_fs"),
    ];
    pr_info!("KTAP version 1\n");
    pr_info!("1..1\n");
    pr_info!("    KTAP version 1\n");
    pr_info!("    # Subtest: test_kmod_start\n");
    pr_info!("    1..{}\n", scenarios.len());
    let mut no_modprobe = false;
    let mut failed = false;
    let mut error = None;
    for (number, (case, name)) in (1..).zip(scenarios) {
        match knobs.trigger_case(case) {
            Ok(None) => pr_info!("    ok {number} {name} # SKIP {name} is not set\n"),
            Ok(Some(0)) => pr_info!("    ok {number} {name}\n"),
            Ok(Some(result)) if case == TestCase::Driver && result == ENOENT.to_errno() => {
                no_modprobe = true;
                pr_info!(
                    "    ok {number} {name} # SKIP no userspace modprobe: request_module() gave {result}\n"
                );
            }
            Ok(Some(result)) if no_modprobe && result == EINVAL.to_errno() => pr_info!(
                "    ok {number} {name} # SKIP no userspace modprobe: get_fs_type() of a file system that is not built in gave {result}\n"
            ),
            Ok(Some(result)) => {
                pr_info!("    # {}: result {result}, expected 0\n", case.name());
                pr_info!("    not ok {number} {name}\n");
                failed = true;
            }
            Err(e) => {
                pr_info!("    # {}: could not run: {e:?}\n", case.name());
                pr_info!("    not ok {number} {name}\n");
                failed = true;
                error.get_or_insert(e);
            }
        }
    }
    pr_info!(
        "{} 1 test_kmod_start\n",
        if failed { "not ok" } else { "ok" }
    );
    error.map_or(Ok(()), Err)
}
