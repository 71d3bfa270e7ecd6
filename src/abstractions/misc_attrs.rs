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
//!         DeviceAttribute::new(c"value", 0o644, Some(State::show_value), Some(State::store_value)),
//!         DeviceAttribute::new(c"reset", 0o200, None, Some(State::reset)),
//!     ];
//! }
//! let dev = KBox::pin_init(Registration::register(name, &ATTRS, State::new()), GFP_KERNEL)?;
//! ```
//!
//! The files are created together with the device, so there is no moment in
//! which the device exists without them, and dropping the [`Registration`]
//! deregisters the device, which waits for every running `show` or `store`
//! to return before the data behind them goes.

use super::cbuf::CBuf;
use kernel::{
    bindings,
    prelude::*,
    str::CString,
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
// attribute: sysfs and the callbacks only read it.
unsafe impl<T> Sync for DeviceAttribute<T> {}

impl<T: Send + Sync + 'static> DeviceAttribute<T> {
    /// File `name` with permissions `mode` (as `DEVICE_ATTR()`).  A readable
    /// file needs `show`, a writable one `store`, and neither may be given
    /// without the permission; nobody but the owner may write (sysfs
    /// refuses world-writable files).  Checked at compile time.
    pub(crate) const fn new(
        name: &'static CStr,
        mode: u16,
        show: Option<ShowFn<T>>,
        store: Option<StoreFn<T>>,
    ) -> Self {
        assert!(mode & !0o777 == 0, "not a permission");
        assert!(mode & 0o002 == 0, "sysfs refuses world-writable files");
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
// written afterwards.
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

// SAFETY: Built in a `static` initialiser and only read afterwards.
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

// SAFETY: Only read after its `static` initialiser.
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
///         DeviceAttribute::new(c"value", 0o644, Some(State::show), Some(State::store)),
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

/// A registered misc device named at run time, with the sysfs files of `T`
/// and the `T` behind them.  It has no file operations: opening its device
/// node fails with `-ENODEV`, only its sysfs files matter.
///
/// # Invariants
///
/// `misc` is registered with `misc_register()`, with `name` as its name,
/// `groups` as its attribute groups and itself as its device's driver data,
/// until [`PinnedDrop`] deregisters it; `data` is initialised before the
/// registration and dropped after the deregistration.
#[pin_data(PinnedDrop)]
pub(crate) struct Registration<T: Send + Sync + 'static> {
    #[pin]
    misc: Opaque<bindings::miscdevice>,
    name: CString,
    groups: &'static AttributeGroups<T>,
    #[pin]
    data: T,
}

// SAFETY: `misc_deregister()` may be called from any thread, and `T` is
// `Send`.
unsafe impl<T: Send + Sync + 'static> Send for Registration<T> {}
// SAFETY: `&self` only reads `name`, `groups` and `data`, which is `Sync`.
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
            data <- data,
            misc <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut misc: bindings::miscdevice = pin_init::zeroed();
                misc.minor = bindings::MISC_DYNAMIC_MINOR as i32;
                misc.name = name_ptr;
                misc.groups = groups_ptr;
                // SAFETY: `slot` is ours to initialise and is pinned.  The
                // name and the groups outlive the registration (the name is
                // a field of `Self`, set up before this one); `data` is
                // initialised already (fields are set up in the order
                // written), so a file read at once finds it.
                // `misc_register()` makes `slot` the device's driver data,
                // which the callbacks rely on; `drop` deregisters before
                // the memory goes.
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
        // `misc_deregister()`.
        unsafe { (*self.misc.get()).minor }
    }
}

#[pinned_drop]
impl<T: Send + Sync + 'static> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant `misc` is registered.  Deregistering
        // removes the files and waits for running `show`/`store` calls,
        // and no new ones start, before `data` is dropped.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

