// SPDX-License-Identifier: GPL-2.0

//! Misc devices with sysfs attributes, as many as a driver wants, under
//! names chosen at run time: `misc_register()` and `misc_deregister()` of
//! include/linux/miscdevice.h (drivers/char/misc.c) with
//! `struct miscdevice.groups`, whose files are device attributes
//! (`struct device_attribute` of include/linux/device.h, in an unnamed
//! `struct attribute_group` of include/linux/sysfs.h), as a C driver declares
//! them with `DEVICE_ATTR()` and `ATTRIBUTE_GROUPS()`.
//!
//! `kernel::miscdevice::MiscDeviceRegistration` takes a `'static` name, no
//! attribute groups, and needs file operations; a device that is only a set
//! of sysfs files, or one of many created at run time, fits neither.  The
//! attribute side is shaped after the posted `DeviceAttribute` /
//! `attribute_list!` series (for devices with a bound driver), with the
//! permissions given explicitly as in C:
//!
//! ```ignore
//! attribute_list! {
//!     static ATTRS: AttributeGroups<State> = [
//!         DeviceAttribute::new::<0o644>(c"value", Some(State::show_value), Some(State::store_value)),
//!         DeviceAttribute::new::<0o200>(c"reset", None, Some(State::reset)),
//!     ];
//! }
//! let dev = KBox::pin_init(Registration::register(name, &ATTRS, State::new()), GFP_KERNEL)?;
//! ```
//!
//! The files are created together with the device, so there is no moment in
//! which the device exists without them.  The device node has file
//! operations with only an owner, as C's `test_kmod` gives its device:
//! opening it succeeds and holds the module until it is closed.
//!
//! Dropping the [`Registration`] first stops new `show` and `store` calls
//! from reaching the data (they fail with `-ENODEV`) and waits, holding no
//! lock, for those running to return; only then does it call
//! `misc_deregister()`.  That one waits for running calls too, but under the
//! global `misc_mtx`: a `store` that itself waits for a module being loaded
//! whose init calls `misc_register()` (which takes `misc_mtx`) would never
//! return, and neither would the deregistration.  Quiescing first, with no
//! lock held across the wait, avoids both that and the opposite order (a
//! lock of the driver held across `misc_deregister()`, which a `store`
//! arriving meanwhile would wait for while the deregistration waits for the
//! `store`).

use super::cbuf::CBuf;
use kernel::{
    bindings,
    new_condvar,
    new_mutex,
    prelude::*,
    str::CString,
    sync::{
        CondVar,
        Mutex, //
    },
    types::Opaque, //
};

