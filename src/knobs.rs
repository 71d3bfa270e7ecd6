// SPDX-License-Identifier: GPL-2.0

//! The sysfs knobs of misc device `test_kmod0`, with the C driver's names,
//! modes and semantics, so that tools/testing/selftests/kmod/kmod.sh drives
//! this driver unmodified.  Triggers run on the same engine as the KUnit suite.
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
    engine::{self, Plan, TestCase},
    params,
    sysfs::{knob_group, Knobs, Page},
};
use core::fmt::Write;
use kernel::{
    alloc::KVec,
    new_mutex,
    prelude::*,
    str::{BStr, CStr},
    sync::Mutex,
};

/// The C driver's `TEST_START_NUM_THREADS`: kmod's limit on concurrent modprobes.
pub(crate) const DEFAULT_THREADS: u32 = 50;
/// The C driver's `TEST_START_DRIVER`.
const DEFAULT_DRIVER: &CStr = c"test_module";
/// The most threads one trigger may be configured for: the kernel's
/// `PID_MAX_LIMIT` on 64-bit (4 Mi), beyond which the threads could never
/// all exist.  C has no bound but its allocation failing.  Whether a count
/// below it fits *this* machine is decided when the run starts, by the
/// engine's memory check (`engine::thread_window`), which throttles the run
/// (or refuses it with -ENOMEM) instead of exhausting memory.
pub(crate) const MAX_THREADS: u32 = 1 << 22;

/// The device's name: kmod.sh looks for /sys/devices/virtual/misc/test_kmod0.
pub(crate) const DEVICE_NAME: &CStr = c"test_kmod0";

/// A module or file system name as userspace wrote it: the bytes up to the
/// first NUL, kept verbatim (a trailing newline included), as C's kstrndup().
struct Name(KVec<u8>);

impl Name {
    fn new(bytes: &[u8]) -> Result<Self> {
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let mut v = KVec::with_capacity(len + 1, GFP_KERNEL)?;
        v.extend_from_slice(&bytes[..len], GFP_KERNEL)?;
        v.push(0, GFP_KERNEL)?;
        Ok(Self(v))
    }

    fn as_cstr(&self) -> &CStr {
        // `new` ends the bytes with their only NUL, so this cannot fail.
        CStr::from_bytes_until_nul(&self.0).unwrap_or(c"")
    }

    fn as_bytes(&self) -> &[u8] {
        &self.0[..self.0.len() - 1]
    }
}

/// `struct test_config` of the C driver.
struct Config {
    driver: Option<Name>,
    fs: Option<Name>,
    num_threads: u32,
    test_case: TestCase,
    test_result: i32,
    /// C's `test_is_oom`: a run could not start all its threads; triggers
    /// fail with -ENOMEM until `reset` (or a start scenario) clears it.
    oom: bool,
}

impl Config {
    /// The state after loading or `reset`: the module parameters, or C's
    /// defaults.
    fn initial() -> Result<Self> {
        let driver = params::start_driver().unwrap_or(DEFAULT_DRIVER);
        Ok(Self {
            driver: Some(Name::new(driver.to_bytes())?),
            fs: params::start_test_fs()
                .map(|fs| Name::new(fs.to_bytes()))
                .transpose()?,
            num_threads: params::start_num_threads(),
            test_case: TestCase::Driver,
            test_result: 0,
            oom: false,
        })
    }
}

/// The files, in the order of the C driver's `test_dev_attrs`.
pub(crate) mod knob {
    pub(crate) const TRIGGER_CONFIG: usize = 0;
    pub(crate) const CONFIG: usize = 1;
    pub(crate) const RESET: usize = 2;
    pub(crate) const CONFIG_TEST_DRIVER: usize = 3;
    pub(crate) const CONFIG_TEST_FS: usize = 4;
    pub(crate) const CONFIG_NUM_THREADS: usize = 5;
    pub(crate) const CONFIG_TEST_CASE: usize = 6;
    pub(crate) const TEST_RESULT: usize = 7;
}