/// The data behind `dev`.
///
/// # Safety
///
/// `dev` must be the device of a `Registration<T>` that stays registered
/// for `'a`.
unsafe fn data_of<'a, T: Send + Sync + 'static>(dev: *mut bindings::device) -> &'a T {
    // SAFETY: `misc_register()` made the `struct miscdevice` the driver data
    // of its device; by the function's contract it is the `misc` field of a
    // live `Registration<T>`.
    unsafe {
        let misc = bindings::dev_get_drvdata(dev).cast::<Opaque<bindings::miscdevice>>();
        let registration = kernel::container_of!(misc, Registration<T>, misc);
        &(*registration).data
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
    let data = unsafe { data_of::<T>(dev) };
    // SAFETY: Sysfs passes a page that is ours to write during the call.
    let page = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), bindings::PAGE_SIZE) };
    let (Some(show), Some(mut out)) = (attr.show, CBuf::new(page)) else {
        return EIO.to_errno() as isize;
    };
    match show(data, &mut out) {
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
    let data = unsafe { data_of::<T>(dev) };
    // SAFETY: Sysfs passes `count` readable bytes that stay put during the
    // call.
    let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
    let Some(store) = attr.store else {
        return EIO.to_errno() as isize;
    };
    match store(data, input) {
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}

#[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
#[kernel::macros::kunit_tests(rust_misc_attrs)]
mod tests {
    use super::*;
    use kernel::{
        fmt::Write,
        new_mutex,
        sync::Mutex, //
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
            DeviceAttribute::new(c"value", 0o644, Some(Counter::show_value), Some(Counter::store_value)),
            DeviceAttribute::new(c"id", 0o444, Some(Counter::show_id), None),
            DeviceAttribute::new(c"reset", 0o200, None, Some(Counter::store_reset)),
        ];
    }

    /// Reads file `index` of `reg` through the callback sysfs would call
    /// (a KUnit case runs in a kernel thread, which cannot open /sys paths).
    fn read(reg: &Registration<Counter>, index: usize, page: &mut [u8]) -> isize {
        let attr = &ATTRS.attributes()[index];
        // SAFETY: The registration is live; `page` is a page.
        unsafe {
            let dev = (*reg.misc.get()).this_device;
            match (*attr.attr.get()).__bindgen_anon_1.show {
                Some(show) => show(dev, attr.attr.get(), page.as_mut_ptr().cast()),
                None => EIO.to_errno() as isize,
            }
        }
    }

    /// Writes `input` to file `index` of `reg`, as sysfs would.
    fn write(reg: &Registration<Counter>, index: usize, input: &[u8]) -> isize {
        let attr = &ATTRS.attributes()[index];
        // SAFETY: The registration is live; `input` is readable.
        unsafe {
            let dev = (*reg.misc.get()).this_device;
            match (*attr.attr.get()).__bindgen_anon_2.store {
                Some(store) => store(dev, attr.attr.get(), input.as_ptr().cast(), input.len()),
                None => EIO.to_errno() as isize,
            }
        }
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

    /// Devices named at run time, many at once, each reaching its own data
    /// through its files.
    #[test]
    fn many_devices() -> Result {
        let mut devices = KVec::new();
        for id in 0..16 {
            devices.push(register(id)?, GFP_KERNEL)?;
        }
        let mut page = KVec::from_elem(0u8, bindings::PAGE_SIZE, GFP_KERNEL)?;
        for (id, dev) in (0..).zip(devices.iter()) {
            assert_eq!(
                dev.name().to_bytes(),
                CString::try_from_fmt(fmt!("rust_misc_attrs{id}"))?.to_bytes()
            );
            assert!(dev.minor() >= 0);
            assert_eq!(write(dev, 0, b"-7\n"), 3);
            let n = read(dev, 0, &mut page);
            let expected = CString::try_from_fmt(fmt!("{id} -7\n"))?;
            assert_eq!(n, expected.to_bytes().len() as isize);
            assert_eq!(&page[..n as usize], expected.to_bytes());
        }
        // A rejected write returns the error and changes nothing.
        assert_eq!(write(&devices[3], 0, b"x"), EINVAL.to_errno() as isize);
        assert_eq!(write(&devices[3], 2, b"1"), 1);
        let n = read(&devices[3], 0, &mut page);
        assert_eq!(&page[..n as usize], b"3 0\n");
        let n = read(&devices[4], 1, &mut page);
        assert_eq!(&page[..n as usize], b"4\n");
        Ok(())
    }

    /// Dropping a registration frees its name and minor: the same name
    /// registers again.
    #[test]
    fn name_is_freed() -> Result {
        drop(register(100)?);
        let again = register(100)?;
        assert!(again.minor() >= 0);
        Ok(())
    }
}
