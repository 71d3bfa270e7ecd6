// SPDX-License-Identifier: GPL-2.0

//! Module parameters with C's own parameter types, laid out as C's
//! `module_param()` and `MODULE_PARM_DESC()` of include/linux/moduleparam.h
//! lay them out: a `struct kernel_param` in the `__param` section whose
//! `ops` are the kernel's `param_ops_charp`, `param_ops_bool_enable_only` or
//! `param_ops_uint` (kernel/params.c), and `parmtype=`/`parm=` strings in
//! `.modinfo` for `modinfo`.
//!
//! `module!` takes integer and bool parameters only, never shows them in
//! /sys/module/<module>/parameters/, and has no `charp`; the kernel's own
//! parameter code is what gives C's semantics here (a `charp` keeps the
//! string as given, also from the command line of a built-in driver).
//!
//! Declare parameters with [`module_param!`]; only read-only permissions
//! (such as 0444) are accepted: a parameter that can change while the module
//! runs would need `kernel_param_lock()` around every read.

use core::cell::UnsafeCell;
use kernel::prelude::*;

/// The storage of one parameter of C type `T`, written by the kernel's
/// parameter code and read through the typed getters.
///
/// # Invariants
///
/// Only the kernel's parameter code writes `value`, through the
/// `kernel_param.arg` that [`module_param!`] points at it, and only while it
/// parses the module's arguments: before the module's init runs (built in,
/// before any initcall), since the parameter is read-only in sysfs.
pub(crate) struct Param<T> {
    value: UnsafeCell<T>,
}

// SAFETY: By the type invariant every access once the module's code runs is
// a read, so the value may be read from any thread.  (`Send` is not needed:
// parameters are `static`s.)
unsafe impl Sync for Param<bool> {}

// SAFETY: As for `Param<bool>`.
unsafe impl Sync for Param<u32> {}

// SAFETY: As for `Param<bool>`; the string a `charp` points to is not
// written after parsing either, so it may be read from any thread too.
// (Not `Send`, for the raw pointer; not needed.)
unsafe impl Sync for Param<*mut c_char> {}

impl<T> Param<T> {
    /// A parameter whose value is `default` until the kernel sets it; for
    /// [`module_param!`].
    ///
    /// # Safety
    ///
    /// The value must be written only as the type invariant says: by the
    /// kernel's parameter code, through the `kernel_param` that
    /// [`module_param!`] makes for it, while it parses the module's
    /// arguments, before any code of the module runs.  [`module_param!`]
    /// declares the parameter `static`, read-only, with such a
    /// `kernel_param`, and is the only intended caller.
    #[doc(hidden)]
    pub(crate) const unsafe fn new(default: T) -> Self {
        // INVARIANT: By the function's contract.
        Self {
            value: UnsafeCell::new(default),
        }
    }

    /// The `kernel_param.arg` of this parameter, for [`module_param!`].
    #[doc(hidden)]
    pub(crate) const fn arg(&'static self) -> *mut c_void {
        self.value.get().cast()
    }

    fn read(&self) -> &T {
        // SAFETY: By the type invariant no one writes `value` any more once
        // code of the module can run.
        unsafe { &*self.value.get() }
    }
}

/// A `charp` parameter: a string, or none when not given.
pub(crate) type Charp = Param<*mut c_char>;