knob_group!(GROUPS: TestKmodKnobs = [
    (0, c"trigger_config", 0o200),
    (1, c"config", 0o444),
    (2, c"reset", 0o200),
    (3, c"config_test_driver", 0o644),
    (4, c"config_test_fs", 0o644),
    (5, c"config_num_threads", 0o644),
    (6, c"config_test_case", 0o644),
    (7, c"test_result", 0o644),
]);

/// The attribute groups of `test_kmod0`, for [`crate::sysfs::Registration`].
pub(crate) fn groups() -> &'static crate::sysfs::PtrArray<kernel::bindings::attribute_group, 2> {
    &GROUPS
}

/// The state behind `test_kmod0`'s files.
#[pin_data]
pub(crate) struct TestKmodKnobs {
    #[pin]
    config: Mutex<Config>,
    /// Held for a whole trigger or reset: one run at a time, as C's
    /// `trigger_mutex`.  Taken before `config`, never after.
    #[pin]
    running: Mutex<()>,
}

impl TestKmodKnobs {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            config <- new_mutex!(Config::initial()?),
            running <- new_mutex!(()),
        })
    }

    /// `trigger_config`: runs the configured test and stores its result in
    /// `test_result`.  Fails when the run cannot be set up (C's errors:
    /// -EINVAL for a file system test without a file system, -ENOMEM after a
    /// thread could not be started).
    pub(crate) fn trigger(&self) -> Result {
        let _running = self.running.lock();
        let (case, name, threads) = {
            let config = self.config.lock();
            if config.oom {
                return Err(ENOMEM);
            }
            let name = match config.test_case {
                TestCase::Driver => config.driver.as_ref(),
                TestCase::FsType => config.fs.as_ref(),
            };
            // C: "No fs type specified, can't run the test".  A driver name
            // is only missing after a failed reset; C would then pass NULL.
            let Some(name) = name else {
                return Err(EINVAL);
            };
            (
                config.test_case,
                Name::new(name.as_bytes())?,
                config.num_threads,
            )
        };
        pr_info!(
            "{}: test case {} ({}), {} threads on \"{}\"\n",
            DEVICE_NAME.to_str().unwrap_or("test_kmod0"),
            case.name(),
            case as u32,
            threads,
            BStr::from_bytes(name.as_bytes())
        );
        let outcome = engine::run(&Plan::new(case, name.as_cstr(), threads))?;
        let result = outcome.result();
        let mut config = self.config.lock();
        match result {
            Ok(value) => {
                pr_info!("General test result: {value}\n");
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

    /// `reset`: back to the state after loading.
    fn reset(&self) -> Result {
        let _running = self.running.lock();
        let fresh = Config::initial()?;
        *self.config.lock() = fresh;
        pr_info!("reset\n");
        Ok(())
    }

    fn show_config(&self, out: &mut Page<'_>) -> Result {
        let config = self.config.lock();
        let _ = write!(
            out,
            "Custom trigger configuration for: {}\nNumber of threads:\t{}\nTest_case:\t{} ({})\n",
            DEVICE_NAME.to_str().unwrap_or("test_kmod0"),
            config.num_threads,
            config.test_case.name(),
            config.test_case as u32
        );
        for (label, name) in [("driver", &config.driver), ("fs", &config.fs)] {
            let _ = write!(out, "{label}:\t");
            match name {
                Some(name) => out.write_bytes(name.as_bytes()),
                None => out.write_bytes(b"EMPTY"),
            }
            out.write_bytes(b"\n");
        }
        Ok(())
    }
}

/// Shows a name as C's `"%s\n"` does, `(null)` when unset.
fn show_name(out: &mut Page<'_>, name: &Option<Name>) {
    match name {
        Some(name) => out.write_bytes(name.as_bytes()),
        None => out.write_bytes(b"(null)"),
    }
    out.write_bytes(b"\n");
}

impl Knobs for TestKmodKnobs {
    fn show(&self, knob: usize, out: &mut Page<'_>) -> Result {
        match knob {
            knob::CONFIG => return self.show_config(out),
            knob::CONFIG_TEST_DRIVER => show_name(out, &self.config.lock().driver),
            knob::CONFIG_TEST_FS => show_name(out, &self.config.lock().fs),
            // C prints it with "%d".
            knob::CONFIG_NUM_THREADS => {
                let _ = writeln!(out, "{}", self.config.lock().num_threads as i32);
            }
            knob::CONFIG_TEST_CASE => {
                let _ = writeln!(out, "{}", self.config.lock().test_case as u32);
            }
            knob::TEST_RESULT => {
                let _ = writeln!(out, "{}", self.config.lock().test_result);
            }
            _ => return Err(EINVAL),
        }
        Ok(())
    }

    fn store(&self, knob: usize, input: &[u8]) -> Result {
        match knob {
            // What was written does not matter, only that it was.
            knob::TRIGGER_CONFIG => self.trigger(),
            knob::RESET => self.reset(),
            knob::CONFIG_TEST_DRIVER => {
                let name = Name::new(input)?;
                self.config.lock().driver = Some(name);
                Ok(())
            }
            knob::CONFIG_TEST_FS => {
                let name = Name::new(input)?;
                self.config.lock().fs = Some(name);
                Ok(())
            }
            knob::CONFIG_NUM_THREADS => {
                let threads = parse_u32(input)?;
                if threads == 0 || threads > MAX_THREADS {
                    return Err(EINVAL);
                }
                self.config.lock().num_threads = threads;
                Ok(())
            }
            knob::CONFIG_TEST_CASE => {
                let case = TestCase::from_u32(parse_u32(input)?).ok_or(EINVAL)?;
                self.config.lock().test_case = case;
                Ok(())
            }
            knob::TEST_RESULT => {
                let value = parse_i32(input)?;
                self.config.lock().test_result = value;
                Ok(())
            }
            _ => Err(EINVAL),
        }
    }
}

/// The string C's kstrto*() sees: the bytes before the first NUL.
fn c_string(input: &[u8]) -> &[u8] {
    let len = input.iter().position(|&b| b == 0).unwrap_or(input.len());
    &input[..len]
}

/// `_kstrtoull(s, 10)`: decimal digits, one optional trailing newline.
/// -ERANGE on overflow, -EINVAL for anything else that is not that.
fn parse_u64(s: &[u8]) -> Result<u64> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut value: u64 = 0;
    let mut overflow = false;
    for &b in &s[..digits] {
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    if overflow {
        return Err(ERANGE);
    }
    if digits == 0 {
        return Err(EINVAL);
    }
    let rest = &s[digits..];
    let rest = rest.strip_prefix(b"\n").unwrap_or(rest);
    if !rest.is_empty() {
        return Err(EINVAL);
    }
    Ok(value)
}

/// `kstrtouint(input, 10)`: an optional `+`, then as [`parse_u64`], in range.
pub(crate) fn parse_u32(input: &[u8]) -> Result<u32> {
    let s = c_string(input);
    let s = s.strip_prefix(b"+").unwrap_or(s);
    u32::try_from(parse_u64(s)?).map_err(|_| ERANGE)
}

/// `kstrtoint(input, 10)`: an optional sign, then decimal digits, in range.
pub(crate) fn parse_i32(input: &[u8]) -> Result<i32> {
    let s = c_string(input);
    if let Some(magnitude) = s.strip_prefix(b"-") {
        let value = parse_u64(magnitude)?;
        return i32::try_from(-i128::from(value)).map_err(|_| ERANGE);
    }
    let s = s.strip_prefix(b"+").unwrap_or(s);
    i32::try_from(parse_u64(s)?).map_err(|_| ERANGE)
}
