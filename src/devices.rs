// SPDX-License-Identifier: GPL-2.0

//! Test devices created at will: `test_kmod1`, `test_kmod2`, ..., each with
//! the knobs and semantics of `test_kmod0`, so that several kmod.sh runs
//! (or any other users) can drive the module loader at the same time.  The
//! commit that added the C driver promised this knob; the C driver still
//! creates only `test_kmod0`.
//!
//! Userspace creates them through configfs (see `configfs`); the
//! [`Registry`] here is what configfs calls, and what the KUnit suite
//! drives (kernel threads cannot reach /sys paths).
//!
//! Every device has its own configuration, result and trigger lock
//! ([`Knobs`]): triggers on different devices run at the same time, triggers
//! on one device one after the other, as in C.  All of them draw on one
//! memory [`Budget`].

use crate::{
    abstractions::{
        kmod::MAX_KMOD_CONCURRENT,
        misc_attrs::Registration, //
    },
    engine::Budget,
    knobs::{
        Knobs,
        KNOBS, //
    },
};
use kernel::{
    prelude::*,
    str::CString,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
};

/// The most devices a registry holds at once: the kernel runs at most
/// `MAX_KMOD_CONCURRENT` (50) modprobe helpers at a time, so more devices
/// than that cannot make more `request_module()` calls at once; their
/// runs could only queue (and time out after 5 s with -ETIME).  C's
/// device counter (an `int`) is no bound.
pub(crate) const MAX_DEVICES: u32 = MAX_KMOD_CONCURRENT as u32;

/// What the runs of every device of the module draw on.
pub(crate) static BUDGET: Budget = Budget::available();

/// The devices created at will: `test_kmod1` ... `test_kmod50`.
pub(crate) static REGISTRY: Registry = Registry::new(c"test_kmod", &BUDGET);

/// Numbers the devices `<prefix>1` to `<prefix>MAX_DEVICES`, and their
/// runs' memory budget.
pub(crate) struct Registry {
    prefix: &'static CStr,
    budget: &'static Budget,
    /// Bit `n - 1` is set while device number `n` exists.
    numbers: Atomic<u64>,
}

impl Registry {
    /// A registry of devices named `<prefix><n>` whose runs draw on `budget`.
    pub(crate) const fn new(prefix: &'static CStr, budget: &'static Budget) -> Self {
        Self {
            prefix,
            budget,
            numbers: Atomic::new(0),
        }
    }

    /// How many devices exist.
    pub(crate) fn count(&self) -> u32 {
        self.numbers.load(Relaxed).count_ones()
    }

    /// Takes the lowest free number, or -ENOSPC when `MAX_DEVICES` exist.
    fn claim(&'static self) -> Result<Number> {
        let mut numbers = self.numbers.load(Relaxed);
        loop {
            let free = (!numbers).trailing_zeros();
            if free >= MAX_DEVICES {
                return Err(ENOSPC);
            }
            match self.numbers.cmpxchg(numbers, numbers | 1 << free, Relaxed) {
                Ok(_) => {
                    return Ok(Number {
                        registry: self,
                        number: free + 1,
                    })
                }
                Err(seen) => numbers = seen,
            }
        }
    }

    /// Creates and registers the device with the lowest free number, whose
    /// `reset` sets `reset_threads` threads.  -ENOSPC when `MAX_DEVICES`
    /// exist; registration errors as `misc_register()` gives them.
    pub(crate) fn create(&'static self, reset_threads: u32) -> Result<Device> {
        let number = self.claim()?;
        let name = CString::try_from_fmt(fmt!("{}{}", self.prefix, number.number))?;
        let knobs = Knobs::new(CString::try_from(&*name)?, reset_threads, self.budget);
        let registration = KBox::pin_init(Registration::register(name, &KNOBS, knobs), GFP_KERNEL)?;
        pr_info!("{}: created\n", registration.name());
        Ok(Device {
            registration,
            _number: number,
        })
    }
}

/// A device number of a [`Registry`], free again when dropped.
struct Number {
    registry: &'static Registry,
    number: u32,
}

impl Drop for Number {
    fn drop(&mut self) {
        let numbers = &self.registry.numbers;
        let mut seen = numbers.load(Relaxed);
        while let Err(now) = numbers.cmpxchg(seen, seen & !(1 << (self.number - 1)), Relaxed) {
            seen = now;
        }
    }
}

/// A device of a [`Registry`].  Dropping it waits for its trigger if one
/// runs, then removes the device and frees its number.
pub(crate) struct Device {
    // Dropped in this order: the device goes before its number is free.
    registration: Pin<KBox<Registration<Knobs>>>,
    _number: Number,
}

impl Device {
    /// The state behind the device's files.
    pub(crate) fn knobs(&self) -> &Knobs {
        self.registration.data()
    }

    /// The device's name, as in /sys/devices/virtual/misc/<name>.
    pub(crate) fn name(&self) -> &CStr {
        self.registration.name()
    }

    /// Removes the device unless a trigger runs on it: -EBUSY then, and the
    /// device is given back untouched.
    pub(crate) fn remove(self) -> Result<(), (Self, Error)> {
        match self.knobs().try_close() {
            Ok(()) => Ok(()),
            Err(e) => Err((self, e)),
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // No trigger runs or starts any more; then the fields go: the files
        // (which waits for reads and writes of them), then the number.
        self.knobs().close();
        pr_info!("{}: removed\n", self.name());
    }
}
