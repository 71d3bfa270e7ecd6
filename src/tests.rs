// SPDX-License-Identifier: GPL-2.0

//! The KUnit suite `test_kmod`: each scenario of
//! tools/testing/selftests/kmod/kmod.sh that makes sense inside the kernel,
//! named after its id so that a CI failure points at the scenario, plus the
//! stress engine's own edge cases.
//!
//! Every case asserts what the environment it runs in must give.  Without a
//! userspace `modprobe` (`kunit.py run`: no root file system) every
//! `request_module()` returns -ENOENT: the driver cases assert exactly that and
//! then report SKIP with the reason, because kmod.sh's expectation (SUCCESS,
//! MODULE_NOT_FOUND) needs a modprobe.  Where one exists (the module loaded in
//! a VM) they assert kmod.sh's expectation.

use kernel::prelude::*;

#[kunit_tests(test_kmod)]
mod suite {
    use crate::{
        engine::{self, aggregate, Outcome, Plan, TestCase, MODULE_NOT_FOUND},
        ffi,
        knobs::{knob, parse_i32, parse_u32, TestKmodKnobs},
        params,
        sysfs::{Knobs, Page},
    };
    use kernel::{prelude::*, str::CStr};

    /// kmod.sh's `DEFAULT_KMOD_DRIVER`: lib/test_module.c.
    const DRIVER: &CStr = c"test_module";
    /// kmod.sh's `MODPROBE_LIMIT`: the kernel's `MAX_KMOD_CONCURRENT`.
    const MODPROBE_LIMIT: u32 = 50;
    /// The C driver's default thread count (`TEST_START_NUM_THREADS`).
    const DEFAULT_THREADS: u32 = 50;

