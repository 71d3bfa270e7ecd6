// SPDX-License-Identifier: GPL-2.0

//! The KUnit suite `test_kmod_races`: the module loader's races that need no
//! userspace of their own, driven by the stress engine (N kernel threads
//! calling `request_module()`, as a trigger runs them) against the fixtures
//! `kmod_fixture_slow` (init sleeps 2 s) and `kmod_fixture_fail` (init fails
//! with -ENODEV after 0.5 s).  kunit/guest/races.sh runs the same scenarios,
//! and those that need userspace, through the knobs, against either driver.
//!
//! Every case asserts what its environment must give.  Without a userspace
//! `modprobe` (`kunit.py run`: no root file system; or an empty modprobe
//! path) every `request_module()` returns -ENOENT: the cases assert exactly
//! that and report SKIP with the reason.  With a modprobe but a kernel built
//! without `CONFIG_TEST_KMOD_RUST_FIXTURES`, modprobe finds no fixture: the
//! cases assert that and report SKIP.  Where the fixtures are installed (the
//! module loaded in the VM of kunit/selftest) they assert the loader's
//! promises.
//!
//! The kernel lets no module ask whether another one is loaded or unload it
//! (`find_module()` has not been exported since Linux 5.12, nor is
//! `module_kset`), so what the cases know of the fixtures they learn from
//! `request_module()`'s results and the time the requests take.  A fixture
//! loaded by a case stays loaded: a second run of the suite in the same boot
//! finds `kmod_fixture_slow` loaded already, which `same_name_slow` reports
//! as a SKIP when its requests take less than the fixture's init
//! (`modprobe -r kmod_fixture_slow` first).

use kernel::prelude::*;

#[kunit_tests(test_kmod_races)]
mod suite {
    use crate::{
        abstractions::{
            kmod::{
                self,
                MODULE_NOT_FOUND, //
            },
            kunit_skip::{
                self,
                ensure, //
            }, //
        },
        engine::{
            self,
            Budget,
            KThreads,
            Outcome,
            Plan,
            TestCase, //
        },
    };
    use kernel::{
        prelude::*,
        time::{
            Instant,
            Monotonic, //
        },
    };

    /// Requests per run: half of kmod's `MAX_KMOD_CONCURRENT` (50), so that
    /// every request gets its modprobe at once and none waits for a slot
    /// (the time measures the loader, not kmod's limit), as in the races
    /// step of kunit/check.
    const THREADS: u32 = 25;

    /// The fixture whose init sleeps `init_ms` before it succeeds.
    const SLOW: &CStr = c"kmod_fixture_slow";
    /// `init_ms` of fixtures/kmod_fixture_slow.c: what its init takes.
    const SLOW_INIT_MS: i64 = 2000;

    /// The fixture whose init fails with -ENODEV (its default `errno`).
    const FAIL: &CStr = c"kmod_fixture_fail";

    /// What `request_module()` returns when modprobe exits 1, whatever the
    /// reason: the wait status 256, for a module not found
    /// ([`MODULE_NOT_FOUND`]) as for one whose init failed.
    const MODPROBE_FAILED: i32 = MODULE_NOT_FOUND;

    /// A budget of half of `MemAvailable`, as the module's (runs of the
    /// suite do not draw on the module's own).
    static BUDGET: Budget = Budget::available();

    /// `THREADS` kernel threads request `name` at once, as a trigger does;
    /// returns what they got and the run's wall time in milliseconds.
    fn timed_run(name: &CStr, threads: u32) -> Result<(Outcome, i64)> {
        let plan = Plan {
            case: TestCase::Driver,
            name,
            threads,
        };
        let start = Instant::<Monotonic>::now();
        let outcome = engine::run(&plan, &BUDGET, &KThreads)?;
        let ms = start.elapsed().as_millis();
        ensure!(outcome.threads.len() == threads as usize);
        ensure!(outcome.spawn_error.is_none());
        Ok((outcome, ms))
    }

    /// Whether every thread of `outcome` returned `expected`.
    fn all_threads(outcome: &Outcome, expected: i32) -> bool {
        outcome.threads.iter().all(|&ret| ret == expected)
    }

