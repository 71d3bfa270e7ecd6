// SPDX-License-Identifier: GPL-2.0

//! The stress engine: one run starts N kernel threads at once, each making a
//! single `request_module()` or `get_fs_type()` call, joins every one of them,
//! and sums the results up the way lib/test_kmod.c does.
//!
//! Before a run starts its threads it reserves the memory it can take at its
//! peak from a [`Budget`] that every run of the module shares: half of
//! `MemAvailable` when the run starts, less what the runs going on reserved.
//! A run that does not fit is throttled (fewer threads alive at once), or
//! refused with -ENOMEM when not even one thread fits.

use crate::abstractions::{
    fs_type::FileSystemType,
    kmod::{
        self,
        MAX_KMOD_CONCURRENT, //
    },
    kthread::{
        self,
        KThread, //
    },
    meminfo, //
};
use kernel::{
    prelude::*,
    str::CString,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc, //
    },
};

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

    /// Makes the call once: `request_module()`'s value, or for a file
    /// system 0 when found and -EINVAL when not (the C driver's
    /// `tally_work_test()`).
    fn call(self, name: &CStr) -> i32 {
        match self {
            Self::Driver => kmod::request_module(name),
            // Like C, the module reference is dropped at once: the run only
            // asks whether the file system could be had.
            Self::FsType => match FileSystemType::get(name) {
                Some(_fs) => 0,
                None => EINVAL.to_errno(),
            },
        }
    }
}

/// One run: what to call, on which name, with how many threads.
pub(crate) struct Plan<'a> {
    pub(crate) case: TestCase,
    pub(crate) name: &'a CStr,
    pub(crate) threads: u32,
}

/// What a run observed.
pub(crate) struct Outcome {
    /// The return of each thread that was started, in thread order (see
    /// [`TestCase`]).
    pub(crate) threads: KVVec<i32>,
    /// Why thread number `threads.len()` could not be started, if one could
    /// not.  The threads before it ran to the end and were joined.
    pub(crate) spawn_error: Option<Error>,
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

/// Starts the threads of a run.  Production runs use [`KThreads`]; the KUnit
/// suite counts and fails starts with a spawner of its own.
pub(crate) trait Spawner {
    /// A started thread; dropping it waits until it has run and exited.
    type Thread;

    /// Starts thread number `index` of a run, running `work`.
    fn spawn(&self, index: u32, work: impl FnOnce() + Send + 'static) -> Result<Self::Thread>;
}

/// Kernel threads named `test_kmod-<index>`, as in C.
pub(crate) struct KThreads;

impl Spawner for KThreads {
    type Thread = KThread;

    fn spawn(&self, index: u32, work: impl FnOnce() + Send + 'static) -> Result<KThread> {
        kthread::spawn(fmt!("test_kmod-{index}"), work)
    }
}

/// What one live thread costs at most: its kernel stack (`THREAD_SIZE`:
/// 16 KiB on x86_64, 32 KiB with KASAN), its `task_struct`, and 8 KiB for
/// the rest (the architecture's register state, the kthread bookkeeping,
/// the pid, our handle and completion).
pub(crate) const THREAD_COST: usize = meminfo::THREAD_SIZE + meminfo::TASK_STRUCT_SIZE + (8 << 10);
/// What one thread costs for the whole run: its result slot, and its copy
/// in the [`Outcome`].
const RESULT_COST: usize = 2 * size_of::<i32>();
/// What one running modprobe helper costs at most: the usermode-helper
/// process and its kernel side.  Measured with kunit/bench: 200 threads
/// calling request_module() (50 helpers at a time) took at most 15 MiB of
/// `MemAvailable`, threads included, so 1 MiB per helper leaves a margin of
/// three.  Concurrent loads of the same module do not each copy its image:
/// `finit_module()` lets only one of them read the file.
const MODPROBE_COST: usize = 1 << 20;

/// The memory a run of `threads` threads takes at its peak if all of them
/// are alive at once, when it is the only run.
pub(crate) fn run_cost(threads: u32) -> usize {
    helpers_cost(threads as usize)
        .saturating_add((threads as usize).saturating_mul(RESULT_COST + THREAD_COST))
}

/// What the modprobe helpers of runs with `threads` threads in all can take:
/// both test cases may run helpers (`get_fs_type()` asks for module
/// `fs-<name>`), and at most `MAX_KMOD_CONCURRENT` run at once, whoever
/// asked.  An upper bound, whether a modprobe is installed or not.
fn helpers_cost(threads: usize) -> usize {
    threads.min(MAX_KMOD_CONCURRENT) * MODPROBE_COST
}

/// The memory that the runs of the module may take together: half of
/// `MemAvailable` when a run starts (or a fixed amount, for tests), of which
/// each run reserves what it can take at its peak until it ends.  The
/// modprobe helpers are counted once for all runs, as the kernel runs at
/// most `MAX_KMOD_CONCURRENT` of them in all.
///
/// Lock-free, so that it can be a `static` shared by every device: helper
/// slots are claimed first, then the bytes with a compare-and-exchange
/// loop, so that concurrent reservations can only over-count, never
/// over-commit.
pub(crate) struct Budget {
    /// Bytes reserved for the results and the live threads of the runs
    /// going on.
    bytes: Atomic<usize>,
    /// Helper slots the runs going on may use: each claims as many as it
    /// has threads, at most `MAX_KMOD_CONCURRENT`.
    helpers: Atomic<usize>,
    /// A fixed total instead of half of `MemAvailable`.
    fixed: Option<usize>,
}

impl Budget {
    /// A budget of half of `MemAvailable` when a run starts.
    pub(crate) const fn available() -> Self {
        Self {
            bytes: Atomic::new(0),
            helpers: Atomic::new(0),
            fixed: None,
        }
    }