    /// kmod.sh's `DEFAULT_KMOD_FS` (xfs, a module) where a modprobe can load it;
    /// otherwise ramfs, which is always built in, so that `get_fs_type()` can
    /// still succeed.
    fn test_fs() -> &'static CStr {
        if ffi::modprobe_available() {
            c"xfs"
        } else {
            c"ramfs"
        }
    }

    fn run(case: TestCase, name: &CStr, threads: u32) -> Result<Outcome> {
        engine::run(&Plan::new(case, name, threads))
    }

    /// Whether every thread of `outcome` returned `expected`.
    fn all_threads(outcome: &Outcome, expected: i32) -> bool {
        outcome.threads.iter().all(|&ret| ret == expected)
    }

    /// The `request_module()` result where no usermode helper can run.
    fn no_modprobe() -> i32 {
        ENOENT.to_errno()
    }

    /// Reports SKIP for a case whose kmod.sh expectation needs a modprobe, after
    /// the caller asserted the -ENOENT it got instead.
    fn skip_needs_modprobe(expectation: &str) {
        let why = ffi::modprobe_lookup().err().unwrap_or(ENOENT);
        ffi::kunit_mark_skipped(fmt!(
            "no userspace modprobe ({why:?}): got -ENOENT as expected, {expectation} needs one"
        ));
    }

    /// 0001: an empty module name: modprobe says "not found".
    #[test]
    fn kmod_test_0001_driver() -> Result {
        let outcome = run(TestCase::Driver, c"", 1)?;
        assert_eq!(outcome.threads.len(), 1);
        if ffi::modprobe_available() {
            assert_eq!(outcome.result()?, MODULE_NOT_FOUND);
        } else {
            assert_eq!(outcome.result()?, no_modprobe());
            skip_needs_modprobe("MODULE_NOT_FOUND (256)");
        }
        Ok(())
    }

    /// 0001: an empty file system name is not found: -EINVAL.
    #[test]
    fn kmod_test_0001_fs() -> Result {
        let outcome = run(TestCase::FsType, c"", 1)?;
        assert_eq!(outcome.threads.len(), 1);
        assert_eq!(outcome.result()?, EINVAL.to_errno());
        Ok(())
    }

    /// 0002: a module that does not exist.
    #[test]
    fn kmod_test_0002_driver() -> Result {
        let outcome = run(TestCase::Driver, c"nope-test_module", 1)?;
        if ffi::modprobe_available() {
            assert_eq!(outcome.result()?, MODULE_NOT_FOUND);
        } else {
            assert_eq!(outcome.result()?, no_modprobe());
            skip_needs_modprobe("MODULE_NOT_FOUND (256)");
        }
        Ok(())
    }

    /// 0002: a file system that does not exist, with the default thread count.
    #[test]
    fn kmod_test_0002_fs() -> Result {
        let outcome = run(TestCase::FsType, c"nope-xfs", DEFAULT_THREADS)?;
        assert_eq!(outcome.threads.len(), DEFAULT_THREADS as usize);
        assert!(all_threads(&outcome, EINVAL.to_errno()));
        assert_eq!(outcome.result()?, EINVAL.to_errno());
        Ok(())
    }

    /// 0003: `get_fs_type()` of an existing file system, one thread.
    #[test]
    fn kmod_test_0003() -> Result {
        let outcome = run(TestCase::FsType, test_fs(), 1)?;
        assert_eq!(outcome.threads.len(), 1);
        assert_eq!(outcome.result()?, 0);
        Ok(())
    }

    /// 0004: the same with two threads.
    #[test]
    fn kmod_test_0004() -> Result {
        let outcome = run(TestCase::FsType, test_fs(), 2)?;
        assert_eq!(outcome.threads.len(), 2);
        assert!(all_threads(&outcome, 0));
        Ok(())
    }

    /// 0005: `request_module()` of test_module from 50 threads at once.
    #[test]
    fn kmod_test_0005() -> Result {
        let outcome = run(TestCase::Driver, DRIVER, DEFAULT_THREADS)?;
        assert_eq!(outcome.threads.len(), DEFAULT_THREADS as usize);
        if ffi::modprobe_available() {
            assert!(all_threads(&outcome, 0));
        } else {
            assert!(all_threads(&outcome, no_modprobe()));
            skip_needs_modprobe("SUCCESS of 50 request_module(test_module)");
        }
        Ok(())
    }

    /// 0006: `get_fs_type()` from 50 threads at once.
    #[test]
    fn kmod_test_0006() -> Result {
        let outcome = run(TestCase::FsType, test_fs(), DEFAULT_THREADS)?;
        assert_eq!(outcome.threads.len(), DEFAULT_THREADS as usize);
        assert!(all_threads(&outcome, 0));
        Ok(())
    }

    /// 0007: 0005 then 0006, one after the other.
    #[test]
    fn kmod_test_0007() -> Result {
        let drivers = run(TestCase::Driver, DRIVER, DEFAULT_THREADS)?;
        let fs = run(TestCase::FsType, test_fs(), DEFAULT_THREADS)?;
        assert!(all_threads(&fs, 0));
        if ffi::modprobe_available() {
            assert!(all_threads(&drivers, 0));
        } else {
            assert!(all_threads(&drivers, no_modprobe()));
            skip_needs_modprobe("SUCCESS of 50 request_module(test_module)");
        }
        Ok(())
    }

    /// 0008: more `request_module()` threads than modprobe may run at once
    /// (limit + limit / 6 = 58): the extra ones wait for a slot.
    #[test]
    fn kmod_test_0008() -> Result {
        let threads = MODPROBE_LIMIT + MODPROBE_LIMIT / 6;
        let outcome = run(TestCase::Driver, DRIVER, threads)?;
        assert_eq!(outcome.threads.len(), threads as usize);
        if ffi::modprobe_available() {
            assert!(all_threads(&outcome, 0));
        } else {
            assert!(all_threads(&outcome, no_modprobe()));
            skip_needs_modprobe("SUCCESS of 58 request_module(test_module)");
        }
        Ok(())
    }

    /// 0009: more `get_fs_type()` threads than the modprobe limit
    /// (limit + limit / 4 = 62).
    #[test]
    fn kmod_test_0009() -> Result {
        let threads = MODPROBE_LIMIT + MODPROBE_LIMIT / 4;
        let outcome = run(TestCase::FsType, test_fs(), threads)?;
        assert_eq!(outcome.threads.len(), threads as usize);
        assert!(all_threads(&outcome, 0));
        Ok(())
    }

    /// 0010: a modprobe path that does not exist: -ENOENT.
    #[test]
    fn kmod_test_0010() -> Result {
        #[cfg(not(MODULE))]
        {
            let old = ffi::modprobe_path::replace(b"/KMOD_TEST_NONEXISTENT");
            let outcome = run(TestCase::Driver, DRIVER, 1);
            // Put it back before any assertion can end the case.
            ffi::modprobe_path::restore(old);
            assert_eq!(outcome?.result()?, ENOENT.to_errno());
        }
        #[cfg(MODULE)]
        ffi::kunit_mark_skipped(fmt!(
            "modprobe_path is not exported to modules: kmod.sh 0010 covers it"
        ));
        Ok(())
    }

    /// 0011: an empty modprobe path disables module autoloading: -ENOENT
    /// without trying to run anything (this once returned 0).
    #[test]
    fn kmod_test_0011() -> Result {
        #[cfg(not(MODULE))]
        {
            let old = ffi::modprobe_path::replace(b"");
            let outcome = run(TestCase::Driver, DRIVER, 1);
            ffi::modprobe_path::restore(old);
            assert_eq!(outcome?.result()?, ENOENT.to_errno());
        }
        #[cfg(MODULE)]
        ffi::kunit_mark_skipped(fmt!(
            "modprobe_path is not exported to modules: kmod.sh 0011 covers it"
        ));
        Ok(())
    }

    /// The smallest run: one thread, one result.
    #[test]
    fn engine_one_thread() -> Result {
        let outcome = run(TestCase::FsType, c"ramfs", 1)?;
        assert_eq!(outcome.threads.len(), 1);
        assert_eq!(outcome.threads[0], 0);
        assert!(outcome.spawn_error.is_none());
        Ok(())
    }

    /// Four times the modprobe limit: every thread is started and joined and
    /// reports its own result.
    #[test]
    fn engine_many_threads() -> Result {
        let threads = 4 * MODPROBE_LIMIT;
        let found = run(TestCase::FsType, c"ramfs", threads)?;
        assert_eq!(found.threads.len(), threads as usize);
        assert!(all_threads(&found, 0));
        let missing = run(TestCase::FsType, c"nope-ramfs", threads)?;
        assert_eq!(missing.threads.len(), threads as usize);
        assert!(all_threads(&missing, EINVAL.to_errno()));
        Ok(())
    }

    /// Zero threads is not a run.
    #[test]
    fn engine_zero_threads() {
        assert!(run(TestCase::FsType, c"ramfs", 0).err() == Some(EINVAL));
    }

    /// Module names have room for 55 bytes (`MODULE_NAME_LEN` 56 with the
    /// NUL): 56 bytes are refused with -ENAMETOOLONG before any modprobe.
    #[test]
    fn engine_name_length_limit() -> Result {
        let mut fits = [b'a'; 56];
        fits[55] = 0;
        let fits = CStr::from_bytes_with_nul(&fits).map_err(|_| EINVAL)?;
        let mut too_long = [b'a'; 57];
        too_long[56] = 0;
        let too_long = CStr::from_bytes_with_nul(&too_long).map_err(|_| EINVAL)?;

        let long = run(TestCase::Driver, too_long, 2)?;
        assert!(all_threads(&long, ENAMETOOLONG.to_errno()));
        let fitting = run(TestCase::Driver, fits, 1)?;
        let expected = if ffi::modprobe_available() {
            MODULE_NOT_FOUND
        } else {
            no_modprobe()
        };
        assert_eq!(fitting.result()?, expected);
        Ok(())
    }

    /// A thread that cannot be started ends the run with the error, after the
    /// threads already started have run and been joined (the C driver
    /// deadlocks here).
    #[test]
    fn engine_spawn_failure() -> Result {
        let mut plan = Plan::new(TestCase::FsType, c"ramfs", 10);
        plan.fail_spawn_at = Some(4);
        let outcome = engine::run(&plan)?;
        assert!(outcome.spawn_error == Some(ENOMEM));
        assert_eq!(outcome.threads.len(), 4);
        assert!(all_threads(&outcome, 0));
        assert!(outcome.result().err() == Some(ENOMEM));

        plan.fail_spawn_at = Some(0);
        let outcome = engine::run(&plan)?;
        assert_eq!(outcome.threads.len(), 0);
        assert!(outcome.result().err() == Some(ENOMEM));
        Ok(())
    }

    /// The run's result is the last non-zero thread result, as in C.
    #[test]
    fn engine_aggregate() {
        assert_eq!(aggregate(&[]), 0);
        assert_eq!(aggregate(&[0, 0, 0]), 0);
        assert_eq!(
            aggregate(&[0, -2, 0, MODULE_NOT_FOUND, 0]),
            MODULE_NOT_FOUND
        );
        assert_eq!(aggregate(&[-22, 0, -2]), -2);
    }

    /// The knobs parse numbers exactly as C's kstrtouint() and kstrtoint().
    #[test]
    fn knobs_parse_numbers() {
        assert!(parse_u32(b"42") == Ok(42));
        assert!(parse_u32(b"+42\n") == Ok(42));
        assert!(parse_u32(b"42\0junk") == Ok(42));
        assert!(parse_u32(b"4294967295") == Ok(u32::MAX));
        assert!(parse_u32(b"4294967296") == Err(ERANGE));
        assert!(parse_u32(b"99999999999999999999999") == Err(ERANGE));
        assert!(parse_u32(b"-1") == Err(EINVAL));
        assert!(parse_u32(b"") == Err(EINVAL));
        assert!(parse_u32(b"\n") == Err(EINVAL));
        assert!(parse_u32(b"4 2") == Err(EINVAL));
        assert!(parse_u32(b"42\n\n") == Err(EINVAL));
        assert!(parse_u32(b"0x10") == Err(EINVAL));
        assert!(parse_i32(b"-2147483648") == Ok(i32::MIN));
        assert!(parse_i32(b"-2147483649") == Err(ERANGE));
        assert!(parse_i32(b"2147483648") == Err(ERANGE));
        assert!(parse_i32(b"+-1") == Err(EINVAL));
        assert!(parse_i32(b"--1") == Err(EINVAL));
    }

    /// A rejected knob write returns the error and changes nothing.
    #[test]
    fn knobs_reject_bad_input() -> Result {
        let knobs = KBox::pin_init(TestKmodKnobs::new(), GFP_KERNEL)?;
        let config = |knobs: &TestKmodKnobs| -> Result<KVec<u8>> {
            let mut page = KVec::from_elem(0u8, 4096, GFP_KERNEL)?;
            let mut out = Page::new(&mut page);
            knobs.show(knob::CONFIG, &mut out)?;
            let mut copy = KVec::new();
            copy.extend_from_slice(out.contents(), GFP_KERNEL)?;
            Ok(copy)
        };
        let before = config(&knobs)?;
        assert!(knobs.store(knob::CONFIG_NUM_THREADS, b"0") == Err(EINVAL));
        assert!(knobs.store(knob::CONFIG_NUM_THREADS, b"4194305") == Err(EINVAL));
        assert!(knobs.store(knob::CONFIG_NUM_THREADS, b"4294967295") == Err(EINVAL));
        assert!(knobs.store(knob::CONFIG_NUM_THREADS, b"x") == Err(EINVAL));
        assert!(knobs.store(knob::CONFIG_TEST_CASE, b"3") == Err(EINVAL));
        assert!(knobs.store(knob::TEST_RESULT, b"1x") == Err(EINVAL));
        assert!(config(&knobs)? == before);
        // A file system run with no file system set is refused, as in C
        // (`start_test_fs` sets one from the start).
        knobs.store(knob::CONFIG_TEST_CASE, b"2")?;
        if params::start_test_fs().is_none() {
            assert!(knobs.store(knob::TRIGGER_CONFIG, b"1") == Err(EINVAL));
        }
        // And a good one runs and stores its result.
        knobs.store(knob::CONFIG_TEST_FS, b"ramfs")?;
        knobs.store(knob::CONFIG_NUM_THREADS, b"3\n")?;
        knobs.store(knob::TEST_RESULT, b"-5")?;
        knobs.store(knob::TRIGGER_CONFIG, b"1")?;
        let mut page = KVec::from_elem(0u8, 4096, GFP_KERNEL)?;
        let mut out = Page::new(&mut page);
        knobs.show(knob::TEST_RESULT, &mut out)?;
        assert!(out.contents() == b"0\n");
        Ok(())
    }

    /// A run that could exhaust memory is throttled, or refused when not
    /// even one thread at a time fits, before any thread starts.
    #[test]
    fn engine_memory_budget() {
        const MIB: usize = 1 << 20;
        const GIB: usize = 1 << 30;
        // kmod.sh's biggest run fits a 1 GiB machine with a modprobe, and
        // so do 4096 threads at once (the C driver survives that too)...
        assert!(engine::thread_window(62, true, GIB) == Ok(62));
        assert!(engine::thread_window(4096, true, GIB) == Ok(4096));
        // ... but 20000 threads' stacks and tasks (~625 MiB) do not: they
        // run fewer at a time, still far more than kmod's 50 modprobes,
        let window = engine::thread_window(20000, true, GIB);
        assert!(matches!(window, Ok(w) if (1000..20000).contains(&w)));
        // ... and all at once where there is room.
        assert!(engine::thread_window(20000, false, 2 * GIB) == Ok(20000));
        assert!(engine::run_cost(100, true) > engine::run_cost(100, false));
        // 50 modprobe helpers do not fit in 32 MiB: refused.
        assert!(engine::thread_window(100, true, 64 * MIB) == Err(ENOMEM));
        assert!(engine::thread_window(100, false, 64 * MIB) == Ok(100));
        // A real run far beyond the machine fails at once with -ENOMEM
        // (2^32 results alone take 32 GiB).
        let huge = run(TestCase::FsType, c"ramfs", u32::MAX);
        assert!(huge.err() == Some(ENOMEM));
    }

    /// A throttled run makes every call but never has more threads alive
    /// than its window.
    #[test]
    fn engine_throttled_run() -> Result {
        let mut plan = Plan::new(TestCase::FsType, c"ramfs", 64);
        plan.max_window = Some(4);
        let outcome = engine::run(&plan)?;
        assert_eq!(outcome.threads.len(), 64);
        assert!(all_threads(&outcome, 0));
        assert!(outcome.spawn_error.is_none());
        assert!((1..=4).contains(&outcome.peak_alive));
        // A window of one runs the threads one after the other.
        plan.max_window = Some(1);
        let outcome = engine::run(&plan)?;
        assert_eq!(outcome.threads.len(), 64);
        assert_eq!(outcome.peak_alive, 1);
        Ok(())
    }
}
