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
        abstractions::{
            cbuf::CBuf,
            compat,
            kmod::{
                self,
                MODULE_NAME_LEN,
                MODULE_NOT_FOUND, //
            },
            kthread::{
                self,
                KThread, //
            },
            kunit_skip::{
                self,
                ensure, //
            },
            meminfo,
        },
        devices::{
            Registry,
            MAX_DEVICES, //
        },
        engine::{
            self,
            aggregate,
            Budget,
            KThreads,
            Outcome,
            Plan,
            Spawner,
            TestCase,
            THREAD_COST, //
        },
        knobs::{
            parse_i32,
            parse_u32,
            Knobs, //
        },
        params,
    };
    use kernel::{
        prelude::*,
        str::CString,
        sync::{
            atomic::{
                Atomic,
                Relaxed, //
            },
            Arc,
            Completion, //
        },
    };

    /// kmod.sh's `DEFAULT_KMOD_DRIVER`: lib/test_module.c.
    const DRIVER: &CStr = c"test_module";
    /// kmod.sh's `MODPROBE_LIMIT`: the kernel's `MAX_KMOD_CONCURRENT`.
    const MODPROBE_LIMIT: u32 = 50;
    /// The C driver's default thread count (`TEST_START_NUM_THREADS`).
    const DEFAULT_THREADS: u32 = 50;

    /// Whether a userspace modprobe runs behind `request_module()`, asked
    /// the way the kernel tells: without one, `request_module()` gives
    /// -ENOENT (with one, modprobe says "not found").
    fn modprobe_available() -> bool {
        kmod::request_module(c"test_kmod-no-such-module") != ENOENT.to_errno()
    }

    /// kmod.sh's `DEFAULT_KMOD_FS` (xfs, a module) where a modprobe can load it;
    /// otherwise ramfs, which is always built in, so that `get_fs_type()` can
    /// still succeed.
    fn test_fs() -> &'static CStr {
        if modprobe_available() {
            c"xfs"
        } else {
            c"ramfs"
        }
    }

    /// A budget of half of `MemAvailable`, as the module's (runs of the
    /// suite do not draw on the module's own).
    static BUDGET: Budget = Budget::available();

    fn run_with(plan: &Plan<'_>, budget: &Budget, spawner: &impl Spawner) -> Result<Outcome> {
        engine::run(plan, budget, spawner)
    }

    fn run(case: TestCase, name: &CStr, threads: u32) -> Result<Outcome> {
        let plan = Plan {
            case,
            name,
            threads,
        };
        run_with(&plan, &BUDGET, &KThreads)
    }

    /// Kernel threads that count how many of them run their call at once,
    /// and fail to start at a given index, as if the kernel were out of
    /// memory (the C driver deadlocks there).
    struct Counting {
        fail_at: Option<u32>,
        alive: Arc<Atomic<u32>>,
        peak: Arc<Atomic<u32>>,
    }

    impl Counting {
        fn new(fail_at: Option<u32>) -> Result<Self> {
            Ok(Self {
                fail_at,
                alive: Arc::new(Atomic::new(0), GFP_KERNEL)?,
                peak: Arc::new(Atomic::new(0), GFP_KERNEL)?,
            })
        }

        fn peak(&self) -> u32 {
            self.peak.load(Relaxed)
        }
    }

    impl Spawner for Counting {
        type Thread = KThread;

        fn spawn(&self, index: u32, work: impl FnOnce() + Send + 'static) -> Result<KThread> {
            if self.fail_at == Some(index) {
                return Err(ENOMEM);
            }
            let (alive, peak) = (self.alive.clone(), self.peak.clone());
            kthread::spawn(fmt!("test_kmod-{index}"), move || {
                let now = alive.fetch_add(1, Relaxed) + 1;
                let mut seen = peak.load(Relaxed);
                while now > seen {
                    match peak.cmpxchg(seen, now, Relaxed) {
                        Ok(_) => break,
                        Err(other) => seen = other,
                    }
                }
                work();
                alive.fetch_sub(1, Relaxed);
            })
        }
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
        kunit_skip::mark_skipped(fmt!(
            "no userspace modprobe: got -ENOENT as expected, {expectation} needs one"
        ));
    }

    /// 0001: an empty module name: modprobe says "not found".
    #[test]
    fn kmod_test_0001_driver() -> Result {
        let outcome = run(TestCase::Driver, c"", 1)?;
        ensure!(outcome.threads.len() == 1);
        if modprobe_available() {
            ensure!(outcome.result()? == MODULE_NOT_FOUND);
        } else {
            ensure!(outcome.result()? == no_modprobe());
            skip_needs_modprobe("MODULE_NOT_FOUND (256)");
        }
        Ok(())
    }

    /// 0001: an empty file system name is not found: -EINVAL.
    #[test]
    fn kmod_test_0001_fs() -> Result {
        let outcome = run(TestCase::FsType, c"", 1)?;
        ensure!(outcome.threads.len() == 1);
        ensure!(outcome.result()? == EINVAL.to_errno());
        Ok(())
    }

    /// 0002: a module that does not exist.
    #[test]
    fn kmod_test_0002_driver() -> Result {
        let outcome = run(TestCase::Driver, c"nope-test_module", 1)?;
        if modprobe_available() {
            ensure!(outcome.result()? == MODULE_NOT_FOUND);
        } else {
            ensure!(outcome.result()? == no_modprobe());
            skip_needs_modprobe("MODULE_NOT_FOUND (256)");
        }
        Ok(())
    }

    /// 0002: a file system that does not exist, with the default thread count.
    #[test]
    fn kmod_test_0002_fs() -> Result {
        let outcome = run(TestCase::FsType, c"nope-xfs", DEFAULT_THREADS)?;
        ensure!(outcome.threads.len() == DEFAULT_THREADS as usize);
        ensure!(all_threads(&outcome, EINVAL.to_errno()));
        ensure!(outcome.result()? == EINVAL.to_errno());
        Ok(())
    }

    /// 0003: `get_fs_type()` of an existing file system, one thread.
    #[test]
    fn kmod_test_0003() -> Result {
        let outcome = run(TestCase::FsType, test_fs(), 1)?;
        ensure!(outcome.threads.len() == 1);
        ensure!(outcome.result()? == 0);
        Ok(())
    }

    /// 0004: the same with two threads.
    #[test]
    fn kmod_test_0004() -> Result {
        let outcome = run(TestCase::FsType, test_fs(), 2)?;
        ensure!(outcome.threads.len() == 2);
        ensure!(all_threads(&outcome, 0));
        Ok(())
    }

    /// 0005: `request_module()` of test_module from 50 threads at once.
    #[test]
    fn kmod_test_0005() -> Result {
        let outcome = run(TestCase::Driver, DRIVER, DEFAULT_THREADS)?;
        ensure!(outcome.threads.len() == DEFAULT_THREADS as usize);
        if modprobe_available() {
            ensure!(all_threads(&outcome, 0));
        } else {
            ensure!(all_threads(&outcome, no_modprobe()));
            skip_needs_modprobe("SUCCESS of 50 request_module(test_module)");
        }
        Ok(())
    }

    /// 0006: `get_fs_type()` from 50 threads at once.
    #[test]
    fn kmod_test_0006() -> Result {
        let outcome = run(TestCase::FsType, test_fs(), DEFAULT_THREADS)?;
        ensure!(outcome.threads.len() == DEFAULT_THREADS as usize);
        ensure!(all_threads(&outcome, 0));
        Ok(())
    }

    /// 0007: 0005 then 0006, one after the other.
    #[test]
    fn kmod_test_0007() -> Result {
        let drivers = run(TestCase::Driver, DRIVER, DEFAULT_THREADS)?;
        let fs = run(TestCase::FsType, test_fs(), DEFAULT_THREADS)?;
        ensure!(all_threads(&fs, 0));
        if modprobe_available() {
            ensure!(all_threads(&drivers, 0));
        } else {
            ensure!(all_threads(&drivers, no_modprobe()));
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
        ensure!(outcome.threads.len() == threads as usize);
        if modprobe_available() {
            ensure!(all_threads(&outcome, 0));
        } else {
            ensure!(all_threads(&outcome, no_modprobe()));
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
        ensure!(outcome.threads.len() == threads as usize);
        ensure!(all_threads(&outcome, 0));
        Ok(())
    }

    // 0010 and 0011 (a wrong or empty `kernel.modprobe`) change a sysctl
    // that a driver has no business writing: kmod.sh runs them in the VM.

    /// The smallest run: one thread, one result.
    #[test]
    fn engine_one_thread() -> Result {
        let outcome = run(TestCase::FsType, c"ramfs", 1)?;
        ensure!(outcome.threads.len() == 1);
        ensure!(outcome.threads[0] == 0);
        ensure!(outcome.spawn_error.is_none());
        Ok(())
    }

    /// Four times the modprobe limit: every thread is started and joined and
    /// reports its own result.
    #[test]
    fn engine_many_threads() -> Result {
        let threads = 4 * MODPROBE_LIMIT;
        let found = run(TestCase::FsType, c"ramfs", threads)?;
        ensure!(found.threads.len() == threads as usize);
        ensure!(all_threads(&found, 0));
        let missing = run(TestCase::FsType, c"nope-ramfs", threads)?;
        ensure!(missing.threads.len() == threads as usize);
        ensure!(all_threads(&missing, EINVAL.to_errno()));
        Ok(())
    }

    /// Zero threads is not a run.
    #[test]
    fn engine_zero_threads() {
        assert!(run(TestCase::FsType, c"ramfs", 0).err() == Some(EINVAL));
    }

    /// Module names have room for `MODULE_NAME_LEN` - 1 bytes (55 on 64-bit,
    /// 59 on 32-bit architectures): one more is refused with -ENAMETOOLONG
    /// before any modprobe.
    /// A kernel with an empty modprobe path (`kernel.modprobe` or
    /// `CONFIG_MODPROBE_PATH` set to "") refuses every name with -ENOENT
    /// before it looks at the length: a SKIP there, with the reason.
    #[test]
    fn engine_name_length_limit() -> Result {
        let mut fits = [b'a'; MODULE_NAME_LEN];
        fits[MODULE_NAME_LEN - 1] = 0;
        let fits = CStr::from_bytes_with_nul(&fits).map_err(|_| EINVAL)?;
        let mut too_long = [b'a'; MODULE_NAME_LEN + 1];
        too_long[MODULE_NAME_LEN] = 0;
        let too_long = CStr::from_bytes_with_nul(&too_long).map_err(|_| EINVAL)?;

        let long = run(TestCase::Driver, too_long, 2)?;
        if all_threads(&long, no_modprobe()) {
            kunit_skip::mark_skipped(fmt!(
                "the modprobe path is empty: request_module() gives -ENOENT before it checks the length"
            ));
            return Ok(());
        }
        ensure!(all_threads(&long, compat::enametoolong().to_errno()));
        let fitting = run(TestCase::Driver, fits, 1)?;
        let expected = if modprobe_available() {
            MODULE_NOT_FOUND
        } else {
            no_modprobe()
        };
        ensure!(fitting.result()? == expected);
        Ok(())
    }

    /// A thread that cannot be started ends the run with the error, after the
    /// threads already started have run and been joined (the C driver
    /// deadlocks here).
    #[test]
    fn engine_spawn_failure() -> Result {
        let plan = Plan {
            case: TestCase::FsType,
            name: c"ramfs",
            threads: 10,
        };
        let budget = Budget::available();
        let outcome = run_with(&plan, &budget, &Counting::new(Some(4))?)?;
        ensure!(outcome.spawn_error == Some(ENOMEM));
        ensure!(outcome.threads.len() == 4);
        ensure!(all_threads(&outcome, 0));
        ensure!(outcome.result().err() == Some(ENOMEM));

        let outcome = run_with(&plan, &budget, &Counting::new(Some(0))?)?;
        ensure!(outcome.threads.is_empty());
        ensure!(outcome.result().err() == Some(ENOMEM));
        ensure!(budget.reserved() == 0);
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
        let name = CString::try_from(c"test_kmod_kunit")?;
        let knobs = KBox::pin_init(Knobs::new(name, 50, &BUDGET), GFP_KERNEL)?;
        let config = |knobs: &Knobs| -> Result<KVec<u8>> {
            let mut page = KVec::from_elem(0u8, 4096, GFP_KERNEL)?;
            let mut out = CBuf::new(&mut page).ok_or(EINVAL)?;
            knobs.config(&mut out)?;
            let mut copy = KVec::new();
            copy.extend_from_slice(out.as_bytes(), GFP_KERNEL)?;
            Ok(copy)
        };
        let before = config(&knobs)?;
        ensure!(knobs.store_num_threads(b"0") == Err(EINVAL));
        ensure!(knobs.store_num_threads(b"4194305") == Err(EINVAL));
        ensure!(knobs.store_num_threads(b"4294967295") == Err(EINVAL));
        ensure!(knobs.store_num_threads(b"x") == Err(EINVAL));
        ensure!(knobs.store_test_case(b"3") == Err(EINVAL));
        ensure!(knobs.store_test_result(b"1x") == Err(EINVAL));
        ensure!(config(&knobs)? == before);
        // A file system run with no file system set is refused, as in C
        // (`start_test_fs` sets one from the start).
        knobs.store_test_case(b"2")?;
        if params::start_test_fs().is_none() {
            ensure!(knobs.trigger_config(b"1") == Err(EINVAL));
        }
        // And a good one runs and stores its result.
        knobs.store_fs(b"ramfs")?;
        knobs.store_num_threads(b"3\n")?;
        knobs.store_test_result(b"-5")?;
        knobs.trigger_config(b"1")?;
        let mut page = KVec::from_elem(0u8, 4096, GFP_KERNEL)?;
        let mut out = CBuf::new(&mut page).ok_or(EINVAL)?;
        knobs.show_test_result(&mut out)?;
        ensure!(out.as_bytes() == b"0\n");
        Ok(())
    }

    /// Names are kept byte for byte up to the first NUL and shown as C's
    /// `"%s\n"` shows them, at most a page less one byte.
    #[test]
    fn knobs_show_names_verbatim() -> Result {
        let name = CString::try_from(c"test_kmod_kunit")?;
        let knobs = KBox::pin_init(Knobs::new(name, 50, &BUDGET), GFP_KERNEL)?;
        let mut page = KVec::from_elem(0u8, 4096, GFP_KERNEL)?;
        knobs.store_driver(b"a\xff\nb\0c")?;
        let mut out = CBuf::new(&mut page).ok_or(EINVAL)?;
        knobs.show_driver(&mut out)?;
        ensure!(out.as_bytes() == b"a\xff\nb\n");
        let long = KVec::from_elem(b'x', 5000, GFP_KERNEL)?;
        knobs.store_fs(&long)?;
        let mut out = CBuf::new(&mut page).ok_or(EINVAL)?;
        knobs.show_fs(&mut out)?;
        ensure!(out.len() == 4095);
        Ok(())
    }

    /// The cost of a thread covers what the kernel allocates for it at
    /// least: its stack (`THREAD_SIZE`, 32 KiB with KASAN on x86_64) and its
    /// `task_struct`.
    #[test]
    fn engine_thread_cost() {
        assert!(THREAD_COST >= meminfo::THREAD_SIZE + meminfo::TASK_STRUCT_SIZE);
        assert!(engine::run_cost(100) > 100 * THREAD_COST);
    }

    /// A run that could exhaust memory is throttled, or refused when not
    /// even one thread at a time fits, before any thread starts.
    #[test]
    fn engine_memory_budget() -> Result {
        const MIB: usize = 1 << 20;
        const GIB: usize = 1 << 30;
        let window = |budget: usize, threads: u32| -> Result<u32> {
            let budget = Budget::fixed(budget);
            let window = budget.reserve(threads)?.window;
            ensure!(budget.reserved() == 0);
            Ok(window)
        };
        // kmod.sh's biggest run fits half a 1 GiB machine, and so do 2048
        // threads at once (the C driver survives that too)...
        ensure!(window(GIB / 2, 62) == Ok(62));
        ensure!(window(GIB / 2, 2048) == Ok(2048));
        // ... but twice as many threads as their stacks and tasks fit in
        // (about 20000 on x86_64 with KASAN, 60000 on 32-bit arm) do not:
        // they run fewer at a time, still far more than kmod's 50
        // modprobes,
        let many = 2 * u32::try_from(GIB / 2 / THREAD_COST).map_err(|_| EINVAL)?;
        let throttled = window(GIB / 2, many)?;
        ensure!((1000..many).contains(&throttled));
        // ... and all at once where there is room, to the byte.
        ensure!(window(engine::run_cost(many), many) == Ok(many));
        ensure!(window(engine::run_cost(many) - 1, many) == Ok(many - 1));
        // 50 modprobe helpers do not fit in 32 MiB: refused.
        ensure!(window(32 * MIB, 100) == Err(ENOMEM));
        // A real run far beyond its budget fails at once with -ENOMEM
        // (2^32 results alone take 32 GiB), whatever the machine has: the
        // budget is fixed, 1 GiB.
        let plan = Plan {
            case: TestCase::FsType,
            name: c"ramfs",
            threads: u32::MAX,
        };
        let huge = run_with(&plan, &Budget::fixed(GIB), &KThreads);
        ensure!(huge.err() == Some(ENOMEM));
        Ok(())
    }

    /// A throttled run makes every call but never has more threads alive
    /// than its window; a window of one runs them one after the other.
    #[test]
    fn engine_throttled_run() -> Result {
        let plan = Plan {
            case: TestCase::FsType,
            name: c"ramfs",
            threads: 64,
        };
        for window in [4, 1] {
            let bytes = engine::run_cost(64) - (64 - window as usize) * THREAD_COST;
            let budget = Budget::fixed(bytes);
            let spawner = Counting::new(None)?;
            let outcome = run_with(&plan, &budget, &spawner)?;
            ensure!(outcome.threads.len() == 64);
            ensure!(all_threads(&outcome, 0));
            ensure!(outcome.spawn_error.is_none());
            ensure!((1..=window).contains(&spawner.peak()));
            ensure!(budget.reserved() == 0);
        }
        Ok(())
    }

    /// Runs going on at once share one budget: while one holds most of it,
    /// a second is throttled to what is left, or refused; once the first
    /// has ended, the second gets its full size again.
    #[test]
    fn engine_shared_budget() -> Result {
        let budget = Budget::fixed(engine::run_cost(64));
        let first = budget.reserve(48)?;
        ensure!(first.window == 48);
        let second = budget.reserve(64)?;
        ensure!(second.window < 64 - 32);
        drop(second);
        drop(first);
        ensure!(budget.reserve(64)?.window == 64);
        Ok(())
    }

    /// A registry of the suite's own (devices `test_kmod_kunit<n>`), so that
    /// devices made through configfs meanwhile are not disturbed.
    static REGISTRY: Registry = Registry::new(c"test_kmod_kunit", &BUDGET);

    /// Devices get the lowest free number, have their own configuration
    /// and results, run at the same time, and free their number and name
    /// when removed.
    #[test]
    fn devices_create_and_remove() -> Result {
        let first = Arc::new(REGISTRY.create(3)?, GFP_KERNEL)?;
        let second = REGISTRY.create(4)?;
        ensure!(REGISTRY.count() == 2);
        ensure!(first.name().to_bytes() == b"test_kmod_kunit1");
        ensure!(second.name().to_bytes() == b"test_kmod_kunit2");
        let (one, two) = (first.knobs(), second.knobs());
        one.store_test_case(b"2")?;
        one.store_fs(b"ramfs")?;
        two.store_test_case(b"2")?;
        two.store_fs(b"nope-ramfs")?;
        // `reset` gives each device its own thread count.
        let mut page = KVec::from_elem(0u8, 64, GFP_KERNEL)?;
        let mut out = CBuf::new(&mut page).ok_or(EINVAL)?;
        two.show_num_threads(&mut out)?;
        ensure!(out.as_bytes() == b"4\n");
        // Triggers on the two devices at once, each with its own result.
        let done = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
        let (device, finished) = (first.clone(), done.clone());
        let result = Arc::new(Atomic::new(1), GFP_KERNEL)?;
        let seen = result.clone();
        let thread = kthread::spawn(fmt!("test_kmod_kunit"), move || {
            let ret = device.knobs().trigger_config(b"1");
            seen.store(ret.map_or_else(|e| e.to_errno(), |()| 0), Relaxed);
            finished.complete_all();
        })?;
        two.trigger_config(b"1")?;
        thread.join();
        done.wait_for_completion();
        ensure!(result.load(Relaxed) == 0);
        let mut out = CBuf::new(&mut page).ok_or(EINVAL)?;
        one.show_test_result(&mut out)?;
        ensure!(out.as_bytes() == b"0\n");
        let mut out = CBuf::new(&mut page).ok_or(EINVAL)?;
        two.show_test_result(&mut out)?;
        ensure!(out.as_bytes() == b"-22\n");
        // Removing the first frees its number for the next device.
        drop(first);
        ensure!(second.remove().is_ok());
        ensure!(REGISTRY.count() == 0);
        let again = REGISTRY.create(1)?;
        ensure!(again.name().to_bytes() == b"test_kmod_kunit1");
        // A removed device refuses triggers.
        let knobs = again.knobs();
        knobs.close();
        ensure!(knobs.trigger_config(b"1") == Err(ENODEV));
        Ok(())
    }

    /// At most `MAX_DEVICES` devices exist at once.
    #[test]
    fn devices_count_bound() -> Result {
        let mut devices = KVec::new();
        for _ in 0..MAX_DEVICES {
            devices.push(REGISTRY.create(1)?, GFP_KERNEL)?;
        }
        ensure!(REGISTRY.count() == MAX_DEVICES);
        ensure!(REGISTRY.create(1).err() == Some(ENOSPC));
        devices.truncate(10);
        ensure!(REGISTRY.count() == 10);
        devices.push(REGISTRY.create(1)?, GFP_KERNEL)?;
        drop(devices);
        ensure!(REGISTRY.count() == 0);
        Ok(())
    }

    /// Kernel threads that wait for a gate before their call, and say when
    /// the first of them was started (its run has reserved its memory).
    struct Gated {
        gate: Arc<Completion>,
        started: Arc<Completion>,
    }

    impl Spawner for Gated {
        type Thread = KThread;

        fn spawn(&self, index: u32, work: impl FnOnce() + Send + 'static) -> Result<KThread> {
            let gate = self.gate.clone();
            let thread = kthread::spawn(fmt!("test_kmod-{index}"), move || {
                gate.wait_for_completion();
                work();
            });
            self.started.complete_all();
            thread
        }
    }

    /// Completes a gate when dropped.
    struct OpenOnDrop(Arc<Completion>);

    impl Drop for OpenOnDrop {
        fn drop(&mut self) {
            self.0.complete_all();
        }
    }

    /// Two runs at once share one budget: while a first run holds half of
    /// it, a second is throttled to what is left; once both have ended,
    /// nothing is reserved any more.
    #[test]
    fn engine_two_runs_share_the_budget() -> Result {
        let budget = Arc::new(Budget::fixed(engine::run_cost(64)), GFP_KERNEL)?;
        let gated = Arc::new(
            Gated {
                gate: Arc::pin_init(Completion::new(), GFP_KERNEL)?,
                started: Arc::pin_init(Completion::new(), GFP_KERNEL)?,
            },
            GFP_KERNEL,
        )?;
        let (first_budget, spawner) = (budget.clone(), gated.clone());
        let first_done = Arc::new(Atomic::new(-1), GFP_KERNEL)?;
        let done = first_done.clone();
        let first = kthread::spawn(fmt!("test_kmod_kunit"), move || {
            let plan = Plan {
                case: TestCase::FsType,
                name: c"ramfs",
                threads: 32,
            };
            let calls = engine::run(&plan, &first_budget, &*spawner)
                .map_or(-1, |outcome| outcome.threads.len() as i32);
            done.store(calls, Relaxed);
        })?;
        // Dropped before `first` (which joins it), on every path: the first
        // run's threads are let go.
        let _open = OpenOnDrop(gated.gate.clone());
        gated.started.wait_for_completion();
        // The first run holds its 32 threads' share (and the helpers').
        ensure!(budget.reserved() > 0);
        let plan = Plan {
            case: TestCase::FsType,
            name: c"ramfs",
            threads: 64,
        };
        let counting = Counting::new(None)?;
        let second = run_with(&plan, &budget, &counting)?;
        ensure!(second.threads.len() == 64);
        ensure!(all_threads(&second, 0));
        // Only what the first run left was there: fewer than 64 - 32 at once.
        ensure!((1..32).contains(&counting.peak()));
        gated.gate.complete_all();
        first.join();
        ensure!(first_done.load(Relaxed) == 32);
        ensure!(budget.reserved() == 0);
        Ok(())
    }
}
