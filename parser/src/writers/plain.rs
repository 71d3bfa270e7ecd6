// SPDX-License-Identifier: GPL-2.0
//! Recognising strings that a writer can copy as they are.
//!
//! Both writers escape names and messages, and most names need nothing:
//! this finds that out eight bytes at a time (the budget per test is a few
//! hundred instructions, and two or three names are written per test).

/// Whether every byte of `b` is printable ASCII (0x20..0x7e) and none is
/// one of `specials`.
#[inline]
pub(crate) fn is_plain_ascii<const N: usize>(b: &[u8], specials: [u8; N]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit set (somewhere) iff a byte of `x` is zero.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let plain = |c: &[u8]| {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // Bytes below 0x20 borrow into their high bit (when no byte is
        // 0x80 or above, which `x & HIGH` rules out).
        let mut bad =
            (x & HIGH) | (x.wrapping_sub(0x20 * ONES) & !x & HIGH) | zero(x ^ (0x7f * ONES));
        for s in specials {
            bad |= zero(x ^ (u64::from(s) * ONES));
        }
        bad == 0
    };
    if b.len() < 8 {
        return b
            .iter()
            .all(|&c| (0x20..0x7f).contains(&c) && !specials.contains(&c));
    }
    // Whole words, then the last eight bytes (overlapping the last word).
    b.chunks_exact(8).all(plain) && plain(&b[b.len() - 8..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_byte_is_found_at_every_position_and_length() {
        const SPECIALS: [u8; 3] = [b'"', b'&', b'\\'];
        for len in 0..40 {
            let v: Vec<u8> = (0..len).map(|i| b' ' + (i * 7 % 95) as u8).collect();
            let v: Vec<u8> = v
                .into_iter()
                .map(|c| if SPECIALS.contains(&c) { b'a' } else { c })
                .collect();
            assert!(is_plain_ascii(&v, SPECIALS), "{len}");
            for pos in 0..len {
                for bad in [0u8, b'\t', 0x1f, b'"', b'&', b'\\', 0x7f, 0x80, 0xc3, 0xff] {
                    let mut w = v.clone();
                    w[pos] = bad;
                    assert!(
                        !is_plain_ascii(&w, SPECIALS),
                        "byte {bad:#x} at {pos} of {len}"
                    );
                }
            }
        }
        assert!(is_plain_ascii(&[b'~'; 17], SPECIALS));
        assert!(is_plain_ascii(b"<>'", []));
    }
}
