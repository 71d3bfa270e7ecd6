// SPDX-License-Identifier: GPL-2.0
//! The lines of a block of text, 64 bytes at a time: where each ends, and
//! whether it contains one of a few "flag" bytes.
//!
//! Log lines are short (80 bytes on average in a boot log), so a `memchr`
//! call per line spends more on its setup than on its search.  Here a
//! 64-byte block becomes two bit masks, its newlines and its flag bytes
//! (vector compares and move-masks), and each line costs a count of
//! trailing zeros.  The flag bytes let the caller look for rare strings
//! (kunit's end markers) only in the lines that can contain them, within
//! the same pass over the text.

/// Bytes per mask.
const BLOCK: usize = 64;

/// Bit `i` set if byte `i` of `block` (at most 64 bytes) is `b`, as
/// (newlines, any of the flag bytes).
#[inline]
fn masks(block: &[u8], flags: [u8; 3], avx2: bool) -> (u64, u64) {
    if let Ok(full) = <&[u8; BLOCK]>::try_from(block) {
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the CPU has AVX2 (`avx2` is only true if
            // `has_avx2()` found it).
            return unsafe { full_masks_avx2(full, flags) };
        }
        let _ = avx2;
        return full_masks(full, flags);
    }
    byte_masks(block, flags)
}

/// [`masks`] a byte at a time (the last, partial block of a slice).
fn byte_masks(block: &[u8], flags: [u8; 3]) -> (u64, u64) {
    let mut newlines = 0;
    let mut flagged = 0;
    for (i, &b) in block.iter().enumerate() {
        newlines |= u64::from(b == b'\n') << i;
        flagged |= u64::from(flags.contains(&b)) << i;
    }
    (newlines, flagged)
}

/// [`masks`] of a whole block, with SSE2 (part of every x86_64 CPU).
#[cfg(target_arch = "x86_64")]
#[inline]
fn full_masks(block: &[u8; BLOCK], flags: [u8; 3]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let mut newlines = 0u64;
    let mut flagged = 0u64;
    for (i, part) in block.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics
        // are always available; `part` is 16 readable bytes and
        // `_mm_loadu_si128` has no alignment requirement.
        let (n, f) = unsafe {
            let v = _mm_loadu_si128(part.as_ptr().cast::<__m128i>());
            let byte = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
            let f = _mm_or_si128(_mm_or_si128(byte(flags[0]), byte(flags[1])), byte(flags[2]));
            (_mm_movemask_epi8(byte(b'\n')), _mm_movemask_epi8(f))
        };
        // A move-mask has one bit per byte: 16 bits in the low half.
        newlines |= u64::from(n as u16) << (16 * i);
        flagged |= u64::from(f as u16) << (16 * i);
    }
    (newlines, flagged)
}

/// [`masks`] of a whole block, with AVX2: two 32-byte compares per byte
/// value instead of four 16-byte ones.
///
/// # Safety
///
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn full_masks_avx2(block: &[u8; BLOCK], flags: [u8; 3]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8,
    };
    let mut newlines = 0u64;
    let mut flagged = 0u64;
    for (i, part) in block.chunks_exact(32).enumerate() {
        // SAFETY: `part` is 32 readable bytes and `_mm256_loadu_si256` has
        // no alignment requirement.
        let v = unsafe { _mm256_loadu_si256(part.as_ptr().cast::<__m256i>()) };
        let byte = |b: u8| _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8));
        let f = _mm256_or_si256(
            _mm256_or_si256(byte(flags[0]), byte(flags[1])),
            byte(flags[2]),
        );
        // A move-mask has one bit per byte: all 32 bits.
        newlines |= u64::from(_mm256_movemask_epi8(byte(b'\n')) as u32) << (32 * i);
        flagged |= u64::from(_mm256_movemask_epi8(f) as u32) << (32 * i);
    }
    (newlines, flagged)
}

/// Whether the CPU has AVX2 (the standard library caches the answer).
#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx2() -> bool {
    false
}

/// [`masks`] of a whole block, portably.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn full_masks(block: &[u8; BLOCK], flags: [u8; 3]) -> (u64, u64) {
    byte_masks(block, flags)
}

