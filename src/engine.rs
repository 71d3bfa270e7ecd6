// SPDX-License-Identifier: GPL-2.0

//! The stress engine: one run starts N kernel threads at once, each making a
//! single `request_module()` or `get_fs_type()` call, joins every one of them,
//! and sums the results up the way lib/test_kmod.c does.

use crate::ffi;
use kernel::{
    prelude::*,
    str::{CStr, CString},
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

/// `request_module()`'s result when modprobe says "module not found": its exit
/// status 1, as a wait status.
pub(crate) const MODULE_NOT_FOUND: i32 = 256;

/// What each thread of a run calls (`config_test_case`: 1 or 2, as in C).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TestCase {
    /// `request_module(config_test_driver)`.
    Driver = 1,
    /// `get_fs_type(config_test_fs)`.
    FsType = 2,
}

impl TestCase {
    /// Decodes the sysfs value; anything but 1 or 2 is not a test case.
    pub(crate) fn from_u32(value: u32) -> Option<Self> {
        match value {
            1 => Some(Self::Driver),
            2 => Some(Self::FsType),
            _ => None,
        }
    }

    /// The C driver's name for it, as shown in `config`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Driver => "TEST_KMOD_DRIVER",
            Self::FsType => "TEST_KMOD_FS_TYPE",
        }
    }
}

/// One run: what to call, on which name, with how many threads.
pub(crate) struct Plan<'a> {
    pub(crate) case: TestCase,
    pub(crate) name: &'a CStr,
    pub(crate) threads: u32,
    /// Test hook: behave as if starting thread number N failed with -ENOMEM,
    /// to exercise the clean-up path (which deadlocks in the C driver).
    pub(crate) fail_spawn_at: Option<u32>,
    /// Test hook: let at most this many threads be alive at once, as if
    /// memory allowed no more (see [`thread_window`]).
    pub(crate) max_window: Option<u32>,
}

impl<'a> Plan<'a> {
    pub(crate) fn new(case: TestCase, name: &'a CStr, threads: u32) -> Self {
        Self {
            case,
            name,
            threads,
            fail_spawn_at: None,
            max_window: None,
        }
    }
}

/// What a run observed.
pub(crate) struct Outcome {
    /// The return of each thread that was started, in thread order:
    /// `request_module()`'s value, or for a file system 0 when found and
    /// -EINVAL when not (the C driver's `tally_work_test()`).
    pub(crate) threads: KVVec<i32>,
    /// Why thread number `threads.len()` could not be started, if one could
    /// not.  The threads before it ran to the end and were joined.
    pub(crate) spawn_error: Option<Error>,
    /// The most threads that were alive at the same time.
    pub(crate) peak_alive: u32,
}

impl Outcome {
    /// The run's result as `test_result` shows it: the last non-zero thread
    /// return (C's "only capture errors, if one is found that's enough"), or
    /// the error that stopped the run from starting all its threads.
    pub(crate) fn result(&self) -> Result<i32> {
        match self.spawn_error {
            Some(e) => Err(e),
            None => Ok(aggregate(&self.threads)),
        }
    }
}

/// C's `tally_up_work()`: the last non-zero value wins, 0 if there is none.
pub(crate) fn aggregate(returns: &[i32]) -> i32 {
    returns.iter().rev().copied().find(|&r| r != 0).unwrap_or(0)
}

/// The kernel's `MAX_KMOD_CONCURRENT`: at most this many modprobe helpers
/// run at once; further `request_module()` calls wait for a slot.
pub(crate) const MAX_KMOD_CONCURRENT: usize = 50;
/// What one live thread costs at most: its kernel stack (16 KiB on x86_64,
/// twice that with KASAN), its task and our handle.
const THREAD_COST: usize = 32 << 10;
/// What one thread costs for the whole run: its result slot, and its copy
/// in the [`Outcome`].
const RESULT_COST: usize = 2 * size_of::<i32>();
/// What one running modprobe helper costs at most: the usermode-helper
/// process and its kernel side.  Measured with kunit/bench: 200 threads
/// calling request_module() (50 helpers at a time) took at most 15 MiB of
/// MemAvailable, threads included, so 1 MiB per helper leaves a margin of
/// three.  Concurrent loads of the same module no longer each copy its
/// image: since 6.6 `finit_module()` lets only one of them read the file
/// (`idempotent()` in kernel/module/main.c).
const MODPROBE_COST: usize = 1 << 20;

/// The memory a run of `threads` threads takes at its peak if all of them
/// are alive at once, with or without a userspace modprobe behind
/// `request_module()`.
pub(crate) fn run_cost(threads: u32, modprobe: bool) -> usize {
    fixed_cost(threads, modprobe).saturating_add((threads as usize).saturating_mul(THREAD_COST))
}

/// The part of [`run_cost`] that does not depend on how many threads are
/// alive at once: the results and the modprobe helpers.
fn fixed_cost(threads: u32, modprobe: bool) -> usize {
    let threads = threads as usize;
    let helpers = if modprobe {
        threads.min(MAX_KMOD_CONCURRENT)
    } else {
        0
    };
    threads
        .saturating_mul(RESULT_COST)
        .saturating_add(helpers * MODPROBE_COST)
}