    /// Whether `outcome`'s requests of `fixture` could load it.  Where they
    /// cannot, asserts what they must have got instead and reports SKIP with
    /// the reason: -ENOENT without a userspace modprobe, modprobe's "not
    /// found" when the kernel was built without the fixtures.
    fn fixtures_loadable(outcome: &Outcome, fixture: &str) -> Result<bool> {
        // Asked the way the kernel tells: without a usermode helper,
        // `request_module()` gives -ENOENT (with one, modprobe exits 1).
        if kmod::request_module(c"test_kmod-no-such-module") == ENOENT.to_errno() {
            ensure!(all_threads(outcome, ENOENT.to_errno()));
            kunit_skip::mark_skipped(fmt!(
                "no userspace modprobe: got -ENOENT as expected, loading {fixture} from {THREADS} threads needs one and the fixtures"
            ));
            return Ok(false);
        }
        if !cfg!(CONFIG_TEST_KMOD_RUST_FIXTURES) {
            ensure!(all_threads(outcome, MODPROBE_FAILED));
            kunit_skip::mark_skipped(fmt!(
                "built without CONFIG_TEST_KMOD_RUST_FIXTURES: modprobe found no fixture (256) as expected, loading {fixture} from {THREADS} threads needs them"
            ));
            return Ok(false);
        }
        Ok(true)
    }

    /// Same-name loads of a module whose init is slow: concurrent
    /// `finit_module()`s of one file wait for the first one's init and share
    /// its result (`idempotent_init_module()`, Linux 6.4), and a modprobe
    /// that comes later finds the module loaded, so every request returns 0
    /// and the run costs the modprobes plus one init, not `THREADS` inits
    /// one after another.
    ///
    /// The bound follows the host's speed (a 2-core TCG guest with KASAN is
    /// slow, slower still when the host is busy) and is measured in the case
    /// itself: the same requests again, now that the module is loaded, take
    /// the modprobes' own time.  The run may take twice that plus one init,
    /// for a host under load, and never more than half of `THREADS` inits
    /// one after another (25 x 2 s), which is what the case must tell apart.
    ///
    /// A fresh load waits for the init, so a run shorter than the init found
    /// the module loaded already (the suite run a second time in one boot):
    /// a SKIP, with the reason.
    #[test]
    fn same_name_slow() -> Result {
        let (outcome, ms) = timed_run(SLOW, THREADS)?;
        if !fixtures_loadable(&outcome, "kmod_fixture_slow")? {
            return Ok(());
        }
        ensure!(all_threads(&outcome, 0));
        if ms < SLOW_INIT_MS {
            kunit_skip::mark_skipped(fmt!(
                "no init ran: the requests took {ms} ms, less than the {SLOW_INIT_MS} ms of kmod_fixture_slow's init, so it was loaded already (modprobe -r it first: a module cannot unload another)"
            ));
            return Ok(());
        }
        let (loaded, modprobes_ms) = timed_run(SLOW, THREADS)?;
        ensure!(all_threads(&loaded, 0));
        let serial_ms = i64::from(THREADS) * SLOW_INIT_MS;
        let bound_ms = (2 * (SLOW_INIT_MS + modprobes_ms)).min(serial_ms / 2);
        pr_info!(
            "test_kmod_races: same_name_slow: {THREADS} requests in {ms} ms (bound {bound_ms} ms = 2 x (init {SLOW_INIT_MS} ms + {modprobes_ms} ms for the same requests once loaded), at most half of {serial_ms} ms)\n"
        );
        ensure!(ms <= bound_ms);
        Ok(())
    }

    /// Same-name loads of a module whose init fails: every request gets
    /// modprobe's failure (256: the concurrent `finit_module()`s share the
    /// first init's -ENODEV, a later one gets -EBUSY or runs the init
    /// again), and the run ends; a request that never returned would hang
    /// the case until KUnit's timeout fails it.
    ///
    /// Nothing is left loaded: had the module stayed in the kernel, live or
    /// in its init, modprobe would find it there and exit 0, so a request
    /// after the run must load it anew and fail again.  The kernel gives a
    /// module no way to look another up by name: this is checked through
    /// the result only.
    ///
    /// That a later load succeeds once the init no longer fails is left to
    /// scenario 2 of kunit/guest/races.sh: `request_module()` passes no
    /// parameters, and only userspace (an options line in /etc/modprobe.d)
    /// can give this fixture `errno=0`.
    #[test]
    fn same_name_failing() -> Result {
        let (outcome, ms) = timed_run(FAIL, THREADS)?;
        if !fixtures_loadable(&outcome, "kmod_fixture_fail")? {
            return Ok(());
        }
        ensure!(all_threads(&outcome, MODPROBE_FAILED));
        let (again, again_ms) = timed_run(FAIL, 1)?;
        pr_info!(
            "test_kmod_races: same_name_failing: {THREADS} requests in {ms} ms, then one more in {again_ms} ms, which got {}\n",
            again.threads[0]
        );
        ensure!(all_threads(&again, MODPROBE_FAILED));
        Ok(())
    }
}
