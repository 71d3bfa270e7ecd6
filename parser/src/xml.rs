// SPDX-License-Identifier: GPL-2.0
//! Making strings safe for XML before they reach junit-report.
//!
//! junit-report (quick-xml) escapes `<`, `>`, `&`, `"` and `'` in attribute
//! values but writes everything else raw, and writes CDATA content raw.  Log
//! lines may contain ESC sequences, NUL bytes, other control characters or
//! `]]>`, none of which may appear in a well-formed XML 1.0 document (or
//! would end the CDATA section).  Invalid UTF-8 was already replaced with
//! U+FFFD when the input was decoded.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters that must (or, for DEL and C1 controls, should) not appear in
/// XML 1.0 character data.
fn needs_escape(c: char) -> bool {
    match c {
        '\t' | '\n' | '\r' => false,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        '\u{fffe}' | '\u{ffff}' => true,
        _ => false,
    }
}

/// Replace characters not allowed in XML with a visible escape (`\x1b`).
pub fn text(s: &str) -> Cow<'_, str> {
    // Fast path: printable ASCII (plus tab, LF, CR) needs no escaping.
    let plain = s
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r'));
    if plain || !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if needs_escape(c) {
            let n = u32::from(c);
            if n <= 0xff {
                let _ = write!(out, "\\x{n:02x}");
            } else {
                let _ = write!(out, "\\u{{{n:x}}}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`text`] plus splitting `]]>` so that the content stays inside the CDATA
/// section junit-report wraps it in (`]]>` becomes `]]]]><![CDATA[>`, which
/// an XML reader turns back into `]]>`).
pub fn cdata(s: &str) -> String {
    text(s).replace("]]>", "]]]]><![CDATA[>")
}

/// Whether `b` can be an attribute value as it is: printable ASCII without
/// `<`, `>`, `&`, `'` and `"` (neither [`text`] nor quick-xml's attribute
/// escaping would change it).
#[inline]
pub fn is_plain_attr(b: &[u8]) -> bool {
    crate::plain::is_plain_ascii(b, [b'<', b'>', b'&', b'\'', b'"'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(text("a\u{1b}[31mb\u{0}c\td"), "a\\x1b[31mb\\x00c\td");
        assert_eq!(text("\u{fffe}"), "\\u{fffe}");
        assert!(matches!(text("plain ünïcode"), Cow::Borrowed(_)));
        assert_eq!(cdata("x]]>y"), "x]]]]><![CDATA[>y");
    }

    #[test]
    fn plain_attribute_values_are_recognised_at_every_position() {
        let base = "abcdefghijklmnopqrstuvwxyz0123456789 ~!#.:_-/";
        assert!(is_plain_attr(base.as_bytes()));
        assert!(is_plain_attr(b""));
        for bad in [
            0u8, b'\t', 0x1f, b'<', b'>', b'&', b'\'', b'"', 0x7f, 0x80, 0xc3, 0xff,
        ] {
            for pos in 0..base.len() {
                let mut v = base.as_bytes().to_vec();
                v[pos] = bad;
                assert!(!is_plain_attr(&v), "byte {bad:#x} at {pos}");
            }
        }
        for ok in [0x20u8, b'!', b'%', b';', b'=', b'?', b'[', b']', 0x7e] {
            assert!(is_plain_attr(&[ok; 17]), "byte {ok:#x}");
        }
        // Short values (no whole word) and every length around a word.
        for len in 0..20 {
            let v: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(is_plain_attr(&v), "{len}");
            for pos in 0..len {
                let mut w = v.clone();
                w[pos] = b'&';
                assert!(!is_plain_attr(&w), "& at {pos} of {len}");
            }
        }
        // Exactly the strings that neither escaping changes.
        for b in 0u8..=0x7f {
            let s = [b'a', b, b'z', b'a', b'b', b'c', b'd', b'e', b'f', b];
            let s = std::str::from_utf8(&s).expect("ASCII");
            let unchanged = matches!(text(s), Cow::Borrowed(_))
                && matches!(quick_xml::escape::escape(s), Cow::Borrowed(_))
                && !s.contains('\t')
                && !s.contains('\n')
                && !s.contains('\r');
            assert_eq!(is_plain_attr(s.as_bytes()), unchanged, "byte {b:#x}");
        }
    }
}