/// What a readable attribute prints into its page (at most `PAGE_SIZE - 1`
/// bytes; what does not fit is cut off, as `scnprintf()` does).
pub(crate) type ShowFn<T> = fn(&T, &mut CBuf<'_>) -> Result;

/// What a writable attribute does with what userspace wrote (at most a page
/// less one byte).  `Ok` takes all of it; an error is what `write()` returns.
pub(crate) type StoreFn<T> = fn(&T, &[u8]) -> Result;

/// One sysfs file of a device whose data is a `T`: its name, its
/// permissions and what reading and writing it do, in one place.
///
/// # Invariants
///
/// `attr` is a `struct device_attribute` whose `show` is set exactly when
/// `show` is, and whose `store` exactly when `store` is, to this module's
/// callbacks for `T`; it is embedded in a `DeviceAttribute<T>` (the
/// callbacks rely on that to find `show` and `store`).
#[repr(C)]
pub(crate) struct DeviceAttribute<T> {
    attr: Opaque<bindings::device_attribute>,
    show: Option<ShowFn<T>>,
    store: Option<StoreFn<T>>,
}

// SAFETY: After construction (in a `static` initialiser) nothing writes the
// attribute: sysfs and the callbacks only read it, from any thread.  It is
// not `Send` (the raw pointers inside keep it from being): it only ever lives
// in a `static`, which needs `Sync` alone.
unsafe impl<T> Sync for DeviceAttribute<T> {}

/// The permission bits sysfs takes for an attribute: `create_files()` of
/// fs/sysfs/group.c warns about any other bit and clears it
/// (`SYSFS_PREALLOC` is a flag, not a permission, and not offered here).
const SYSFS_MODE_BITS: u16 = 0o664;

/// Checks a file's permissions when the code is compiled.
struct Mode<const MODE: u16>;

impl<const MODE: u16> Mode<MODE> {
    /// `MODE`, if sysfs takes it without a warning; a build error otherwise.
    const CHECKED: u16 = {
        assert!(
            MODE & !SYSFS_MODE_BITS == 0,
            "sysfs takes only the permission bits 0664"
        );
        MODE
    };
}

impl<T: Send + Sync + 'static> DeviceAttribute<T> {
    /// File `name` with permissions `MODE` (as `DEVICE_ATTR()`).
    ///
    /// `MODE` may have only the bits sysfs takes, 0664 (read for all, write
    /// for owner and group, no execute), which is checked at compile time.
    /// A readable file needs `show`, a writable one `store`, and neither may
    /// be given without the permission; checked at compile time in
    /// [`attribute_list!`], which is where attributes are made.
    pub(crate) const fn new<const MODE: u16>(
        name: &'static CStr,
        show: Option<ShowFn<T>>,
        store: Option<StoreFn<T>>,
    ) -> Self {
        let mode = Mode::<MODE>::CHECKED;
        assert!((mode & 0o444 != 0) == show.is_some(), "readable iff show");
        assert!((mode & 0o222 != 0) == store.is_some(), "writable iff store");
        let mut attr: bindings::device_attribute = pin_init::zeroed();
        attr.attr.name = kernel::str::as_char_ptr_in_const_context(name);
        attr.attr.mode = mode;
        if show.is_some() {
            attr.__bindgen_anon_1.show = Some(show_callback::<T>);
        }
        if store.is_some() {
            attr.__bindgen_anon_2.store = Some(store_callback::<T>);
        }
        // INVARIANT: The callbacks are set exactly for `show` and `store`.
        Self {
            attr: Opaque::new(attr),
            show,
            store,
        }
    }

    /// The file's name.
    pub(crate) fn name(&self) -> &CStr {
        // SAFETY: `new` set the name from a `&'static CStr`; the attribute
        // is not written afterwards.
        unsafe { CStr::from_char_ptr((*self.attr.get()).attr.name) }
    }

    /// The `struct attribute` inside, for the attribute list.
    #[doc(hidden)]
    pub(crate) const fn as_raw(&'static self) -> *mut bindings::attribute {
        // `attr` is the first field of `struct device_attribute`.
        self.attr.get().cast()
    }
}

/// A NULL-terminated array of `N - 1` pointers, as `attribute_group.attrs`
/// and `miscdevice.groups` are.
#[doc(hidden)]
#[repr(transparent)]
pub(crate) struct PtrList<P, const N: usize>([*const P; N]);

// SAFETY: Built in a `static` initialiser from pointers to statics and never
// written afterwards, so it may be read from any thread.  Not `Send` (raw
// pointers): it only lives in `static`s.
unsafe impl<P, const N: usize> Sync for PtrList<P, N> {}

impl<const N: usize> PtrList<bindings::attribute, N> {
    /// The attributes of `attrs`, NULL-terminated.
    #[doc(hidden)]
    pub(crate) const fn attributes<T: Send + Sync + 'static>(
        attrs: &'static [DeviceAttribute<T>],
    ) -> Self {
        assert!(attrs.len() + 1 == N);
        let mut ptrs = [core::ptr::null(); N];
        let mut i = 0;
        while i < attrs.len() {
            ptrs[i] = attrs[i].as_raw().cast_const();
            i += 1;
        }
        Self(ptrs)
    }
}

/// The unnamed attribute group of a device (its files sit in the device's
/// own directory).
#[doc(hidden)]
#[repr(transparent)]
pub(crate) struct Group(Opaque<bindings::attribute_group>);

// SAFETY: Built in a `static` initialiser and only read afterwards (by sysfs,
// from any thread).  Not `Send` (`Opaque`): it only lives in `static`s.
unsafe impl Sync for Group {}

impl Group {
    #[doc(hidden)]
    pub(crate) const fn new<const N: usize>(
        attrs: &'static PtrList<bindings::attribute, N>,
    ) -> Self {
        let mut group: bindings::attribute_group = pin_init::zeroed();
        group.__bindgen_anon_2.attrs = attrs.0.as_ptr().cast_mut().cast();
        Self(Opaque::new(group))
    }
}