    /// A budget of `bytes` in all, whatever memory the machine has.
    pub(crate) const fn fixed(bytes: usize) -> Self {
        Self {
            bytes: Atomic::new(0),
            helpers: Atomic::new(0),
            fixed: Some(bytes),
        }
    }

    /// Bytes reserved by the runs going on.
    pub(crate) fn reserved(&self) -> usize {
        self.bytes
            .load(Relaxed)
            .saturating_add(helpers_cost(self.helpers.load(Relaxed)))
    }

    /// Reserves room for a run of `threads` threads: all of them alive at
    /// once when that fits what the budget has left (kmod.sh's runs always
    /// do), fewer when it does not, in which case the run is throttled (a
    /// new thread starts when the oldest has ended) and says so in the
    /// kernel log.  -ENOMEM, also logged, when not even one thread fits.
    pub(crate) fn reserve(&self, threads: u32) -> Result<Reservation<'_>> {
        let total = self
            .fixed
            .unwrap_or_else(|| meminfo::available_memory() / 2);
        let results = (threads as usize).saturating_mul(RESULT_COST);
        let slots = (threads as usize).min(MAX_KMOD_CONCURRENT);
        let helpers = helpers_cost(self.helpers.fetch_add(slots, Relaxed) + slots);
        let mut bytes = self.bytes.load(Relaxed);
        loop {
            let free = total.saturating_sub(bytes.saturating_add(helpers));
            let room = free.saturating_sub(results) / THREAD_COST;
            if room == 0 {
                self.helpers.fetch_sub(slots, Relaxed);
                pr_warn!(
                    "refusing a run of {threads} threads: even one at a time it needs {} MiB, the budget (half of MemAvailable, less the runs going on) has {} MiB left\n",
                    helpers_cost(slots)
                        .saturating_add(results)
                        .saturating_add(THREAD_COST)
                        >> 20,
                    free >> 20
                );
                return Err(ENOMEM);
            }
            let window = u32::try_from(room).unwrap_or(u32::MAX).min(threads);
            let mine = results + window as usize * THREAD_COST;
            match self.bytes.cmpxchg(bytes, bytes + mine, Relaxed) {
                Ok(_) => {
                    if window < threads {
                        pr_info!(
                            "throttling a run of {threads} threads to {window} at a time: all at once they would need {} MiB, the budget (half of MemAvailable, less the runs going on) has {} MiB left\n",
                            run_cost(threads) >> 20,
                            free >> 20
                        );
                    }
                    return Ok(Reservation {
                        budget: self,
                        bytes: mine,
                        slots,
                        window,
                    });
                }
                Err(seen) => bytes = seen,
            }
        }
    }
}

/// Memory a run reserved from a [`Budget`], given back when dropped.
pub(crate) struct Reservation<'a> {
    budget: &'a Budget,
    bytes: usize,
    slots: usize,
    /// How many threads of the run may be alive at once.
    pub(crate) window: u32,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.budget.bytes.fetch_sub(self.bytes, Relaxed);
        self.budget.helpers.fetch_sub(self.slots, Relaxed);
    }
}

/// Marks a thread slot that no thread wrote (cannot be a real return value).
const NOT_RUN: i32 = i32::MIN;

/// What all threads of a run share; every thread writes only its own slot.
struct Shared {
    case: TestCase,
    name: CString,
    returns: KVVec<Atomic<i32>>,
}

/// Runs `plan` with the threads of `spawner`, within `budget`: starts the
/// threads one after the other, then waits for all.  When the budget allows
/// fewer threads at once than the plan has, a new thread is started only
/// once the oldest running one was joined.
///
/// Fails when the run cannot be set up: no threads (-EINVAL), or not enough
/// memory even for one thread at a time (-ENOMEM); a thread that cannot be
/// started ends the run early with [`Outcome::spawn_error`] set, after the
/// threads already started are joined.
pub(crate) fn run(plan: &Plan<'_>, budget: &Budget, spawner: &impl Spawner) -> Result<Outcome> {
    if plan.threads == 0 {
        return Err(EINVAL);
    }
    let reservation = budget.reserve(plan.threads)?;
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
        },
        GFP_KERNEL,
    )?;

    // The threads not joined yet are `oldest..started`; thread `i` lives in
    // slot `i % window` and is joined before thread `i + window` starts.  In
    // a throttled run a thread is also joined as soon as it has made its
    // call (a finished thread pins its task until joined); a run that fits
    // starts all its threads first and joins them afterwards, as joining in
    // between would delay the next start.
    let throttled = reservation.window < plan.threads;
    let window = reservation.window as usize;
    let mut ring = KVVec::with_capacity(window, GFP_KERNEL)?;
    for _ in 0..window {
        ring.push(None, GFP_KERNEL)?;
    }
    let mut spawn_error = None;
    let mut oldest = 0;
    let mut started: usize = 0;
    for index in 0..plan.threads {
        let must_join = started.saturating_sub(window - 1);
        while oldest < started
            && (oldest < must_join
                || (throttled && shared.returns[oldest].load(Relaxed) != NOT_RUN))
        {
            drop(ring[oldest % window].take());
            oldest += 1;
        }
        let run = shared.clone();
        let thread = spawner.spawn(index, move || {
            let ret = run.case.call(&run.name);
            run.returns[index as usize].store(ret, Relaxed);
        });
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
    drop(ring);
    drop(reservation);

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
    })
}
