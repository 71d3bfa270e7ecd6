// SPDX-License-Identifier: GPL-2.0
//! Memory of finished tests, reused for the next ones.
//!
//! A test-dense log has a test every hundred bytes or so, and each test
//! would otherwise allocate and free its frame, its name, its log buffers
//! and, for a suite, its list of subtests.  The tree builder takes them
//! from these pools and gives them back when a test is finished (or, when
//! streaming, handed over).  Each pool is bounded, so a hostile log cannot
//! make it hoard memory.  Nothing here changes what the builder builds.

use super::log::Log;
use super::test::Test;

/// A bounded stack of reusable values.
#[derive(Debug)]
struct Pool<T> {
    items: Vec<T>,
    max: usize,
}

impl<T> Pool<T> {
    const fn new(max: usize) -> Self {
        Pool {
            items: Vec::new(),
            max,
        }
    }

    fn take(&mut self) -> Option<T> {
        self.items.pop()
    }

    fn put(&mut self, t: T) {
        if self.items.len() < self.max {
            self.items.push(t);
        }
    }
}

/// Most names kept, and the longest (a hostile log may have long ones).
const NAMES_MAX: usize = 1024;
const NAME_MAX: usize = 256;

/// The pools of a tree builder whose frames are `F`s.
#[derive(Debug)]
pub(crate) struct Recycler<F> {
    /// Frames of finished tests (boxed: a frame is several hundred bytes).
    frames: Pool<Box<F>>,
    /// Buffers of logs that were not kept.
    logs: Pool<(String, Vec<(u32, u32)>)>,
    /// Names of tests handed over, cleared.
    names: Pool<String>,
    /// Subtest lists of tests handed over, emptied (each has room for at
    /// most [`super::tree::PLAN_RESERVE_MAX`] tests unless they really came).
    lists: Pool<Vec<Test>>,
}

impl<F> Default for Recycler<F> {
    fn default() -> Self {
        Recycler {
            frames: Pool::new(16),
            logs: Pool::new(8),
            names: Pool::new(NAMES_MAX),
            lists: Pool::new(8),
        }
    }
}

impl<F> Recycler<F> {
    /// A frame of a finished test, if there is one.
    #[inline]
    pub(crate) fn frame(&mut self) -> Option<Box<F>> {
        self.frames.take()
    }

    /// A frame no longer used.
    #[inline]
    pub(crate) fn put_frame(&mut self, f: Box<F>) {
        self.frames.put(f);
    }

    /// An empty log, in the buffers of one that was not kept if there are.
    #[inline]
    pub(crate) fn log(&mut self) -> Log {
        self.logs.take().map(Log::reusing).unwrap_or_default()
    }

    /// A log no longer used.
    #[inline]
    pub(crate) fn put_log(&mut self, log: Log) {
        if self.logs.items.len() < self.logs.max
            && let Some(buffers) = log.into_buffers()
        {
            self.logs.put(buffers);
        }
    }

    /// An empty name with room, if there is one.
    #[inline]
    pub(crate) fn name(&mut self) -> Option<String> {
        self.names.take()
    }

    /// An empty subtest list with room, if there is one.
    #[inline]
    pub(crate) fn list(&mut self) -> Option<Vec<Test>> {
        self.lists.take()
    }

    /// Keep the names and subtest lists of a test that is no longer needed.
    pub(crate) fn recycle(&mut self, mut t: Test) {
        let mut subtests = std::mem::take(&mut t.subtests);
        for s in subtests.drain(..) {
            self.recycle(s);
        }
        if subtests.capacity() > 0 {
            self.lists.put(subtests);
        }
        if (1..=NAME_MAX).contains(&t.name.capacity()) && self.names.items.len() < self.names.max {
            t.name.clear();
            self.names.put(t.name);
        }
    }
}