/// The attribute groups of a device whose data is a `T`, for
/// [`Registration::register`]; made by [`attribute_list!`].
///
/// # Invariants
///
/// `groups` is a NULL-terminated list of one attribute group whose
/// attributes all are `DeviceAttribute<T>`s, all `'static`.
pub(crate) struct AttributeGroups<T: 'static> {
    groups: PtrList<bindings::attribute_group, 2>,
    attrs: &'static [DeviceAttribute<T>],
}

// SAFETY: Only read after its `static` initialiser, from any thread: its
// pointers lead to `static`s that are only read too.  Not `Send` (raw
// pointers): it only lives in `static`s.
unsafe impl<T: 'static> Sync for AttributeGroups<T> {}

impl<T: Send + Sync + 'static> AttributeGroups<T> {
    /// The groups of `attrs`, whose attribute pointers `group` lists; use
    /// [`attribute_list!`], which builds both from the same attributes.
    ///
    /// # Safety
    ///
    /// `group` must list exactly the attributes of `attrs`, in order, then
    /// NULL.
    #[doc(hidden)]
    pub(crate) const unsafe fn new(
        attrs: &'static [DeviceAttribute<T>],
        group: &'static Group,
    ) -> Self {
        // INVARIANT: By the function's contract `group` holds `attrs`.
        Self {
            groups: PtrList([group.0.get().cast_const(), core::ptr::null()]),
            attrs,
        }
    }

    /// The files, in the order given.
    pub(crate) fn attributes(&self) -> &'static [DeviceAttribute<T>] {
        self.attrs
    }
}

/// Declares the sysfs files of devices whose data is a `T`:
///
/// ```ignore
/// attribute_list! {
///     static ATTRS: AttributeGroups<State> = [
///         DeviceAttribute::new::<0o644>(c"value", Some(State::show), Some(State::store)),
///     ];
/// }
/// ```
macro_rules! attribute_list {
    ($(#[$meta:meta])* $vis:vis static $name:ident: AttributeGroups<$ty:ty> = [
        $($attr:expr),+ $(,)?
    ];) => {
        $(#[$meta])*
        $vis static $name: $crate::abstractions::misc_attrs::AttributeGroups<$ty> = {
            use $crate::abstractions::misc_attrs::{
                AttributeGroups,
                DeviceAttribute,
                Group,
                PtrList, //
            };
            const N: usize = [$(::core::stringify!($attr)),+].len();
            static ATTRS: [DeviceAttribute<$ty>; N] = [$($attr),+];
            static LIST: PtrList<::kernel::bindings::attribute, { N + 1 }> =
                PtrList::attributes(&ATTRS);
            static GROUP: Group = Group::new(&LIST);
            // SAFETY: `LIST`, in `GROUP`, lists exactly `ATTRS`, then NULL.
            unsafe { AttributeGroups::new(&ATTRS, &GROUP) }
        };
    };
}
pub(crate) use attribute_list;

/// The file operations of every device node: only the owner, as C's
/// test_kmod gives its misc device (`static const struct file_operations
/// test_fops = { .owner = THIS_MODULE, }`).  `misc_open()` then lets an
/// `open()` succeed, holding a reference on this module until the file is
/// closed; reads and writes of the node fail with `-EINVAL`.  A `static`,
/// since an open file keeps pointing at its operations after the device is
/// gone (the module, and with it this, stays until the file is closed).
#[repr(transparent)]
struct FileOperations(bindings::file_operations);

// SAFETY: Built in a `static` initialiser and only read afterwards (by the
// VFS, from any thread).  Not `Send` (raw pointers): it only lives in a
// `static`.
unsafe impl Sync for FileOperations {}

static FOPS: FileOperations = FileOperations(bindings::file_operations {
    // The kernel constructs `__this_module` when it loads the module; only
    // its address is taken.  Built in, the owner is NULL, as `THIS_MODULE`.
    #[cfg(MODULE)]
    owner: (&raw const bindings::__this_module).cast_mut(),
    ..pin_init::zeroed()
});

/// Whether `show` and `store` calls may still reach the data of a
/// [`Registration`], and how many are inside it.
struct Gate {
    /// Set when the registration is being dropped: no call enters any more.
    closed: bool,
    /// Calls inside the data now.
    inside: usize,
}

/// A registered misc device named at run time, with the sysfs files of `T`
/// and the `T` behind them.  Its device node has file operations with only
/// an owner (see the module's documentation).
///
/// # Invariants
///
/// `misc` is registered with `misc_register()`, with `name` as its name,
/// `groups` as its attribute groups, [`FOPS`] as its file operations and
/// itself as its device's driver data, until [`PinnedDrop`] deregisters it;
/// `data` is initialised before the registration and dropped after the
/// deregistration.  Once `gate` is closed it stays closed, and no call of
/// `show_callback` or `store_callback` enters `data` any more; a call that
/// entered is counted in `gate.inside` until it no longer uses `data`.
#[pin_data(PinnedDrop)]
pub(crate) struct Registration<T: Send + Sync + 'static> {
    #[pin]
    misc: Opaque<bindings::miscdevice>,
    name: CString,
    groups: &'static AttributeGroups<T>,
    #[pin]
    gate: Mutex<Gate>,
    /// Signalled when the last call inside the data of a closed gate leaves.
    #[pin]
    left: CondVar,
    #[pin]
    data: T,
}

