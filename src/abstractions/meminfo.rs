// SPDX-License-Identifier: GPL-2.0

//! Memory figures a driver needs to size its own work: `si_mem_available()`
//! of include/linux/mm.h (what /proc/meminfo shows as `MemAvailable`), and
//! what every task costs at least: its kernel stack (`THREAD_SIZE`, doubled
//! or more by KASAN) and its `task_struct`.
//!
//! `THREAD_SIZE` is a C expression bindgen cannot evaluate, so it is
//! computed here from the constants it is made of, as each architecture's
//! header defines it: `UL(1) << THREAD_SHIFT` on arm64
//! (arch/arm64/include/asm/memory.h, where `THREAD_SIZE_ORDER` exists only
//! when the stack is at least a page) and `1 << THREAD_SHIFT` on powerpc
//! (arch/powerpc/include/asm/thread_info.h, where `THREAD_SIZE_ORDER` is
//! negative when the stack is smaller than a 64K page), `SZ_16K` on
//! LoongArch (arch/loongarch/include/asm/thread_info.h, whose
//! `THREAD_SIZE_ORDER` is an `ilog2()`), and `PAGE_SIZE << THREAD_SIZE_ORDER`
//! everywhere else Rust builds (x86, RISC-V, arm, s390, UML).

use kernel::{
    bindings,
    prelude::*, //
};

/// `THREAD_SIZE`: the size of every task's kernel stack, in bytes.
#[cfg(any(CONFIG_ARM64, CONFIG_PPC))]
pub(crate) const THREAD_SIZE: usize = 1 << bindings::THREAD_SHIFT;

/// `THREAD_SIZE`: the size of every task's kernel stack, in bytes.
#[cfg(CONFIG_LOONGARCH)]
pub(crate) const THREAD_SIZE: usize = bindings::THREAD_SIZE as usize;

/// `THREAD_SIZE`: the size of every task's kernel stack, in bytes.
#[cfg(not(any(CONFIG_ARM64, CONFIG_PPC, CONFIG_LOONGARCH)))]
pub(crate) const THREAD_SIZE: usize = bindings::PAGE_SIZE << bindings::THREAD_SIZE_ORDER;

/// The size of `struct task_struct` as this kernel lays it out (the
/// architecture may allocate a few KiB more for register state).
pub(crate) const TASK_STRUCT_SIZE: usize = size_of::<bindings::task_struct>();

/// Memory that can be had without swapping (`MemAvailable`), in bytes.
pub(crate) fn available_memory() -> usize {
    // SAFETY: Always safe to call; it only reads counters.
    let pages = unsafe { bindings::si_mem_available() };
    usize::try_from(pages)
        .unwrap_or(0)
        .saturating_mul(bindings::PAGE_SIZE)
}

#[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
#[kernel::macros::kunit_tests(rust_meminfo)]
mod tests {
    use super::*;

    /// What is allocated is no longer available: 16 MiB taken lower the
    /// figure by at least half that (other tasks come and go meanwhile).
    #[test]
    fn follows_allocations() -> Result {
        const SIZE: usize = 16 << 20;
        let before = available_memory();
        assert!(before > SIZE);
        let mut held = VVec::<u8>::with_capacity(SIZE, GFP_KERNEL)?;
        held.resize(SIZE, 1, GFP_KERNEL)?;
        let during = available_memory();
        drop(held);
        assert!(during + SIZE / 2 <= before);
        Ok(())
    }

    /// Stacks are at least 8 KiB, a power of two; KASAN doubles them on
    /// x86_64 (`KASAN_STACK_ORDER`), to 32 KiB.  (Not always whole pages:
    /// arm64 and powerpc with 64 KiB pages and no `VMAP_STACK` have 16 KiB
    /// stacks.)
    #[test]
    fn stack_size() {
        assert!(THREAD_SIZE >= 8192);
        assert!(THREAD_SIZE.is_power_of_two());
        #[cfg(all(CONFIG_X86_64, CONFIG_KASAN))]
        assert!(THREAD_SIZE >= 32 << 10);
        assert!(TASK_STRUCT_SIZE > 1024);
    }
}
