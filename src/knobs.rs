// SPDX-License-Identifier: GPL-2.0

//! The sysfs knobs of a test device (`test_kmod0`), with the C driver's
//! names, modes and semantics, so that tools/testing/selftests/kmod/kmod.sh
//! drives this driver unmodified.  Triggers run on the same engine as the
//! KUnit suite.
//!
//! Where the C driver misbehaves this one is cleaner, on purpose:
//! - `config_num_threads` 0 (or more than [`MAX_THREADS`]) is -EINVAL without
//!   the allocation warning C prints, and a run the machine cannot hold all
//!   at once is throttled when triggered instead of running it out of memory;
//! - a rejected write leaves the configuration exactly as it was (C frees the
//!   old string before it knows the new one can be copied);
//! - knob reads do not wait for a running trigger (C holds its config mutex
//!   for the whole run); writes during a run apply to the next one.

use crate::{
    abstractions::{cbuf::CBuf, kstrtox, misc_attrs::attribute_list},
    engine::{
        self,
        Budget,
        KThreads,
        Plan,
        TestCase, //
    },
    params,
};
use core::fmt::Write;
use kernel::{
    new_mutex,
    prelude::*,
    str::{
        BStr,
        CString, //
    },
    sync::Mutex,
};

/// The C driver's `TEST_START_NUM_THREADS`: kmod's limit on concurrent
/// modprobes.
pub(crate) const DEFAULT_THREADS: u32 = 50;
/// The C driver's `TEST_START_DRIVER`.
const DEFAULT_DRIVER: &CStr = c"test_module";
/// The most threads one trigger may be configured for: the kernel's
/// `PID_MAX_LIMIT` on 64-bit (4 Mi), beyond which the threads could never
/// all exist.  C has no bound but its allocation failing.  Whether a count
/// below it fits *this* machine is decided when the run starts, by the
/// engine's memory budget, which throttles the run (or refuses it with
/// -ENOMEM) instead of exhausting memory.
pub(crate) const MAX_THREADS: u32 = 1 << 22;

/// A module or file system name as userspace wrote it: the bytes up to the
/// first NUL, kept verbatim (a trailing newline included), as C's
/// `kstrndup()`.
fn name_from(input: &[u8]) -> Result<CString> {
    let len = input.iter().position(|&b| b == 0).unwrap_or(input.len());
    let mut bytes = KVec::with_capacity(len + 1, GFP_KERNEL)?;
    bytes.extend_from_slice(&input[..len], GFP_KERNEL)?;
    bytes.push(0, GFP_KERNEL)?;
    let name = CStr::from_bytes_with_nul(&bytes).map_err(|_| EINVAL)?;
    Ok(CString::try_from(name)?)
}

/// `kstrtouint(input, 10)`, as the C driver parses its unsigned knobs.
pub(crate) fn parse_u32(input: &[u8]) -> Result<u32> {
    kstrtox::kstrtouint_bytes(input, 10)
}

/// `kstrtoint(input, 10)`, as the C driver parses `test_result`.
pub(crate) fn parse_i32(input: &[u8]) -> Result<i32> {
    kstrtox::kstrtoint_bytes(input, 10)
}

/// `struct test_config` of the C driver.
struct Config {
    driver: Option<CString>,
    fs: Option<CString>,
    num_threads: u32,
    test_case: TestCase,
    test_result: i32,
    /// C's `test_is_oom`: a run could not start all its threads; triggers
    /// fail with -ENOMEM until `reset` (or a start scenario) clears it.
    oom: bool,
}

impl Config {
    /// The state after loading or `reset`: the module parameters, or C's
    /// defaults, and the device's thread count.
    fn initial(threads: u32) -> Result<Self> {
        let driver = params::start_driver().unwrap_or(DEFAULT_DRIVER);
        Ok(Self {
            driver: Some(CString::try_from(driver)?),
            fs: params::start_test_fs().map(CString::try_from).transpose()?,
            num_threads: threads,
            test_case: TestCase::Driver,
            test_result: 0,
            oom: false,
        })
    }
}

