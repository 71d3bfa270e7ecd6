// SPDX-License-Identifier: GPL-2.0

//! Formatting into a fixed-size C character buffer the way `scnprintf()`
//! (include/linux/sprintf.h) does: what does not fit is cut off, room is
//! always kept for the terminating NUL, and the length written is known.
//!
//! `kernel::str::Formatter` and `NullTerminatedFormatter` fail instead of
//! cutting, and only take `&str`; a sysfs `show` that prints a stored string
//! as C's `"%s"` does must copy bytes that need not be UTF-8.  Used for sysfs
//! pages ([`super::misc_attrs`]) and KUnit's status comment
//! ([`super::kunit_skip`]).

use core::fmt;

/// A writer over a caller's byte buffer with `scnprintf()`'s truncation.
///
/// `Send` and `Sync` as `&mut [u8]` is (derived, no raw pointer inside).
///
/// # Invariants
///
/// `len < buf.len()`, `buf[..len]` holds what was written and `buf[len]` is 0.
pub(crate) struct CBuf<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> CBuf<'a> {
    /// A writer over `buf`, which it empties (a NUL at its start).  `None`
    /// when `buf` has no room even for the NUL.
    pub(crate) fn new(buf: &'a mut [u8]) -> Option<Self> {
        *buf.first_mut()? = 0;
        // INVARIANT: `buf` is not empty, and `buf[0]` is the NUL after nothing.
        Some(Self { buf, len: 0 })
    }

    /// Appends `bytes` verbatim, as far as they fit (the last byte of the
    /// buffer stays for the NUL).
    pub(crate) fn write_bytes(&mut self, bytes: &[u8]) {
        // By the invariant `len < buf.len()`, so this does not underflow.
        let room = self.buf.len() - 1 - self.len;
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        // INVARIANT: `len` grew by at most `room`, so `len < buf.len()` still
        // holds, and the NUL follows the new contents.
        self.buf[self.len] = 0;
    }

    /// What was written, without the NUL.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// How many bytes were written, without the NUL (what `scnprintf()`
    /// returns).
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl fmt::Write for CBuf<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

#[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
#[kernel::macros::kunit_tests(rust_cbuf)]
mod tests {
    use super::CBuf;
    use core::fmt::Write;
    use kernel::prelude::*;

    #[test]
    fn cuts_what_does_not_fit() -> Result {
        let mut buf = [0xffu8; 8];
        let mut out = CBuf::new(&mut buf).ok_or(EINVAL)?;
        write!(out, "{}-{}", 1234, 56789)?;
        assert_eq!(out.as_bytes(), b"1234-56");
        assert_eq!(out.len(), 7);
        out.write_bytes(b"more");
        assert_eq!(out.len(), 7);
        assert_eq!(buf, *b"1234-56\0");
        Ok(())
    }

    #[test]
    fn copies_any_bytes() -> Result {
        let mut buf = [0xffu8; 16];
        let mut out = CBuf::new(&mut buf).ok_or(EINVAL)?;
        out.write_bytes(b"a\xff\n");
        out.write_str("b")?;
        assert_eq!(out.as_bytes(), b"a\xff\nb");
        assert_eq!(buf[4], 0);
        Ok(())
    }

    #[test]
    fn needs_room_for_the_nul() -> Result {
        assert!(CBuf::new(&mut []).is_none());
        let mut one = [0xffu8; 1];
        let mut out = CBuf::new(&mut one).ok_or(EINVAL)?;
        out.write_bytes(b"x");
        assert_eq!(out.len(), 0);
        assert_eq!(one, [0]);
        Ok(())
    }
}
