// SPDX-License-Identifier: GPL-2.0

//! A misc device with a group of sysfs files, the way a C driver declares one
//! with `DEVICE_ATTR_*()` and `miscdevice.groups`.
//!
//! Rust-for-Linux has no sysfs attribute abstraction and its
//! `MiscDeviceRegistration` cannot pass attribute groups, so this file holds
//! the unsafe plumbing; drivers implement the safe [`Knobs`] trait and list
//! their files with [`knob_group!`].
//!
//! The files are created together with the device (no window in which the
//! device exists without them), and `misc_deregister()` waits for running
//! `show`/`store` calls to finish, so the state behind them outlives every call.

use core::fmt;
use kernel::{bindings, ffi::c_char, prelude::*, str::CStr, types::Opaque};

/// The state behind a device's sysfs files.  `knob` is the file's index in
/// its [`knob_group!`] list.
pub(crate) trait Knobs: Send + Sync + 'static {
    /// Writes the file's contents (at most a page; more is cut).
    fn show(&self, knob: usize, out: &mut Page<'_>) -> Result;
    /// Takes a write of `input` (what userspace wrote, at most a page less
    /// one byte).  `Ok` consumes all of it.
    fn store(&self, knob: usize, input: &[u8]) -> Result;
}

/// The page that a `show` writes into, with `snprintf()`'s truncation.
pub(crate) struct Page<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl fmt::Write for Page<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

impl<'a> Page<'a> {
    /// A page over `buf`, for callers other than sysfs (the KUnit suite).
    #[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// What was written so far.
    #[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
    pub(crate) fn contents(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Appends raw bytes (e.g. a stored string that is not UTF-8).
    pub(crate) fn write_bytes(&mut self, bytes: &[u8]) {
        // Keep room for the NUL that sysfs expects after the contents.
        let room = self.buf.len() - 1 - self.len;
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }
}

/// `struct device_attribute`, made shareable as a `static`.
#[repr(transparent)]
pub(crate) struct Attribute(Opaque<bindings::device_attribute>);

// SAFETY: Attributes are written only in their initialiser; afterwards the
// kernel and we only read them.
unsafe impl Sync for Attribute {}

impl Attribute {
    /// File number `K` of a [`Knobs`] implementation `T`, with permissions
    /// `mode`: readable files get `show`, writable ones `store`.
    pub(crate) const fn new<T: Knobs, const K: usize>(name: &'static CStr, mode: u16) -> Self {
        let mut attr: bindings::device_attribute = pin_init::zeroed();
        attr.attr.name = kernel::str::as_char_ptr_in_const_context(name);
        attr.attr.mode = mode;
        if mode & 0o444 != 0 {
            attr.__bindgen_anon_1.show = Some(show::<T, K>);
        }
        if mode & 0o222 != 0 {
            attr.__bindgen_anon_2.store = Some(store::<T, K>);
        }
        Self(Opaque::new(attr))
    }

    /// The `struct attribute` that groups point at.
    pub(crate) const fn as_raw(&'static self) -> *mut bindings::attribute {
        // `attr` is the first field of `struct device_attribute`.
        self.0.get().cast()
    }
}

/// A NULL-terminated array of pointers, as `attribute_group.attrs` and
/// `miscdevice.groups` want them.
#[repr(transparent)]
pub(crate) struct PtrArray<T, const N: usize>(pub(crate) [*mut T; N]);

// SAFETY: The pointers are to statics and are never written after
// initialisation.
unsafe impl<T, const N: usize> Sync for PtrArray<T, N> {}

/// `struct attribute_group`, made shareable as a `static`.
#[repr(transparent)]
pub(crate) struct Group(Opaque<bindings::attribute_group>);

// SAFETY: As for `Attribute`: read-only after initialisation.
unsafe impl Sync for Group {}

impl Group {
    /// An unnamed group (the files sit in the device's own directory).
    pub(crate) const fn new<const N: usize>(
        attrs: &'static PtrArray<bindings::attribute, N>,
    ) -> Self {
        let mut group: bindings::attribute_group = pin_init::zeroed();
        group.__bindgen_anon_2.attrs = attrs.0.as_ptr().cast_mut();
        Self(Opaque::new(group))
    }