// SAFETY: Dropping it (`misc_deregister()`, then `T`'s drop) may happen on any
// thread, and `T` is `Send`; the other fields are `Send`.
unsafe impl<T: Send + Sync + 'static> Send for Registration<T> {}
// SAFETY: `&self` reads `name`, `groups` and `misc.minor` (not written while
// registered), locks `gate` and waits on `left` (both made for sharing), and
// hands out `&T`, which is `Sync`.
unsafe impl<T: Send + Sync + 'static> Sync for Registration<T> {}

impl<T: Send + Sync + 'static> Registration<T> {
    /// Registers misc device `name` (a dynamic minor) with the files of
    /// `groups`, backed by `data`, which is set up first.
    ///
    /// Fails with `misc_register()`'s error: `-EBUSY` when no minor is left,
    /// `-EEXIST` when a device of that name exists (which the kernel also
    /// reports in its log), `-ENOMEM`.
    pub(crate) fn register(
        name: CString,
        groups: &'static AttributeGroups<T>,
        data: impl PinInit<T, Error>,
    ) -> impl PinInit<Self, Error> {
        // The string's buffer stays where it is when the `CString` moves
        // into `Self`.
        let name_ptr = name.as_char_ptr();
        let groups_ptr = groups.groups.0.as_ptr().cast_mut();
        try_pin_init!(Self {
            name,
            groups,
            gate <- new_mutex!(Gate {
                closed: false,
                inside: 0,
            }),
            left <- new_condvar!(),
            data <- data,
            misc <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut misc: bindings::miscdevice = pin_init::zeroed();
                misc.minor = bindings::MISC_DYNAMIC_MINOR as i32;
                misc.name = name_ptr;
                misc.groups = groups_ptr;
                misc.fops = &raw const FOPS.0;
                // SAFETY: `slot` is ours to initialise and is pinned.  The
                // name and the groups outlive the registration (the name is
                // a field of `Self`, set up before this one), `FOPS` is a
                // `static`; `gate`, `left` and `data` are initialised
                // already (fields are set up in the order written), so a
                // file read at once finds them.  `misc_register()` makes
                // `slot` the device's driver data, which the callbacks rely
                // on; `drop` deregisters before the memory goes.
                unsafe {
                    slot.write(misc);
                    kernel::error::to_result(bindings::misc_register(slot))
                }
            }),
        })
    }

    /// The data behind the files.
    pub(crate) fn data(&self) -> &T {
        &self.data
    }

    /// The device's name, as in /sys/devices/virtual/misc/<name>.
    pub(crate) fn name(&self) -> &CStr {
        &self.name
    }

    /// The misc minor number the device got.
    pub(crate) fn minor(&self) -> i32 {
        // SAFETY: By the type invariant the device is registered; `minor`
        // was set by `misc_register()` and is not written until
        // `misc_deregister()`.  Only the field is read, through the raw
        // pointer.
        unsafe { (*self.misc.get()).minor }
    }

    /// Lets a `show` or `store` call reach the data, unless the device is
    /// going away (`None`).
    fn enter(&self) -> Option<Inside<'_, T>> {
        let mut gate = self.gate.lock();
        if gate.closed {
            return None;
        }
        gate.inside += 1;
        Some(Inside { registration: self })
    }

    /// Lets no further call reach the data and waits until those inside have
    /// left.  No lock is held while it waits.
    fn quiesce(&self) {
        let mut gate = self.gate.lock();
        gate.closed = true;
        while gate.inside > 0 {
            self.left.wait(&mut gate);
        }
    }
}