attribute_list! {
    /// The files of a test device, in the order of the C driver's
    /// `test_dev_attrs`.
    pub(crate) static KNOBS: AttributeGroups<Knobs> = [
        DeviceAttribute::new::<0o200>(c"trigger_config", None, Some(Knobs::trigger_config)),
        DeviceAttribute::new::<0o444>(c"config", Some(Knobs::config), None),
        DeviceAttribute::new::<0o200>(c"reset", None, Some(Knobs::reset)),
        DeviceAttribute::new::<0o644>(
            c"config_test_driver",
            Some(Knobs::show_driver),
            Some(Knobs::store_driver),
        ),
        DeviceAttribute::new::<0o644>(c"config_test_fs", Some(Knobs::show_fs), Some(Knobs::store_fs)),
        DeviceAttribute::new::<0o644>(
            c"config_num_threads",
            Some(Knobs::show_num_threads),
            Some(Knobs::store_num_threads),
        ),
        DeviceAttribute::new::<0o644>(
            c"config_test_case",
            Some(Knobs::show_test_case),
            Some(Knobs::store_test_case),
        ),
        DeviceAttribute::new::<0o644>(
            c"test_result",
            Some(Knobs::show_test_result),
            Some(Knobs::store_test_result),
        ),
    ];
}

/// The state behind a test device's files: its configuration and result,
/// and its trigger lock.
#[pin_data]
pub(crate) struct Knobs {
    /// The device's name, as `config` shows it.
    name: CString,
    /// `config_num_threads` after `reset`.
    reset_threads: u32,
    #[pin]
    config: Mutex<Config>,
    /// Held for a whole trigger or reset: one run at a time, as C's
    /// `trigger_mutex`.  Taken before `config`, never after.  True once the
    /// device is closed: no trigger starts any more.
    #[pin]
    running: Mutex<bool>,
    /// Where the runs of every device draw their memory from.
    budget: &'static Budget,
}