/// Iterator over the lines of a slice: the position of each `\n` (as
/// `memchr::memchr_iter(b'\n', ..)`), and whether the line before it
/// contains one of three flag bytes.  Bytes after the last `\n` are not a
/// line.
#[derive(Debug, Clone)]
pub(crate) struct Lines<'a> {
    bytes: &'a [u8],
    flags: [u8; 3],
    /// Use AVX2.
    avx2: bool,
    /// Offset of the block the masks describe.
    base: usize,
    /// Newlines of that block not returned yet.
    newlines: u64,
    /// Flag bytes of that block after the last newline returned.
    flagged: u64,
    /// A flag byte was in the current line before this block.
    flagged_before: bool,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(bytes: &'a [u8], flags: [u8; 3]) -> Self {
        Self::with_avx2(bytes, flags, true)
    }

    /// [`Lines::new`], using AVX2 only if `avx2` (and the CPU has it).
    fn with_avx2(bytes: &'a [u8], flags: [u8; 3], avx2: bool) -> Self {
        let avx2 = avx2 && has_avx2();
        let (newlines, flagged) = masks(&bytes[..bytes.len().min(BLOCK)], flags, avx2);
        Lines {
            bytes,
            flags,
            avx2,
            base: 0,
            newlines,
            flagged,
            flagged_before: false,
        }
    }
}

impl Iterator for Lines<'_> {
    /// (position of the `\n`, the line has a flag byte)
    type Item = (usize, bool);

    #[inline]
    fn next(&mut self) -> Option<(usize, bool)> {
        while self.newlines == 0 {
            // The rest of the block belongs to a line that goes on.
            self.flagged_before |= self.flagged != 0;
            self.base += BLOCK;
            let block = self.bytes.get(self.base..)?;
            if block.is_empty() {
                return None;
            }
            (self.newlines, self.flagged) =
                masks(&block[..block.len().min(BLOCK)], self.flags, self.avx2);
        }
        let at = self.newlines.trailing_zeros();
        // Bits 0..=at: the line's part of the block (and its newline).
        let upto = u64::MAX >> (63 - at);
        let flagged = self.flagged_before || self.flagged & upto != 0;
        self.flagged &= !upto;
        self.flagged_before = false;
        self.newlines &= self.newlines - 1;
        Some((self.base + at as usize, flagged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: [u8; 3] = [b'L', b'K', b'S'];

    fn check(bytes: &[u8]) {
        let mut want = Vec::new();
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', bytes) {
            let flagged = bytes[start..nl].iter().any(|b| FLAGS.contains(b));
            want.push((nl, flagged));
            start = nl + 1;
        }
        // With AVX2 (where the CPU has it) and without.
        for avx2 in [true, false] {
            let got: Vec<(usize, bool)> = Lines::with_avx2(bytes, FLAGS, avx2).collect();
            assert_eq!(
                got,
                want,
                "avx2 {avx2}: {:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn same_lines_as_memchr_at_every_length_and_offset() {
        check(b"");
        check(b"\n");
        check(b"abc");
        check(b"S");
        check(b"S\n");
        check(b"\nS");
        // Newlines and flag bytes at every position around block
        // boundaries, in slices of every length (so the last block is
        // full, partial or empty).
        let text: Vec<u8> = (0..300)
            .map(|i| match i {
                _ if i % 7 == 0 || i % 64 == 63 => b'\n',
                _ if i % 11 == 0 || i % 64 == 0 => b"LKS"[i % 3],
                _ => b'a' + (i % 26) as u8,
            })
            .collect();
        for start in 0..70 {
            for end in start..text.len() {
                check(&text[start..end]);
            }
        }
        // A long line with a flag byte blocks before its end, and without.
        let mut long = vec![b'x'; 500];
        long[3] = b'K';
        long.push(b'\n');
        long.extend_from_slice(&[b'y'; 300]);
        long.push(b'\n');
        check(&long);
        check(&[b'\n'; 200]);
        check(&[b'S'; 200]);
        check(&[0x8a; 200]);
    }
}