/// A `show` or `store` call inside the data of a [`Registration`]; dropping
/// it leaves.
struct Inside<'a, T: Send + Sync + 'static> {
    registration: &'a Registration<T>,
}

impl<T: Send + Sync + 'static> Inside<'_, T> {
    /// The data, which stays valid while the call is inside.
    fn data(&self) -> &T {
        &self.registration.data
    }
}

impl<T: Send + Sync + 'static> Drop for Inside<'_, T> {
    fn drop(&mut self) {
        let mut gate = self.registration.gate.lock();
        gate.inside -= 1;
        if gate.closed && gate.inside == 0 {
            self.registration.left.notify_all();
        }
    }
}

#[pinned_drop]
impl<T: Send + Sync + 'static> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // First without `misc_mtx`: no call reaches `data` any more, and
        // those that did have returned, whatever they waited for.
        self.quiesce();
        // SAFETY: By the type invariant `misc` is registered.  Deregistering
        // removes the files and waits for the calls still running (which
        // return at once: the gate is closed), and no new ones start, before
        // `data` is dropped.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

/// The registration whose device is `dev`.
///
/// # Safety
///
/// `dev` must be the device of a `Registration<T>` that stays registered
/// for `'a`.
unsafe fn registration_of<'a, T: Send + Sync + 'static>(
    dev: *mut bindings::device,
) -> &'a Registration<T> {
    // SAFETY: `misc_register()` made the `struct miscdevice` the driver data
    // of its device; by the function's contract it is the `misc` field of a
    // live `Registration<T>`, which is shared (`Sync`) while registered.
    unsafe {
        let misc = bindings::dev_get_drvdata(dev).cast::<Opaque<bindings::miscdevice>>();
        &*kernel::container_of!(misc, Registration<T>, misc)
    }
}