impl Knobs {
    /// The state of device `name` after loading: `reset_threads` threads
    /// per run, drawing on `budget`.
    pub(crate) fn new(
        name: CString,
        reset_threads: u32,
        budget: &'static Budget,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            config <- new_mutex!(Config::initial(reset_threads)?),
            name,
            reset_threads,
            running <- new_mutex!(false),
            budget,
        })
    }

    /// Closes the device once its trigger, if one runs, has ended: later
    /// triggers fail with -ENODEV.
    pub(crate) fn close(&self) {
        *self.running.lock() = true;
    }

    /// Closes the device unless a trigger runs (-EBUSY).
    pub(crate) fn try_close(&self) -> Result {
        *self.running.try_lock().ok_or(EBUSY)? = true;
        Ok(())
    }

    /// Runs the configured test and stores its result in `test_result`.
    /// Fails when the run cannot be set up (C's errors: -EINVAL for a file
    /// system test without a file system, -ENOMEM after a thread could not
    /// be started).
    pub(crate) fn trigger(&self) -> Result {
        let closed = self.running.lock();
        if *closed {
            return Err(ENODEV);
        }
        let (case, name, threads) = {
            let config = self.config.lock();
            if config.oom {
                return Err(ENOMEM);
            }
            let name = match config.test_case {
                TestCase::Driver => config.driver.as_deref(),
                TestCase::FsType => config.fs.as_deref(),
            };
            // C: "No fs type specified, can't run the test".  A driver name
            // is only missing after a failed reset; C would then pass NULL.
            let Some(name) = name else {
                return Err(EINVAL);
            };
            (
                config.test_case,
                CString::try_from(name)?,
                config.num_threads,
            )
        };
        pr_info!(
            "{}: test case {} ({}), {} threads on \"{}\"\n",
            &*self.name,
            case.name(),
            case as u32,
            threads,
            BStr::from_bytes(name.to_bytes())
        );
        let plan = Plan {
            case,
            name: &name,
            threads,
        };
        let outcome = engine::run(&plan, self.budget, &KThreads)?;
        let result = outcome.result();
        let mut config = self.config.lock();
        match result {
            Ok(value) => {
                pr_info!("{}: General test result: {value}\n", &*self.name);
                config.test_result = value;
                Ok(())
            }
            Err(e) => {
                config.oom = true;
                Err(e)
            }
        }
    }

    /// C's `trigger_config_run_type()`, used by `force_init_test`: runs
    /// `case` on the configured name; a file system run without a file
    /// system is skipped (returns `Ok(None)`), as in C.
    pub(crate) fn trigger_case(&self, case: TestCase) -> Result<Option<i32>> {
        {
            let mut config = self.config.lock();
            if case == TestCase::FsType && config.fs.is_none() {
                return Ok(None);
            }
            config.test_case = case;
            config.oom = false;
        }
        self.trigger()?;
        Ok(Some(self.config.lock().test_result))
    }

    /// `trigger_config`: what was written does not matter, only that it was.
    pub(crate) fn trigger_config(&self, _input: &[u8]) -> Result {
        self.trigger()
    }

    /// `reset`: back to the state after loading.
    pub(crate) fn reset(&self, _input: &[u8]) -> Result {
        let _running = self.running.lock();
        let fresh = Config::initial(self.reset_threads)?;
        *self.config.lock() = fresh;
        pr_info!("{}: reset\n", &*self.name);
        Ok(())
    }

    /// `config`: the whole configuration, as C prints it.
    pub(crate) fn config(&self, out: &mut CBuf<'_>) -> Result {
        let config = self.config.lock();
        out.write_bytes(b"Custom trigger configuration for: ");
        out.write_bytes(self.name.to_bytes());
        write!(
            out,
            "\nNumber of threads:\t{}\nTest_case:\t{} ({})\n",
            config.num_threads,
            config.test_case.name(),
            config.test_case as u32
        )?;
        for (label, name) in [("driver", &config.driver), ("fs", &config.fs)] {
            write!(out, "{label}:\t")?;
            match name {
                Some(name) => out.write_bytes(name.to_bytes()),
                None => out.write_bytes(b"EMPTY"),
            }
            out.write_bytes(b"\n");
        }
        Ok(())
    }

    pub(crate) fn show_driver(&self, out: &mut CBuf<'_>) -> Result {
        show_name(out, &self.config.lock().driver);
        Ok(())
    }

    pub(crate) fn store_driver(&self, input: &[u8]) -> Result {
        let name = name_from(input)?;
        self.config.lock().driver = Some(name);
        Ok(())
    }

    pub(crate) fn show_fs(&self, out: &mut CBuf<'_>) -> Result {
        show_name(out, &self.config.lock().fs);
        Ok(())
    }

    pub(crate) fn store_fs(&self, input: &[u8]) -> Result {
        let name = name_from(input)?;
        self.config.lock().fs = Some(name);
        Ok(())
    }

    pub(crate) fn show_num_threads(&self, out: &mut CBuf<'_>) -> Result {
        // C prints it with "%d".
        writeln!(out, "{}", self.config.lock().num_threads as i32)?;
        Ok(())
    }

    pub(crate) fn store_num_threads(&self, input: &[u8]) -> Result {
        let threads = parse_u32(input)?;
        if threads == 0 || threads > MAX_THREADS {
            return Err(EINVAL);
        }
        self.config.lock().num_threads = threads;
        Ok(())
    }

    pub(crate) fn show_test_case(&self, out: &mut CBuf<'_>) -> Result {
        writeln!(out, "{}", self.config.lock().test_case as u32)?;
        Ok(())
    }

    pub(crate) fn store_test_case(&self, input: &[u8]) -> Result {
        let case = TestCase::from_u32(parse_u32(input)?).ok_or(EINVAL)?;
        self.config.lock().test_case = case;
        Ok(())
    }

    pub(crate) fn show_test_result(&self, out: &mut CBuf<'_>) -> Result {
        writeln!(out, "{}", self.config.lock().test_result)?;
        Ok(())
    }

    pub(crate) fn store_test_result(&self, input: &[u8]) -> Result {
        let value = parse_i32(input)?;
        self.config.lock().test_result = value;
        Ok(())
    }
}

/// Shows a name as C's `"%s\n"` does, `(null)` when unset.
fn show_name(out: &mut CBuf<'_>, name: &Option<CString>) {
    match name {
        Some(name) => out.write_bytes(name.to_bytes()),
        None => out.write_bytes(b"(null)"),
    }
    out.write_bytes(b"\n");
}
