// SPDX-License-Identifier: GPL-2.0

//! The C driver's module parameters, with their C names, types and modes
//! (visible read-only in /sys/module/test_kmod/parameters/):
//!
//! - `force_init_test` (`bool_enable_only`): run the start scenarios when the
//!   driver loads (or, built in, during boot);
//! - `start_driver` (`charp`): module to request, default `test_module`;
//! - `start_test_fs` (`charp`): file system to get, default none;
//! - `start_num_threads` (`uint`, ours): threads of the start configuration
//!   (and of `reset`), default 50 as C; with `mem=` it shows the memory check.
//!
//! `module!` only has integer and bool parameters, never visible in sysfs, so
//! the `struct kernel_param` entries are built here, the way C's
//! `module_param()` lays them out in the `__param` section.

use crate::knobs::{DEFAULT_THREADS, MAX_THREADS};
use kernel::{
    bindings,
    ffi::{c_char, c_void},
    module_param::KernelParam,
    prelude::*,
    str::{CStr, CStrExt},
};

/// Storage the kernel's parameter code writes (before `init` runs) and we read.
#[repr(transparent)]
struct Slot<T>(core::cell::UnsafeCell<T>);

// SAFETY: The kernel writes the slots while parsing parameters, before the
// module's init (or, built in, before any initcall) runs; the parameters are
// read-only (0444) afterwards, so every later access is a read.
unsafe impl<T> Sync for Slot<T> {}

static FORCE_INIT_TEST: Slot<bool> = Slot(core::cell::UnsafeCell::new(false));
static START_DRIVER: Slot<*mut c_char> = Slot(core::cell::UnsafeCell::new(core::ptr::null_mut()));
static START_TEST_FS: Slot<*mut c_char> = Slot(core::cell::UnsafeCell::new(core::ptr::null_mut()));
static START_NUM_THREADS: Slot<u32> = Slot(core::cell::UnsafeCell::new(DEFAULT_THREADS));

/// Lays out one `struct kernel_param` in `__param` and its `modinfo`
/// description in `.modinfo`, like C's `module_param()` and
/// `MODULE_PARM_DESC()`.
macro_rules! param {
    ($entry:ident, $name:literal, $type:literal, $ops:ident, $slot:ident, $desc:literal) => {
        const _: () = {
            // Built in, parameters are named "test_kmod.<name>" on the kernel
            // command line and in modinfo.
            #[cfg(MODULE)]
            const PREFIX: &str = "";
            #[cfg(not(MODULE))]
            const PREFIX: &str = "test_kmod.";
            const NAME: &str = concat!("test_kmod.", $name, "\0");

            #[link_section = "__param"]
            #[used(compiler)]
            static $entry: KernelParam = KernelParam::new(bindings::kernel_param {
                name: NAME
                    .as_bytes()
                    .split_at(NAME.len() - $name.len() - 1 - PREFIX.len())
                    .1
                    .as_ptr()
                    .cast::<c_char>(),
                #[cfg(MODULE)]
                mod_: (&raw const bindings::__this_module).cast_mut(),
                #[cfg(not(MODULE))]
                mod_: core::ptr::null_mut(),
                ops: &raw const bindings::$ops,
                perm: 0o444,
                level: -1,
                flags: 0,
                __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 {
                    arg: $slot.0.get().cast::<c_void>(),
                },
            });

            modinfo!(PREFIX, concat!("parmtype=", $name, ":", $type));
            modinfo!(PREFIX, concat!("parm=", $name, ":", $desc));
        };
    };
}

/// One NUL-terminated `key=value` string in `.modinfo`, read by `modinfo`.
macro_rules! modinfo {
    ($prefix:ident, $text:expr) => {
        const _: () = {
            const TEXT: &[u8] = $text.as_bytes();
            const LEN: usize = $prefix.len() + TEXT.len() + 1;
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static INFO: [u8; LEN] = {
                let mut out = [0u8; LEN];
                let prefix = $prefix.as_bytes();
                let mut i = 0;
                while i < prefix.len() {
                    out[i] = prefix[i];
                    i += 1;
                }
                let mut j = 0;
                while j < TEXT.len() {
                    out[i + j] = TEXT[j];
                    j += 1;
                }
                out
            };
        };
    };
}

param!(
    FORCE_INIT_TEST_PARAM,
    "force_init_test",
    "bool",
    param_ops_bool_enable_only,
    FORCE_INIT_TEST,
    "Force kicking a test immediately after driver loads"
);
param!(
    START_DRIVER_PARAM,
    "start_driver",
    "charp",
    param_ops_charp,
    START_DRIVER,
    "Module/driver to use for the testing after driver loads"
);
param!(
    START_TEST_FS_PARAM,
    "start_test_fs",
    "charp",
    param_ops_charp,
    START_TEST_FS,
    "File system to use for the testing after driver loads"
);

param!(
    START_NUM_THREADS_PARAM,
    "start_num_threads",
    "uint",
    param_ops_uint,
    START_NUM_THREADS,
    "Number of threads of the start configuration (not in the C driver; default 50)"
);

/// `start_num_threads`, if it is a valid thread count; C's 50 otherwise.
pub(crate) fn start_num_threads() -> u32 {
    // SAFETY: See `Slot`: no writer once the driver runs.
    let threads = unsafe { *START_NUM_THREADS.0.get() };
    if threads == 0 || threads > MAX_THREADS {
        pr_warn!(
            "start_num_threads={threads} is not in 1..={MAX_THREADS}, using {DEFAULT_THREADS}\n"
        );
        return DEFAULT_THREADS;
    }
    threads
}

/// `force_init_test`.
pub(crate) fn force_init_test() -> bool {
    // SAFETY: See `Slot`: no writer once the driver runs.
    unsafe { *FORCE_INIT_TEST.0.get() }
}

fn string(slot: &'static Slot<*mut c_char>) -> Option<&'static CStr> {
    // SAFETY: See `Slot`: no writer once the driver runs.
    let ptr = unsafe { *slot.0.get() };
    // SAFETY: `param_ops_charp` stores NULL or a NUL-terminated string that
    // lives until the module is unloaded (built in: forever).
    (!ptr.is_null()).then(|| unsafe { CStr::from_char_ptr(ptr) })
}

/// `start_driver`, if given.
pub(crate) fn start_driver() -> Option<&'static CStr> {
    string(&START_DRIVER)
}

/// `start_test_fs`, if given.
pub(crate) fn start_test_fs() -> Option<&'static CStr> {
    string(&START_TEST_FS)
}