impl Param<*mut c_char> {
    /// The string given for the parameter, if one was.  The parameter is a
    /// `static`, and so is the string (the kernel frees it only when the
    /// module is unloaded).
    pub(crate) fn get(&'static self) -> Option<&'static CStr> {
        let ptr = *self.read();
        // SAFETY: `param_ops_charp` stores NULL or a NUL-terminated string
        // that it frees only when the module is unloaded (built in: never),
        // after all of the module's code has run.
        (!ptr.is_null()).then(|| unsafe { CStr::from_char_ptr(ptr) })
    }
}

/// A `bool_enable_only` parameter: can be set to true, never back.
pub(crate) type BoolEnableOnly = Param<bool>;

impl Param<bool> {
    /// The parameter's value.
    pub(crate) fn get(&'static self) -> bool {
        *self.read()
    }
}

/// A `uint` parameter.
pub(crate) type Uint = Param<u32>;

impl Param<u32> {
    /// The parameter's value.
    pub(crate) fn get(&'static self) -> u32 {
        *self.read()
    }
}

/// The bytes of `s` as an array, for strings placed in `.modinfo`.
#[doc(hidden)]
pub(crate) const fn modinfo<const N: usize>(s: &str) -> [u8; N] {
    let bytes = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Declares a module parameter of a C type, as `module_param()` and
/// `MODULE_PARM_DESC()` do:
///
/// ```ignore
/// module_param! {
///     module: "my_module",
///     pub(crate) static DEVICE: charp,
///     name: "device", perm: 0o444, desc: "Device to use",
/// }
/// module_param! {
///     module: "my_module",
///     pub(crate) static THREADS: uint = 4,
///     name: "threads", perm: 0o444, desc: "Worker threads",
/// }
/// ```
///
/// `module` must be the name given to `module!` (built in, parameters are
/// `<module>.<name>` on the kernel command line).  The types are `charp`
/// (no default: none), `bool_enable_only` and `uint`.  `perm` must not let
/// anyone write the parameter.
macro_rules! module_param {
    (module: $module:literal, $vis:vis static $storage:ident: charp,
     name: $name:literal, perm: $perm:literal, desc: $desc:literal $(,)?) => {
        $vis static $storage: $crate::abstractions::param::Charp =
            // SAFETY: `@entry` below makes the parameter's `kernel_param`,
            // with read-only permissions, and nothing else writes the
            // storage.
            unsafe { $crate::abstractions::param::Param::new(::core::ptr::null_mut()) };
        $crate::abstractions::param::module_param!(@entry $module, $storage, charp, $name, $perm, $desc);
    };
    (module: $module:literal, $vis:vis static $storage:ident: bool_enable_only = $default:expr,
     name: $name:literal, perm: $perm:literal, desc: $desc:literal $(,)?) => {
        $vis static $storage: $crate::abstractions::param::BoolEnableOnly =
            // SAFETY: As for `charp`.
            unsafe { $crate::abstractions::param::Param::new($default) };
        $crate::abstractions::param::module_param!(@entry $module, $storage, bool_enable_only, $name, $perm, $desc);
    };
    (module: $module:literal, $vis:vis static $storage:ident: uint = $default:expr,
     name: $name:literal, perm: $perm:literal, desc: $desc:literal $(,)?) => {
        $vis static $storage: $crate::abstractions::param::Uint =
            // SAFETY: As for `charp`.
            unsafe { $crate::abstractions::param::Param::new($default) };
        $crate::abstractions::param::module_param!(@entry $module, $storage, uint, $name, $perm, $desc);
    };
    (@entry $module:literal, $storage:ident, $ty:ident, $name:literal, $perm:literal, $desc:literal) => {
        const _: () = {
            ::core::assert!(($perm & 0o222) == 0, "module_param!: only read-only permissions");
            ::core::assert!($perm <= 0o777, "module_param!: not a permission");

            // Built in, parameters are called "<module>.<name>".
            const NAME: &str = ::core::concat!($module, ".", $name, "\0");
            #[cfg(MODULE)]
            const SKIP: usize = $module.len() + 1;
            #[cfg(not(MODULE))]
            const SKIP: usize = 0;

            #[link_section = "__param"]
            #[used(compiler)]
            static PARAM: ::kernel::module_param::KernelParam =
                ::kernel::module_param::KernelParam::new(::kernel::bindings::kernel_param {
                    name: NAME.as_bytes().split_at(SKIP).1.as_ptr().cast(),
                    // The kernel constructs `__this_module` when it loads the
                    // module; only its address is taken.
                    #[cfg(MODULE)]
                    mod_: (&raw const ::kernel::bindings::__this_module).cast_mut(),
                    #[cfg(not(MODULE))]
                    mod_: ::core::ptr::null_mut(),
                    ops: ::kernel::macros::paste!(&raw const ::kernel::bindings::[<param_ops_ $ty>]),
                    perm: $perm,
                    level: -1,
                    flags: 0,
                    __bindgen_anon_1: ::kernel::bindings::kernel_param__bindgen_ty_1 {
                        arg: $storage.arg(),
                    },
                });

            // What `modinfo` lists; built in, prefixed "<module>.".
            #[cfg(MODULE)]
            const PARMTYPE: &str = ::core::concat!("parmtype=", $name, ":", ::core::stringify!($ty), "\0");
            #[cfg(not(MODULE))]
            const PARMTYPE: &str =
                ::core::concat!($module, ".parmtype=", $name, ":", ::core::stringify!($ty), "\0");
            #[cfg(MODULE)]
            const PARM: &str = ::core::concat!("parm=", $name, ":", $desc, "\0");
            #[cfg(not(MODULE))]
            const PARM: &str = ::core::concat!($module, ".parm=", $name, ":", $desc, "\0");
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARMTYPE_INFO: [u8; PARMTYPE.len()] = $crate::abstractions::param::modinfo(PARMTYPE);
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARM_INFO: [u8; PARM.len()] = $crate::abstractions::param::modinfo(PARM);
        };
    };
}
pub(crate) use module_param;

#[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
#[kernel::macros::kunit_tests(rust_param)]
mod tests {
    use super::*;
    use kernel::bindings;

    /// Sets `param` to `value` the way the kernel's parameter parser does,
    /// through `ops`, the kernel's ops of a C type (a `kernel_param` that is not in
    /// `__param`, so nothing is registered).
    fn set<T>(param: &Param<T>, ops: *const bindings::kernel_param_ops, value: &CStr) -> Result {
        let kp = bindings::kernel_param {
            name: c"rust_param_test".as_char_ptr(),
            mod_: core::ptr::null_mut(),
            ops,
            perm: 0o444,
            level: -1,
            flags: 0,
            __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 {
                arg: param.value.get().cast(),
            },
        };
        // SAFETY: `ops` is one of the kernel's `param_ops_*`, all of which
        // have `set`; `kp.arg` points at storage of the type those ops
        // write, and nothing else reads it during the call.
        kernel::error::to_result(unsafe { (*ops).set.ok_or(EINVAL)?(value.as_char_ptr(), &kp) })
    }

    /// A parameter of the case's own, not in `__param`: only the case
    /// writes it, through [`set`], and reads it between the writes, in the
    /// case's thread (so the getters, which need a registered `static`, are
    /// not used).
    fn local<T>(default: T) -> Param<T> {
        // SAFETY: Not a registered parameter: nothing but the case touches
        // it, and never a write during a read (see above).
        unsafe { Param::new(default) }
    }

    /// The kernel's `charp` code stores the string, as given.
    #[test]
    fn charp() -> Result {
        let param = local(core::ptr::null_mut::<c_char>());
        assert!(param.read().is_null());
        let ops = &raw const bindings::param_ops_charp;
        set(&param, ops, c"xfs\n")?;
        let ptr = *param.read();
        // SAFETY: `param_ops_charp` stored a NUL-terminated copy, which stays
        // until `free` below.
        let same = !ptr.is_null() && unsafe { CStr::from_char_ptr(ptr) }.to_bytes() == b"xfs\n";
        // SAFETY: `param_ops_charp` has `free`, which frees what `set` made.
        unsafe { (*ops).free.ok_or(EINVAL)?(param.value.get().cast()) };
        assert!(same);
        Ok(())
    }

    /// `bool_enable_only` can be switched on, never off again.
    #[test]
    fn bool_enable_only() -> Result {
        let param = local(false);
        let ops = &raw const bindings::param_ops_bool_enable_only;
        assert!(!*param.read());
        set(&param, ops, c"0")?;
        assert!(!*param.read());
        set(&param, ops, c"Y")?;
        assert!(*param.read());
        assert!(set(&param, ops, c"0") == Err(EROFS));
        assert!(*param.read());
        Ok(())
    }

    /// `uint` is `kstrtouint(value, 0)`, prefixes included.
    #[test]
    fn uint() -> Result {
        let param = local(7u32);
        let ops = &raw const bindings::param_ops_uint;
        assert_eq!(*param.read(), 7);
        set(&param, ops, c"0x10")?;
        assert_eq!(*param.read(), 16);
        assert!(set(&param, ops, c"-1") == Err(EINVAL));
        assert!(set(&param, ops, c"4294967296") == Err(ERANGE));
        assert_eq!(*param.read(), 16);
        Ok(())
    }

    /// The `.modinfo` strings are the bytes given, NUL included.
    #[test]
    fn modinfo_bytes() {
        let info: [u8; 12] = modinfo("parm=a:b\0xyz");
        assert_eq!(&info, b"parm=a:b\0xyz");
    }
}
