// SPDX-License-Identifier: GPL-2.0

//! Creating test devices from userspace, through configfs, as
//! drivers/block/rnull/configfs.rs does for null block devices (and C's
//! null_blk `power` and gpio-sim `live` attributes):
//!
//! ```text
//! mkdir /sys/kernel/config/test_kmod/a          # an item, no device yet
//! echo 8 > /sys/kernel/config/test_kmod/a/threads
//! echo 1 > /sys/kernel/config/test_kmod/a/live  # registers test_kmod<N>
//! cat /sys/kernel/config/test_kmod/a/device     # test_kmod<N>
//! echo 0 > /sys/kernel/config/test_kmod/a/live  # unregisters it
//! rmdir /sys/kernel/config/test_kmod/a
//! ```
//!
//! - Item names are 1 to 32 bytes of `[A-Za-z0-9_-]`, else -EINVAL; a name
//!   that exists is -EEXIST (from the VFS).  At most `MAX_DEVICES` items
//!   exist at once, else -ENOSPC.
//! - `live` takes what `kstrtobool()` takes (`1`, `y`, `Y`, `t`, `T`, `on`
//!   for true; `0`, `n`, `N`, `f`, `F`, `off` for false; the rest of the
//!   write is not looked at), else -EINVAL.  Writing the current value
//!   again changes nothing.  1 registers misc device `test_kmod<N>`, N the
//!   lowest free number from 1, with test_kmod0's knobs; 0 unregisters it,
//!   or fails with -EBUSY while a trigger runs on it (the device is left
//!   as it was).
//! - `threads` is the device's `config_num_threads` after `reset` (default
//!   `start_num_threads`, 50), 1 to 4194304; -EBUSY while live.
//! - `device` tells the device's name while live, nothing otherwise.  It
//!   has no `store`: a write fails with -EACCES.
//! - `rmdir` of a live item removes its device; configfs gives a driver no
//!   veto, so if a trigger runs on it, the removal waits for the trigger to
//!   end, and meanwhile the VFS holds the lock of the test_kmod directory:
//!   other `mkdir` and `rmdir` there wait too.  (The removal happens when
//!   configfs releases the item: at `rmdir`, or when the last open file of
//!   the item is closed.)
//! - Every item holds a reference on the module: `rmmod` fails ("in use")
//!   until all are removed.

use crate::{
    abstractions::{
        cbuf::CBuf,
        compat::configfs_attrs,
        kstrtox, //
    },
    devices::{
        Device,
        MAX_DEVICES,
        REGISTRY, //
    },
    knobs::MAX_THREADS,
    params,
};
use core::fmt::Write;
use kernel::{
    configfs::{
        self,
        AttributeOperations, //
    },
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    str::kstrtobool_bytes,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Mutex, //
    },
};

/// The longest item name.
const MAX_NAME: usize = 32;

/// The configfs subsystem `test_kmod`, whose items are test devices.
pub(crate) fn subsystem() -> impl PinInit<configfs::Subsystem<Devices>, Error> {
    let item_type = configfs_attrs! {
        container: configfs::Subsystem<Devices>,
        data: Devices,
        child: DeviceItem,
        attributes: [],
    };
    configfs::Subsystem::new(c"test_kmod", item_type, try_pin_init!(Devices {}))
}

/// The data of the subsystem's root: nothing (the devices are numbered by
/// [`REGISTRY`]; see `compat` for why it must be empty).
#[pin_data]
pub(crate) struct Devices {}

/// How many items exist.
static ITEMS: Atomic<u32> = Atomic::new(0);

/// One of the at most `MAX_DEVICES` items, counted while it lives.
struct ItemSlot;

impl ItemSlot {
    fn claim() -> Result<Self> {
        let mut items = ITEMS.load(Relaxed);
        loop {
            if items >= MAX_DEVICES {
                return Err(ENOSPC);
            }
            match ITEMS.cmpxchg(items, items + 1, Relaxed) {
                Ok(_) => return Ok(Self),
                Err(seen) => items = seen,
            }
        }
    }
}

