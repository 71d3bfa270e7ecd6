// SPDX-License-Identifier: GPL-2.0
//! printk timestamps read without the grammar, for the lines the reader
//! lexes ahead: the commonest prefix of a kernel log, `[    1.234567] `,
//! costs a few dozen instructions this way instead of a few hundred.  Both
//! functions give what the grammar's kernel-token scan gives
//! (`ktap::scan_kernel_tokens`), or `None` to leave the line to it.

/// The kernel tokens at the start of `b` when they are a single printk
/// timestamp `[ *\d+\.\d+]` not followed by another token: (length,
/// timestamp in microseconds).
#[inline]
pub(super) fn fast_printk_time(b: &[u8]) -> Option<(usize, Option<u64>)> {
    const SCALE: [u64; 7] = [1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
    if b.first() != Some(&b'[') {
        return None;
    }
    if let Some(r) = printk_time_fixed(b) {
        return Some(r);
    }
    let mut i = 1;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let secs_start = i;
    let mut secs: u64 = 0;
    while let Some(&d) = b.get(i).filter(|d| d.is_ascii_digit()) {
        secs = secs.saturating_mul(10).saturating_add(u64::from(d - b'0'));
        i += 1;
    }
    if i == secs_start || b.get(i) != Some(&b'.') {
        return None;
    }
    i += 1;
    let frac_start = i;
    let mut micros: u64 = 0;
    let mut frac_digits = 0;
    while let Some(&d) = b.get(i).filter(|d| d.is_ascii_digit()) {
        if frac_digits < 6 {
            micros = micros * 10 + u64::from(d - b'0');
            frac_digits += 1;
        }
        i += 1;
    }
    if i == frac_start || b.get(i) != Some(&b']') {
        return None;
    }
    i += 1;
    if matches!(b.get(i), Some(b'[' | b'<')) {
        return None;
    }
    micros *= SCALE[frac_digits];
    Some((
        i,
        Some(secs.saturating_mul(1_000_000).saturating_add(micros)),
    ))
}

/// [`fast_printk_time`] for the layout printk itself uses,
/// `[%5lu.%06lu]`: seconds right-aligned in five columns, six fractional
/// digits.  `None` means "some other layout" (or a line shorter than 16
/// bytes).  The 16 bytes are read as two words, and all digits are checked
/// and converted together (see [`swar`]): a byte at a time, this took
/// more than 100 instructions.
#[inline]
pub(super) fn printk_time_fixed(b: &[u8]) -> Option<(usize, Option<u64>)> {
    let head: &[u8; 16] = b.get(..16)?.try_into().ok()?;
    let (lo, hi) = swar::words(head);
    if lo as u8 != b'[' || (lo >> 48) as u8 != b'.' || (hi >> 40) as u8 != b']' {
        return None;
    }
    if matches!(head[14], b'[' | b'<') {
        return None;
    }
    // Bytes 1..=5: the seconds, spaces first; bytes 7..=12: the fraction.
    let secs = (lo >> 8) & swar::low_bytes(5);
    let frac = (lo >> 56) | ((hi << 8) & swar::low_bytes(6));
    let secs = swar::digits_value(swar::leading_spaces_to_zeros(secs, 5)?, 5)?;
    let micros = swar::digits_value(frac, 6)?;
    Some((14, Some(secs * 1_000_000 + micros)))
}

/// Bytes as the lanes of a `u64` ("SIMD within a register"): byte `i` of
/// a text is lane `i`, bits `8 * i..8 * i + 8`.
mod swar {
    /// Lanes `0..n` all set to 1.
    const fn ones(n: u32) -> u64 {
        0x0101_0101_0101_0101 & low_bytes(n)
    }

    /// The mask of lanes `0..n`.
    pub(super) const fn low_bytes(n: u32) -> u64 {
        if n >= 8 { u64::MAX } else { (1 << (8 * n)) - 1 }
    }

    /// The 16 bytes as two words (lanes 0..8 and 8..16).
    #[inline]
    pub(super) fn words(b: &[u8; 16]) -> (u64, u64) {
        let (lo, hi) = b.split_at(8);
        let word = |s: &[u8]| u64::from_le_bytes(s.try_into().unwrap_or([0; 8]));
        (word(lo), word(hi))
    }

    /// Lanes `0..n` of `x` with their leading spaces (lanes `0..k`)
    /// replaced by `0`; `None` if a space follows a non-space or all `n`
    /// lanes are spaces.
    #[inline]
    pub(super) fn leading_spaces_to_zeros(x: u64, n: u32) -> Option<u64> {
        let high = ones(n) << 7;
        // 0x80 in the lanes that are spaces, i.e. zero in `diff`: the low
        // seven bits plus 0x7f set the high bit unless they are all zero
        // (without carrying into the next lane).
        let diff = x ^ (ones(n) * u64::from(b' '));
        let low7 = ones(n) * 0x7f;
        let spaces = !(((diff & low7) + low7) | diff) & high;
        // Spaces in lanes 0..k make 0xff in those lanes, 2^(8k) - 1.
        let run = (spaces >> 7) * 0xff;
        if run & run.wrapping_add(1) != 0 || spaces >> (8 * (n - 1)) != 0 {
            return None;
        }
        // A space (0x20) plus 0x10 is '0' (0x30).
        Some(x + (spaces >> 7) * 0x10)
    }

    /// The decimal number in lanes `0..n` (`n` <= 8, lane 0 the most
    /// significant digit); `None` unless all `n` lanes are ASCII digits.
    #[inline]
    pub(super) fn digits_value(x: u64, n: u32) -> Option<u64> {
        let (ones, high) = (ones(n), ones(n) << 7);
        // Lane b < 0x80: (b | 0x80) - 0x30 keeps its high bit iff b >= '0';
        // b + 0x46 sets it iff b > '9'.  Neither carries into the next lane.
        let at_least_0 = ((x | high) - ones * 0x30) & high;
        let above_9 = (x + ones * 0x46) & high;
        if x & high != 0 || at_least_0 != high || above_9 != 0 {
            return None;
        }
        // Digit values, padded to eight digits with leading zeros, then
        // combined pairwise: 2 digits per 16-bit lane, 4 per 32-bit lane,
        // then all 8 (each step fits its lane, so nothing carries over).
        let mut v = (x - ones * 0x30) << (8 * (8 - n));
        v = (v * 10 + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
        v = (v * 100 + (v >> 16)) & 0x0000_ffff_0000_ffff;
        v = (v * 10_000 + (v >> 32)) & 0xffff_ffff;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktap::scan_kernel_tokens;

    /// Lines around the borders of both paths.
    const LINES: &[&str] = &[
        "[    1.234567] ok 1 x",
        "[12345.123456] x",
        "[    0.000000]",
        "[ 1 2.345678] space after a digit",
        "[     .234567] no seconds",
        "[    a.234567] letter",
        "[    1.23456a] letter",
        "[    1.234567][    T1] x",
        "[    1.234567]<6>x",
        "[    1.234567]x",
        "[123456.123456] wider",
        "[1.5] x",
        "[ 12.1234567] x",
        "[   1.000000][    T1] x",
        "[   1.000000]<6>x",
        "[   1.000000]",
        "[   1.] x",
        "[.5] x",
        "[ 99999999999999999999.000001] big",
        "<6>[ 1.000000] x",
        "[ T1] x",
        "",
        "[",
    ];

    #[test]
    fn fast_paths_agree_with_the_grammar() {
        for line in LINES {
            if let Some(fast) = fast_printk_time(line.as_bytes()) {
                assert_eq!(Some(fast), scan_kernel_tokens(line), "{line:?}");
            }
        }
        assert!(
            LINES
                .iter()
                .filter(|l| fast_printk_time(l.as_bytes()).is_some())
                .count()
                > 5
        );
    }

    proptest::proptest! {
        #[test]
        fn fast_paths_agree_on_token_soup(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "[", "]", " ", "  ", ".", "0", "1", "9", "12345", "123456", "1234567",
                    "<6>", "T1", "C0", "x", "\u{e9}",
                ]),
                0..12,
            )
        ) {
            let line = parts.concat();
            if let Some(fast) = fast_printk_time(line.as_bytes()) {
                proptest::prop_assert_eq!(Some(fast), scan_kernel_tokens(&line), "{:?}", line);
            }
        }
    }

    /// `printk_time_fixed` a byte at a time.
    fn printk_time_fixed_bytewise(b: &[u8]) -> Option<(usize, Option<u64>)> {
        let stamp = b.get(..16)?;
        if stamp[0] != b'[' || stamp[6] != b'.' || stamp[13] != b']' {
            return None;
        }
        let mut secs: u64 = 0;
        let mut digits = 0;
        for &c in &stamp[1..6] {
            if c.is_ascii_digit() {
                secs = secs * 10 + u64::from(c - b'0');
                digits += 1;
            } else if c != b' ' || digits > 0 {
                return None;
            }
        }
        let mut micros: u64 = 0;
        for &c in &stamp[7..13] {
            if !c.is_ascii_digit() {
                return None;
            }
            micros = micros * 10 + u64::from(c - b'0');
        }
        if digits == 0 || matches!(stamp[14], b'[' | b'<') {
            return None;
        }
        Some((14, Some(secs * 1_000_000 + micros)))
    }

    #[test]
    fn printk_time_words_agree_with_bytes() {
        // Every seconds field made of bytes near the digits and the space
        // (and high ones), and every fraction position likewise.
        let near = [
            b' ', b'!', b'/', b'0', b'1', b'5', b'9', b':', b'\t', 0xb0, 0xa0, b'.',
        ];
        let mut checked = 0;
        let check = |stamp: &[u8; 16], checked: &mut u32| {
            assert_eq!(
                printk_time_fixed(stamp),
                printk_time_fixed_bytewise(stamp),
                "{:?}",
                String::from_utf8_lossy(stamp)
            );
            *checked += 1;
        };
        let mut stamp = *b"[12345.678901] x";
        for a in near {
            for b in near {
                for c in near {
                    for d in near {
                        for e in near {
                            stamp[1..6].copy_from_slice(&[a, b, c, d, e]);
                            check(&stamp, &mut checked);
                        }
                    }
                }
            }
        }
        let stamp = *b"[    1.000000] x";
        for pos in 7..13 {
            for v in near {
                let mut s = stamp;
                s[pos] = v;
                check(&s, &mut checked);
            }
        }
        for (pos, v) in [
            (0, b'<'),
            (6, b','),
            (13, b')'),
            (14, b'['),
            (14, b'<'),
            (14, b']'),
        ] {
            let mut s = stamp;
            s[pos] = v;
            check(&s, &mut checked);
        }
        check(b"[99999.999999] x", &mut checked);
        assert_eq!(
            printk_time_fixed(b"[    1.000000] x"),
            Some((14, Some(1_000_000)))
        );
        assert_eq!(
            printk_time_fixed(b"[12345.678901]]x"),
            Some((14, Some(12_345_678_901)))
        );
        assert!(checked > 200_000);
    }
}
