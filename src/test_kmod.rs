// SPDX-License-Identifier: GPL-2.0

//! test_kmod: a stress tester for the kernel module loader, in Rust.
//!
//! A drop-in for lib/test_kmod.c: the module is called `test_kmod` and
//! creates misc device `test_kmod0` with the C driver's sysfs knobs, so that
//! tools/testing/selftests/kmod/kmod.sh drives it unmodified.  A trigger runs
//! `config_num_threads` kernel threads that all call `request_module()` or
//! `get_fs_type()` at once (see `engine`).  With `force_init_test` the start
//! scenarios run when the driver loads, which also works built in.
//!
//! Beyond C, more devices (`test_kmod1` ...) are created at will through
//! configfs, for stress runs side by side (see `configfs` and `devices`).
//!
//! The driver is safe code; the kernel facilities it needs that
//! Rust-for-Linux does not wrap live in `abstractions`.

mod abstractions;
mod configfs;
mod devices;
mod engine;
mod knobs;
mod params;
#[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
mod races_tests;
mod start;
#[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
mod tests;

use abstractions::misc_attrs::Registration;
use configfs::Devices;
use kernel::{
    prelude::*,
    str::CString, //
};
use knobs::{
    Knobs,
    KNOBS, //
};

module! {
    type: TestKmod,
    name: "test_kmod",
    authors: ["test_kmod Rust port authors"],
    description: "kmod stress test driver",
    license: "GPL",
}

#[pin_data]
struct TestKmod {
    /// `test_kmod0`, which kmod.sh drives.
    #[pin]
    device: Registration<Knobs>,
    /// /sys/kernel/config/test_kmod, where more devices are made.
    #[pin]
    devices: kernel::configfs::Subsystem<Devices>,
}

impl kernel::InPlaceModule for TestKmod {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // Fields are set up in the order written: test_kmod0, then its start
        // scenarios, then configfs.  A failed start scenario fails the load
        // before configfs is registered, so that no item can have been made
        // in it; dropping the half-made module removes the device again (C
        // leaves it behind).  Nothing can fail after configfs.
        try_pin_init!(Self {
            device <- {
                let name = CString::try_from(c"test_kmod0")?;
                let knobs = Knobs::new(
                    CString::try_from(&*name)?,
                    params::start_num_threads(),
                    &devices::BUDGET,
                );
                Registration::register(name, &KNOBS, knobs).pin_chain(|device| {
                    pr_info!("interface ready\n");
                    if params::force_init_test() {
                        start::run(device.data())?;
                    }
                    Ok(())
                })
            },
            devices <- configfs::subsystem(),
        })
    }
}
