// SPDX-License-Identifier: GPL-2.0

//! Integer parsing with the kernel's own `kstrtouint()` and `kstrtoint()` of
//! include/linux/kstrtox.h (lib/kstrtox.c), for input that C drivers parse
//! with them, such as what userspace writes to sysfs and configfs files.
//!
//! C's rules, because C does the parsing: an optional `+` (and for signed
//! types `-`), digits of the base (base 0 detects `0x` and leading-0 octal,
//! base 16 also takes a `0x` prefix), one optional trailing newline;
//! `-ERANGE` when the value does not fit, `-EINVAL` for anything else.
//! `kernel::str::parse_int::ParseInt` is no substitute: it takes `0x`, `0o`,
//! `0b` prefixes and leading-0 octal in every base, gives `-EINVAL` on
//! overflow and rejects the trailing newline.
//!
//! Like `kernel::str::kstrtobool_bytes`, these take what userspace wrote: the
//! bytes up to the first NUL are copied and NUL-terminated for C.

use kernel::{
    bindings,
    error::to_result,
    prelude::*, //
};

/// Inputs shorter than this are copied to the stack, longer ones (numbers
/// with many leading zeros are valid) to the heap.
const STACK_COPY: usize = 32;

/// Calls `parse` with `bytes` up to their first NUL, as a C string.
fn with_c_string<R>(bytes: &[u8], parse: impl FnOnce(&CStr) -> Result<R>) -> Result<R> {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let bytes = &bytes[..len];
    if len < STACK_COPY {
        let mut buf = [0u8; STACK_COPY];
        buf[..len].copy_from_slice(bytes);
        parse(CStr::from_bytes_until_nul(&buf).map_err(|_| EINVAL)?)
    } else {
        let mut buf = KVec::with_capacity(len + 1, GFP_KERNEL)?;
        buf.extend_from_slice(bytes, GFP_KERNEL)?;
        buf.push(0, GFP_KERNEL)?;
        parse(CStr::from_bytes_until_nul(&buf).map_err(|_| EINVAL)?)
    }
}

/// `kstrtouint(bytes, base)`, on the bytes up to the first NUL.
pub(crate) fn kstrtouint_bytes(bytes: &[u8], base: u32) -> Result<u32> {
    with_c_string(bytes, |s| {
        let mut value = 0;
        // SAFETY: `s` is NUL-terminated and valid for reads during the call;
        // `value` is valid for a write.
        to_result(unsafe { bindings::kstrtouint(s.as_char_ptr(), base, &mut value) })?;
        Ok(value)
    })
}

/// `kstrtoint(bytes, base)`, on the bytes up to the first NUL.
pub(crate) fn kstrtoint_bytes(bytes: &[u8], base: u32) -> Result<i32> {
    with_c_string(bytes, |s| {
        let mut value = 0;
        // SAFETY: As in `kstrtouint_bytes`.
        to_result(unsafe { bindings::kstrtoint(s.as_char_ptr(), base, &mut value) })?;
        Ok(value)
    })
}

#[cfg(CONFIG_TEST_KMOD_RUST_KUNIT)]
#[kernel::macros::kunit_tests(rust_kstrtox)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_decimal() {
        assert!(kstrtouint_bytes(b"0", 10) == Ok(0));
        assert!(kstrtouint_bytes(b"+7\n", 10) == Ok(7));
        assert!(kstrtouint_bytes(b"4294967295", 10) == Ok(u32::MAX));
        assert!(kstrtouint_bytes(b"4294967296", 10) == Err(ERANGE));
        assert!(kstrtouint_bytes(b"-1", 10) == Err(EINVAL));
        assert!(kstrtouint_bytes(b"010", 10) == Ok(10));
        assert!(kstrtouint_bytes(b"0x10", 10) == Err(EINVAL));
        assert!(kstrtouint_bytes(b" 1", 10) == Err(EINVAL));
        assert!(kstrtouint_bytes(b"1\n\n", 10) == Err(EINVAL));
        assert!(kstrtouint_bytes(b"", 10) == Err(EINVAL));
    }

    #[test]
    fn signed_decimal() {
        assert!(kstrtoint_bytes(b"-2147483648", 10) == Ok(i32::MIN));
        assert!(kstrtoint_bytes(b"2147483647\n", 10) == Ok(i32::MAX));
        assert!(kstrtoint_bytes(b"2147483648", 10) == Err(ERANGE));
        assert!(kstrtoint_bytes(b"-2147483649", 10) == Err(ERANGE));
        assert!(kstrtoint_bytes(b"+-1", 10) == Err(EINVAL));
    }

    /// Other bases are C's too: base 0 detects the prefix.
    #[test]
    fn other_bases() {
        assert!(kstrtouint_bytes(b"0x1f", 0) == Ok(31));
        assert!(kstrtouint_bytes(b"017", 0) == Ok(15));
        assert!(kstrtouint_bytes(b"ff", 16) == Ok(255));
        assert!(kstrtouint_bytes(b"8", 8) == Err(EINVAL));
    }

    /// The bytes after a NUL are not looked at, and long inputs work.
    #[test]
    fn c_string_boundaries() -> Result {
        assert!(kstrtouint_bytes(b"12\0junk", 10) == Ok(12));
        assert!(kstrtouint_bytes(b"\x0012", 10) == Err(EINVAL));
        let mut long = KVec::new();
        for _ in 0..4000 {
            long.push(b'0', GFP_KERNEL)?;
        }
        long.extend_from_slice(b"42\n", GFP_KERNEL)?;
        assert!(kstrtouint_bytes(&long, 10) == Ok(42));
        assert!(kstrtoint_bytes(&long, 10) == Ok(42));
        Ok(())
    }
}