impl Drop for ItemSlot {
    fn drop(&mut self) {
        ITEMS.fetch_sub(1, Relaxed);
    }
}

/// Whether `name` is a valid item name.
fn valid_name(name: &[u8]) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[vtable]
impl configfs::GroupOperations for Devices {
    type Child = DeviceItem;

    fn make_group(&self, name: &CStr) -> Result<impl PinInit<configfs::Group<DeviceItem>, Error>> {
        if !valid_name(name.to_bytes()) {
            return Err(EINVAL);
        }
        let slot = ItemSlot::claim()?;
        let item_type = configfs_attrs! {
            container: configfs::Group<DeviceItem>,
            data: DeviceItem,
            attributes: [
                live: 0,
                device: 1,
                threads: 2,
            ],
        };
        Ok(configfs::Group::new(
            name.try_into()?,
            item_type,
            try_pin_init!(DeviceItem {
                state <- new_mutex!(ItemState {
                    device: None,
                    threads: params::start_num_threads(),
                }),
                _slot: slot,
            }),
        ))
    }
}

/// A configfs item: a test device once it is live.  Dropping it (when
/// configfs releases the item) removes the device.
#[pin_data]
pub(crate) struct DeviceItem {
    /// Taken by every write of the item's attributes.
    #[pin]
    state: Mutex<ItemState>,
    _slot: ItemSlot,
}

struct ItemState {
    /// The device, while `live` is 1.
    device: Option<Device>,
    /// The device's `config_num_threads` after `reset`.
    threads: u32,
}

/// Writes what `write` prints into `page`; returns its length.
fn show(page: &mut [u8; PAGE_SIZE], write: impl FnOnce(&mut CBuf<'_>) -> Result) -> Result<usize> {
    let mut out = CBuf::new(page).ok_or(EINVAL)?;
    write(&mut out)?;
    Ok(out.len())
}

#[vtable]
impl AttributeOperations<0> for DeviceItem {
    type Data = DeviceItem;

    fn show(this: &DeviceItem, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        let live = this.state.lock().device.is_some();
        show(page, |out| Ok(writeln!(out, "{}", u8::from(live))?))
    }

    fn store(this: &DeviceItem, page: &[u8]) -> Result {
        let live = kstrtobool_bytes(page)?;
        let mut state = this.state.lock();
        match (live, state.device.take()) {
            (true, None) => state.device = Some(REGISTRY.create(state.threads)?),
            (false, Some(device)) => {
                if let Err((device, e)) = device.remove() {
                    state.device = Some(device);
                    return Err(e);
                }
            }
            // Already so: nothing changes.
            (_, device) => state.device = device,
        }
        Ok(())
    }
}

#[vtable]
impl AttributeOperations<1> for DeviceItem {
    type Data = DeviceItem;

    fn show(this: &DeviceItem, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        let state = this.state.lock();
        show(page, |out| {
            if let Some(name) = state.device.as_ref().map(Device::name) {
                out.write_bytes(name.to_bytes());
                out.write_bytes(b"\n");
            }
            Ok(())
        })
    }
}

#[vtable]
impl AttributeOperations<2> for DeviceItem {
    type Data = DeviceItem;

    fn show(this: &DeviceItem, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        let threads = this.state.lock().threads;
        show(page, |out| Ok(writeln!(out, "{threads}")?))
    }

    fn store(this: &DeviceItem, page: &[u8]) -> Result {
        let threads = kstrtox::kstrtouint_bytes(page, 10)?;
        if threads == 0 || threads > MAX_THREADS {
            return Err(EINVAL);
        }
        let mut state = this.state.lock();
        if state.device.is_some() {
            return Err(EBUSY);
        }
        state.threads = threads;
        Ok(())
    }
}
