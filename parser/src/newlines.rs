// SPDX-License-Identifier: GPL-2.0
//! The positions of the newlines in a block of text, 64 bytes at a time.
//!
//! Log lines are short (80 bytes on average in a boot log), so a `memchr`
//! call per line spends more on its setup than on its search.  Here a
//! 64-byte block becomes one bit mask (the compiler turns the comparison
//! loop into vector compares and a move-mask), and each newline costs a
//! count of trailing zeros.

/// Bytes per mask.
const BLOCK: usize = 64;

/// The newlines of `block` (at most 64 bytes) as bits, bit `i` for byte `i`.
#[inline]
fn mask(block: &[u8]) -> u64 {
    if let Ok(full) = <&[u8; BLOCK]>::try_from(block) {
        full_mask(full)
    } else {
        block
            .iter()
            .enumerate()
            .fold(0, |m, (i, &b)| m | (u64::from(b == b'\n') << i))
    }
}

/// [`mask`] of a whole block, with SSE2 (part of every x86_64 CPU): four
/// 16-byte compares and move-masks.
#[cfg(target_arch = "x86_64")]
#[inline]
fn full_mask(block: &[u8; BLOCK]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut m = 0u64;
    for (i, part) in block.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics
        // are always available; `part` is 16 readable bytes and
        // `_mm_loadu_si128` has no alignment requirement.
        let bits = unsafe {
            let v = _mm_loadu_si128(part.as_ptr().cast::<__m128i>());
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8)))
        };
        // The move-mask has one bit per byte: 16 bits in the low half.
        m |= u64::from(bits as u16) << (16 * i);
    }
    m
}

/// [`mask`] of a whole block, portably.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn full_mask(block: &[u8; BLOCK]) -> u64 {
    block
        .iter()
        .enumerate()
        .fold(0, |m, (i, &b)| m | (u64::from(b == b'\n') << i))
}

/// Iterator over the positions of the `\n` bytes of a slice, in order
/// (as `memchr::memchr_iter(b'\n', ..)`).
#[derive(Debug, Clone)]
pub(crate) struct Newlines<'a> {
    bytes: &'a [u8],
    /// Offset of the block `bits` describes.
    base: usize,
    /// Newlines of that block not returned yet.
    bits: u64,
}

impl<'a> Newlines<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Newlines {
            bytes,
            base: 0,
            bits: mask(&bytes[..bytes.len().min(BLOCK)]),
        }
    }
}

impl Iterator for Newlines<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.bits == 0 {
            self.base += BLOCK;
            let block = self.bytes.get(self.base..)?;
            if block.is_empty() {
                return None;
            }
            self.bits = mask(&block[..block.len().min(BLOCK)]);
        }
        let at = self.base + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8]) {
        let want: Vec<usize> = memchr::memchr_iter(b'\n', bytes).collect();
        let got: Vec<usize> = Newlines::new(bytes).collect();
        assert_eq!(got, want, "{bytes:?}");
    }

    #[test]
    fn same_positions_as_memchr_at_every_length_and_offset() {
        check(b"");
        check(b"\n");
        check(b"abc");
        // Newlines at every position around block boundaries, in slices of
        // every length (so the last block is full, partial or empty).
        let text: Vec<u8> = (0..300)
            .map(|i| {
                if i % 7 == 0 || i % 64 == 63 {
                    b'\n'
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect();
        for start in 0..70 {
            for end in start..text.len() {
                check(&text[start..end]);
            }
        }
        check(&[b'\n'; 200]);
        check(&[0x8a; 200]);
    }
}