/// The `show` of every readable [`DeviceAttribute<T>`].
///
/// # Safety
///
/// Called by sysfs only: `dev` is the device of a `Registration<T>` with a
/// file being read, `attr` that file's attribute, inside a
/// `DeviceAttribute<T>` with `show` set, `buf` a page.
unsafe extern "C" fn show_callback<T: Send + Sync + 'static>(
    dev: *mut bindings::device,
    attr: *mut bindings::device_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: Sysfs only calls this for our attributes, which live in
    // `DeviceAttribute<T>`s (first field, `repr(C)`) that are `'static`.
    let attr = unsafe { &*attr.cast::<DeviceAttribute<T>>() };
    // SAFETY: The device stays registered while its files are in use:
    // `misc_deregister()` waits for this call.
    let registration = unsafe { registration_of::<T>(dev) };
    let Some(inside) = registration.enter() else {
        return ENODEV.to_errno() as isize;
    };
    // SAFETY: Sysfs passes a page that is ours to write during the call.
    let page = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), bindings::PAGE_SIZE) };
    let (Some(show), Some(mut out)) = (attr.show, CBuf::new(page)) else {
        return EIO.to_errno() as isize;
    };
    match show(inside.data(), &mut out) {
        Ok(()) => out.len() as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// The `store` of every writable [`DeviceAttribute<T>`].
///
/// # Safety
///
/// Called by sysfs only, as for `show_callback`, with `buf` holding `count`
/// bytes.
unsafe extern "C" fn store_callback<T: Send + Sync + 'static>(
    dev: *mut bindings::device,
    attr: *mut bindings::device_attribute,
    buf: *const c_char,
    count: usize,
) -> isize {
    // SAFETY: As in `show_callback`.
    let attr = unsafe { &*attr.cast::<DeviceAttribute<T>>() };
    // SAFETY: As in `show_callback`.
    let registration = unsafe { registration_of::<T>(dev) };
    let Some(inside) = registration.enter() else {
        return ENODEV.to_errno() as isize;
    };
    // SAFETY: Sysfs passes `count` readable bytes that stay put during the
    // call.
    let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
    let Some(store) = attr.store else {
        return EIO.to_errno() as isize;
    };
    match store(inside.data(), input) {
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}

#[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
#[kernel::macros::kunit_tests(rust_misc_attrs)]
mod tests {
    use super::*;
    use crate::abstractions::{
        compat,
        kthread,
        kunit_skip::ensure, //
    };
    use kernel::{
        fmt::Write,
        sync::{
            atomic::{
                Atomic,
                Relaxed, //
            },
            Arc,
            Completion, //
        },
        time::{
            delay::fsleep,
            Delta, //
        },
    };

    #[pin_data]
    struct Counter {
        #[pin]
        value: Mutex<i32>,
        id: u32,
    }

    impl Counter {
        fn new(id: u32) -> impl PinInit<Self, Error> {
            try_pin_init!(Self {
                value <- new_mutex!(0),
                id,
            })
        }

        fn show_value(&self, out: &mut CBuf<'_>) -> Result {
            writeln!(out, "{} {}", self.id, *self.value.lock())?;
            Ok(())
        }

        fn store_value(&self, input: &[u8]) -> Result {
            let value = crate::abstractions::kstrtox::kstrtoint_bytes(input, 10)?;
            *self.value.lock() = value;
            Ok(())
        }

        fn show_id(&self, out: &mut CBuf<'_>) -> Result {
            writeln!(out, "{}", self.id)?;
            Ok(())
        }

        fn store_reset(&self, _input: &[u8]) -> Result {
            *self.value.lock() = 0;
            Ok(())
        }
    }

    attribute_list! {
        static ATTRS: AttributeGroups<Counter> = [
            DeviceAttribute::new::<0o644>(c"value", Some(Counter::show_value), Some(Counter::store_value)),
            DeviceAttribute::new::<0o444>(c"id", Some(Counter::show_id), None),
            DeviceAttribute::new::<0o200>(c"reset", None, Some(Counter::store_reset)),
        ];
    }

    /// The device of `reg`, as sysfs passes it to the callbacks.
    fn device_of<U: Send + Sync + 'static>(reg: &Registration<U>) -> *mut bindings::device {
        // SAFETY: The registration is live, so `misc` is registered; only
        // the field is read.
        unsafe { (*reg.misc.get()).this_device }
    }

    /// Calls the `show` of `attr` on `dev`, as sysfs does for a read.
    ///
    /// # Safety
    ///
    /// `dev` must be the device of a registration of `U` that stays
    /// registered during the call.
    unsafe fn show_on<U: Send + Sync + 'static>(
        dev: *mut bindings::device,
        attr: &'static DeviceAttribute<U>,
        page: &mut [u8],
    ) -> isize {
        if page.len() < bindings::PAGE_SIZE {
            return EINVAL.to_errno() as isize;
        }
        // SAFETY: By the function's contract `dev` is registered; `page`
        // is a page; the attribute is a `'static` one of `U`.
        unsafe {
            match (*attr.attr.get()).__bindgen_anon_1.show {
                Some(show) => show(dev, attr.attr.get(), page.as_mut_ptr().cast()),
                None => EIO.to_errno() as isize,
            }
        }
    }

    /// Calls the `store` of `attr` on `dev`, as sysfs does for a write.
    ///
    /// # Safety
    ///
    /// As for [`show_on`].
    unsafe fn store_on<U: Send + Sync + 'static>(
        dev: *mut bindings::device,
        attr: &'static DeviceAttribute<U>,
        input: &[u8],
    ) -> isize {
        // SAFETY: By the function's contract `dev` is registered; `input`
        // is readable; the attribute is a `'static` one of `U`.
        unsafe {
            match (*attr.attr.get()).__bindgen_anon_2.store {
                Some(store) => store(dev, attr.attr.get(), input.as_ptr().cast(), input.len()),
                None => EIO.to_errno() as isize,
            }
        }
    }

    /// Reads file `index` of `reg` through the callback sysfs would call
    /// (a KUnit case runs in a kernel thread, which cannot open /sys paths).
    fn read(reg: &Registration<Counter>, index: usize, page: &mut [u8]) -> isize {
        // SAFETY: `reg` is borrowed, so it stays registered.
        unsafe { show_on(device_of(reg), &ATTRS.attributes()[index], page) }
    }

    /// Writes `input` to file `index` of `reg`, as sysfs would.
    fn write(reg: &Registration<Counter>, index: usize, input: &[u8]) -> isize {
        // SAFETY: `reg` is borrowed, so it stays registered.
        unsafe { store_on(device_of(reg), &ATTRS.attributes()[index], input) }
    }

    fn register(id: u32) -> Result<Pin<KBox<Registration<Counter>>>> {
        let name = CString::try_from_fmt(fmt!("rust_misc_attrs{id}"))?;
        KBox::pin_init(
            Registration::register(name, &ATTRS, Counter::new(id)),
            GFP_KERNEL,
        )
    }

    /// The files are what was declared, with their permissions and only
    /// the callbacks their permissions call for.
    #[test]
    fn declared_files() {
        let attrs = ATTRS.attributes();
        assert_eq!(attrs.len(), 3);
        assert_eq!(attrs[0].name().to_bytes(), b"value");
        assert_eq!(attrs[2].name().to_bytes(), b"reset");
        // SAFETY: The attributes are initialised statics, only read.
        unsafe {
            assert_eq!((*attrs[1].attr.get()).attr.mode, 0o444);
            assert!((*attrs[1].attr.get()).__bindgen_anon_2.store.is_none());
            assert!((*attrs[2].attr.get()).__bindgen_anon_1.show.is_none());
        }
    }

    /// Every permission sysfs takes (the bits of 0664) is a valid mode, and
    /// nothing else is (checked when compiling; here the rule itself).
    #[test]
    fn sysfs_modes() {
        assert_eq!(Mode::<0o664>::CHECKED, 0o664);
        assert_eq!(Mode::<0o644>::CHECKED, 0o644);
        assert_eq!(Mode::<0o220>::CHECKED, 0o220);
        assert_eq!(Mode::<0>::CHECKED, 0);
        for bad in [0o755u16, 0o666, 0o100, 0o1644, 0o10644] {
            assert!(bad & !SYSFS_MODE_BITS != 0);
        }
    }

    /// Devices named at run time, many at once, each reaching its own data
    /// through its files.  Every check while devices exist returns an error
    /// (so that they are dropped) rather than aborting the case.
    #[test]
    fn many_devices() -> Result {
        let mut devices = KVec::new();
        for id in 0..16 {
            devices.push(register(id)?, GFP_KERNEL)?;
        }
        let mut page = KVec::from_elem(0u8, bindings::PAGE_SIZE, GFP_KERNEL)?;
        for (id, dev) in (0..).zip(devices.iter()) {
            ensure!(
                dev.name().to_bytes()
                    == CString::try_from_fmt(fmt!("rust_misc_attrs{id}"))?.to_bytes()
            );
            ensure!(dev.minor() >= 0);
            ensure!(write(dev, 0, b"-7\n") == 3);
            let n = read(dev, 0, &mut page);
            let expected = CString::try_from_fmt(fmt!("{id} -7\n"))?;
            ensure!(n == expected.to_bytes().len() as isize);
            ensure!(&page[..n as usize] == expected.to_bytes());
        }
        // A rejected write returns the error and changes nothing.
        ensure!(write(&devices[3], 0, b"x") == EINVAL.to_errno() as isize);
        ensure!(write(&devices[3], 2, b"1") == 1);
        let n = read(&devices[3], 0, &mut page);
        ensure!(n >= 0 && &page[..n as usize] == b"3 0\n");
        let n = read(&devices[4], 1, &mut page);
        ensure!(n >= 0 && &page[..n as usize] == b"4\n");
        Ok(())
    }

    /// Dropping a registration frees its name and minor: the same name
    /// registers again.
    #[test]
    fn name_is_freed() -> Result {
        drop(register(100)?);
        let again = register(100)?;
        ensure!(again.minor() >= 0);
        Ok(())
    }

    /// The device node has file operations whose owner is this module (NULL
    /// built in), as C's `test_fops`.
    #[test]
    fn file_operations_owner() -> Result {
        let reg = register(101)?;
        // SAFETY: `reg` is registered; its `fops` was set to `FOPS`, a
        // `static`; only fields are read.
        let (fops, owner) = unsafe {
            let fops = (*reg.misc.get()).fops;
            (fops, (*fops).owner)
        };
        ensure!(fops == &raw const FOPS.0);
        ensure!(owner == compat::this_module().as_ptr());
        Ok(())
    }

    /// What the device of the drop test does: its `store` says it entered,
    /// then waits to be released.
    #[pin_data]
    struct Blocking {
        entered: Arc<Completion>,
        release: Arc<Completion>,
    }

    impl Blocking {
        fn store(&self, _input: &[u8]) -> Result {
            self.entered.complete_all();
            self.release.wait_for_completion();
            Ok(())
        }
    }

    attribute_list! {
        static BLOCKING: AttributeGroups<Blocking> = [
            DeviceAttribute::new::<0o200>(c"block", None, Some(Blocking::store)),
        ];
    }

    /// Completes a completion when dropped.
    struct ReleaseOnDrop(Arc<Completion>);

    impl Drop for ReleaseOnDrop {
        fn drop(&mut self) {
            self.0.complete_all();
        }
    }

    /// Dropping a registration waits for a `store` running in it, holding
    /// no lock (a `store` that arrives meanwhile is refused with -ENODEV at
    /// once instead of waiting), then deregisters.
    #[test]
    fn drop_waits_for_running_calls() -> Result {
        let entered = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
        let release = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
        let dropped = Arc::new(Atomic::<i32>::new(0), GFP_KERNEL)?;
        let written = Arc::new(Atomic::<i64>::new(0), GFP_KERNEL)?;
        let (entered_in, release_in) = (entered.clone(), release.clone());
        let reg = KBox::pin_init(
            Registration::register(
                CString::try_from(c"rust_misc_attrs_drop")?,
                &BLOCKING,
                try_pin_init!(Blocking {
                    entered: entered_in,
                    release: release_in,
                }),
            ),
            GFP_KERNEL,
        )?;
        // Addresses only, for the threads: the registration is dropped by
        // the dropper, or here if the dropper never ran.
        let dev = device_of(&reg) as usize;
        let gate = core::ptr::from_ref(&reg.gate) as usize;
        let slot = Arc::pin_init(new_mutex!(Some(reg)), GFP_KERNEL)?;

        let seen = written.clone();
        let writer = kthread::spawn(fmt!("rust_misc_attrs_w"), move || {
            // SAFETY: The registration is dropped only after this call
            // returned: its drop waits for it.
            let ret = unsafe { store_on(dev as *mut _, &BLOCKING.attributes()[0], b"1") };
            seen.store(ret as i64, Relaxed);
        })?;
        // Dropped before `writer` (which joins it), on every path: the
        // writer is let go.
        let _release = ReleaseOnDrop(release.clone());
        entered.wait_for_completion();
        let (done, taken) = (dropped.clone(), slot.clone());
        let dropper = kthread::spawn(fmt!("rust_misc_attrs_d"), move || {
            let reg = taken.lock().take();
            drop(reg);
            done.store(1, Relaxed);
        })?;
        // Wait until the drop has closed the gate (at most ~10 s).
        let mut closed = false;
        for _ in 0..1000 {
            // SAFETY: The registration, and its gate, live until the writer
            // has left, which it cannot before `release` is completed below.
            closed = unsafe { (*(gate as *const Mutex<Gate>)).lock().closed };
            if closed {
                break;
            }
            fsleep(Delta::from_millis(10));
        }
        // Give the drop time to get past the wait, if it (wrongly) would.
        fsleep(Delta::from_millis(100));
        let waited = dropped.load(Relaxed) == 0;
        // SAFETY: As above: still registered while the writer is inside.
        let late = unsafe { store_on(dev as *mut _, &BLOCKING.attributes()[0], b"1") };
        release.complete_all();
        writer.join();
        dropper.join();
        ensure!(closed);
        ensure!(waited);
        ensure!(late == ENODEV.to_errno() as isize);
        ensure!(written.load(Relaxed) == 1);
        ensure!(slot.lock().is_none());
        ensure!(dropped.load(Relaxed) == 1);
        Ok(())
    }
}