/// How many threads of a run may be alive at once so that the run takes at
/// most half of `available` bytes: all of them when that fits (kmod.sh's
/// runs always do), fewer when it does not, in which case the run is
/// throttled (a new thread starts when the oldest one has ended) and says
/// so in the kernel log.  -ENOMEM, also logged, when not even one thread
/// fits.  The C driver has no such check.
pub(crate) fn thread_window(threads: u32, modprobe: bool, available: usize) -> Result<u32> {
    let limit = available / 2;
    let fixed = fixed_cost(threads, modprobe);
    let room = limit.saturating_sub(fixed) / THREAD_COST;
    if room == 0 {
        pr_warn!(
            "refusing a run of {threads} threads: even one at a time it needs {} MiB, only {} MiB are available\n",
            (fixed + THREAD_COST) >> 20,
            available >> 20
        );
        return Err(ENOMEM);
    }
    let window = u32::try_from(room).unwrap_or(u32::MAX).min(threads);
    if window < threads {
        pr_info!(
            "throttling a run of {threads} threads to {window} at a time: all at once they would need {} MiB, only {} MiB are available\n",
            run_cost(threads, modprobe) >> 20,
            available >> 20
        );
    }
    Ok(window)
}

/// Marks a thread slot that no thread wrote (cannot be a real return value).
const NOT_RUN: i32 = i32::MIN;

/// What all threads of a run share; every thread writes only its own slot.
struct Shared {
    case: TestCase,
    name: CString,
    returns: KVVec<Atomic<i32>>,
    /// Threads running their call now, and the most there ever were.
    alive: Atomic<u32>,
    peak: Atomic<u32>,
}

impl Shared {
    fn run_thread(&self, index: usize) {
        let now = self.alive.fetch_add(1, Relaxed) + 1;
        let mut peak = self.peak.load(Relaxed);
        while now > peak {
            match self.peak.cmpxchg(peak, now, Relaxed) {
                Ok(_) => break,
                Err(seen) => peak = seen,
            }
        }
        let ret = match self.case {
            TestCase::Driver => ffi::request_module(&self.name),
            // Like C, the module reference is dropped at once: the run only
            // asks whether the file system could be had.
            TestCase::FsType => match ffi::FsType::get(&self.name) {
                Some(_fs) => 0,
                None => EINVAL.to_errno(),
            },
        };
        self.returns[index].store(ret, Relaxed);
        self.alive.fetch_sub(1, Relaxed);
    }
}

/// Runs `plan`: starts its threads one after the other, then waits for all.
/// When memory allows fewer threads at once than the plan has (see
/// [`thread_window`]), a new thread is started only once the oldest running
/// one was joined.
///
/// Fails when the run cannot be set up: no threads (-EINVAL), or not enough
/// memory even for one thread at a time (-ENOMEM); a thread that cannot be
/// started ends the run early with [`Outcome::spawn_error`] set, after the
/// threads already started are joined.
pub(crate) fn run(plan: &Plan<'_>) -> Result<Outcome> {
    if plan.threads == 0 {
        return Err(EINVAL);
    }
    let mut window = thread_window(
        plan.threads,
        ffi::modprobe_available(),
        ffi::available_memory(),
    )?;
    if let Some(max) = plan.max_window {
        window = window.min(max.max(1));
    }
    let count = plan.threads as usize;
    let mut returns = KVVec::with_capacity(count, GFP_KERNEL)?;
    for _ in 0..count {
        returns.push(Atomic::new(NOT_RUN), GFP_KERNEL)?;
    }
    let shared = Arc::new(
        Shared {
            case: plan.case,
            name: CString::try_from(plan.name)?,
            returns,
            alive: Atomic::new(0),
            peak: Atomic::new(0),
        },
        GFP_KERNEL,
    )?;

    // The threads not joined yet are `oldest..started`; thread `i` lives in
    // slot `i % window` and is joined before thread `i + window` starts.  In
    // a throttled run a thread is also joined as soon as it has made its
    // call (a finished thread pins its task until joined); a run that fits
    // starts all its threads first and joins them afterwards, as joining in
    // between would delay the next start.
    let mut ring: KVVec<Option<ffi::KThread>> = KVVec::with_capacity(window as usize, GFP_KERNEL)?;
    for _ in 0..window {
        ring.push(None, GFP_KERNEL)?;
    }
    let throttled = window < plan.threads;
    let window = window as usize;
    let mut spawn_error = None;
    let mut oldest = 0;
    let mut started: usize = 0;
    for index in 0..plan.threads {
        let must_join = started.saturating_sub(window - 1);
        while oldest < started
            && (oldest < must_join
                || (throttled && shared.returns[oldest].load(Relaxed) != NOT_RUN))
        {
            if let Some(thread) = ring[oldest % window].take() {
                thread.join();
            }
            oldest += 1;
        }
        let thread = if plan.fail_spawn_at == Some(index) {
            Err(ENOMEM)
        } else {
            let shared = shared.clone();
            ffi::spawn(index, move || shared.run_thread(index as usize))
        };
        match thread {
            Ok(thread) => ring[started % window] = Some(thread),
            Err(e) => {
                pr_err!("starting thread {index} failed ({e:?}), stopping the run\n");
                spawn_error = Some(e);
                break;
            }
        }
        started += 1;
    }
    // Every started thread runs to the end and exits before we go on.
    for thread in ring.drain_all().flatten() {
        thread.join();
    }

    let mut outcome = KVVec::with_capacity(started, GFP_KERNEL)?;
    for slot in &shared.returns[..started] {
        let ret = slot.load(Relaxed);
        // A joined thread has always written its slot.
        debug_assert!(ret != NOT_RUN);
        outcome.push(ret, GFP_KERNEL)?;
    }
    Ok(Outcome {
        threads: outcome,
        spawn_error,
        peak_alive: shared.peak.load(Relaxed),
    })
}