    pub(crate) const fn as_raw(&'static self) -> *mut bindings::attribute_group {
        self.0.get()
    }
}

/// Declares the sysfs files of a [`Knobs`] type: `knob_group!(GROUPS: T = [
/// (INDEX, c"name", 0o644), ... ]);` makes `GROUPS`, the value for
/// [`Registration::register`].
macro_rules! knob_group {
    ($groups:ident : $ty:ty = [$(($index:literal, $name:literal, $mode:literal)),+ $(,)?]) => {
        static $groups: $crate::sysfs::PtrArray<::kernel::bindings::attribute_group, 2> = {
            const N: usize = [$($index),+].len() + 1;
            static ATTRS: [$crate::sysfs::Attribute; N - 1] =
                [$($crate::sysfs::Attribute::new::<$ty, $index>($name, $mode)),+];
            static PTRS: $crate::sysfs::PtrArray<::kernel::bindings::attribute, N> = {
                let mut ptrs = [::core::ptr::null_mut(); N];
                let mut i = 0;
                while i < N - 1 {
                    ptrs[i] = ATTRS[i].as_raw();
                    i += 1;
                }
                $crate::sysfs::PtrArray(ptrs)
            };
            static GROUP: $crate::sysfs::Group = $crate::sysfs::Group::new(&PTRS);
            $crate::sysfs::PtrArray([GROUP.as_raw(), ::core::ptr::null_mut()])
        };
    };
}
pub(crate) use knob_group;

/// A registered misc device with no file operations (like the C test_kmod:
/// only its sysfs files matter) and the state `T` behind its files.
#[pin_data(PinnedDrop)]
#[repr(C)]
pub(crate) struct Registration<T: Knobs> {
    // First, so that the `struct miscdevice` address is the registration's.
    #[pin]
    misc: Opaque<bindings::miscdevice>,
    #[pin]
    knobs: T,
}

// SAFETY: `misc_deregister()` may run on any thread; `T` is `Send + Sync`.
unsafe impl<T: Knobs> Send for Registration<T> {}
// SAFETY: `&self` only reads `knobs` (which is `Sync`) and the device pointer.
unsafe impl<T: Knobs> Sync for Registration<T> {}

impl<T: Knobs> Registration<T> {
    /// Registers misc device `name` with the files in `groups` (from
    /// [`knob_group!`]), backed by `knobs`, which is set up first.
    pub(crate) fn register(
        name: &'static CStr,
        groups: &'static PtrArray<bindings::attribute_group, 2>,
        knobs: impl PinInit<T, Error>,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            knobs <- knobs,
            misc <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut misc: bindings::miscdevice = pin_init::zeroed();
                misc.minor = bindings::MISC_DYNAMIC_MINOR as i32;
                misc.name = name.as_char_ptr();
                misc.groups = groups.0.as_ptr().cast_mut().cast();
                // SAFETY: `slot` is ours to initialise.  `misc_register()`
                // sets the device's driver data to `slot`, which `knobs_of`
                // relies on; `knobs` is initialised already (fields are set up
                // in the order written), so a file opened at once finds it.
                // The registration is pinned and `drop` deregisters before
                // the memory goes.
                unsafe {
                    slot.write(misc);
                    kernel::error::to_result(bindings::misc_register(slot))
                }
            }),
        })
    }

    /// The state behind the files.
    pub(crate) fn knobs(&self) -> &T {
        &self.knobs
    }
}

#[pinned_drop]
impl<T: Knobs> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Registered in `register` (a failed registration never
        // produces a `Self`).  This waits for running `show`/`store` calls and
        // keeps new ones out before `knobs` is dropped.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

/// Finds the state behind `dev`, a device created by [`Registration`].
///
/// # Safety
///
/// `dev` must be the `this_device` of a live `Registration<T>`.
unsafe fn knobs_of<'a, T: Knobs>(dev: *mut bindings::device) -> &'a T {
    // SAFETY: `misc_register()` stored the `struct miscdevice` as driver data,
    // and it is the first field of the `#[repr(C)]` `Registration<T>`, alive
    // while the caller's sysfs call runs.
    unsafe {
        let misc = bindings::dev_get_drvdata(dev);
        &(*misc.cast::<Registration<T>>()).knobs
    }
}

/// `show` of file `K`.
///
/// # Safety
///
/// Called by sysfs only, for an attribute made by `Attribute::new::<T, K>`,
/// with `buf` a page.
unsafe extern "C" fn show<T: Knobs, const K: usize>(
    dev: *mut bindings::device,
    _attr: *mut bindings::device_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: Our attributes are only on `Registration<T>` devices.
    let knobs = unsafe { knobs_of::<T>(dev) };
    // SAFETY: sysfs passes a zeroed, writable page that no one else touches
    // during the call.
    let page = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), bindings::PAGE_SIZE) };
    let mut out = Page { buf: page, len: 0 };
    match knobs.show(K, &mut out) {
        Ok(()) => out.len as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// `store` of file `K`.
///
/// # Safety
///
/// Called by sysfs only, for an attribute made by `Attribute::new::<T, K>`,
/// with `buf` holding `count` bytes.
unsafe extern "C" fn store<T: Knobs, const K: usize>(
    dev: *mut bindings::device,
    _attr: *mut bindings::device_attribute,
    buf: *const c_char,
    count: usize,
) -> isize {
    // SAFETY: Our attributes are only on `Registration<T>` devices.
    let knobs = unsafe { knobs_of::<T>(dev) };
    // SAFETY: sysfs passes `count` readable bytes that stay put during the call.
    let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
    match knobs.store(K, input) {
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}
