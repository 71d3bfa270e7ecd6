// SPDX-License-Identifier: GPL-2.0
//! The XML escaper: every string the JUnit writer puts into the document
//! goes through here.
//!
//! Log lines may contain ESC sequences, NUL bytes, other control characters
//! or `]]>`, none of which may appear in a well-formed XML 1.0 document (or
//! would end a CDATA section).  [`text`] turns such characters into visible
//! escapes (`\x1b`); attribute values then get the five predefined entities
//! (`attr`), as junit-report's writer (quick-xml) writes them, and CDATA
//! content has its `]]>` split ([`cdata`]).  Invalid UTF-8 was already
//! replaced with U+FFFD when the input was decoded.

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

/// [`text`] plus splitting `]]>` so that the content stays inside its CDATA
/// section (`]]>` becomes `]]]]><![CDATA[>`, which an XML reader turns
/// back into `]]>`).
pub fn cdata(s: &str) -> String {
    text(s).replace("]]>", "]]]]><![CDATA[>")
}

/// Append `s` as an attribute value: [`text`], then `<`, `>`, `&`, `'`
/// and `"` as entities.
#[inline]
pub(crate) fn attr(buf: &mut Vec<u8>, s: &str) {
    if is_plain_attr(s.as_bytes()) {
        buf.extend_from_slice(s.as_bytes());
        return;
    }
    let s = text(s);
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let entity: &[u8] = match b {
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\'' => b"&apos;",
            b'&' => b"&amp;",
            b'"' => b"&quot;",
            _ => continue,
        };
        buf.extend_from_slice(&s.as_bytes()[start..i]);
        buf.extend_from_slice(entity);
        start = i + 1;
    }
    buf.extend_from_slice(&s.as_bytes()[start..]);
}

/// Whether `b` can be an attribute value as it is: printable ASCII without
/// `<`, `>`, `&`, `'` and `"` (neither [`text`] nor the entities would
/// change it).
#[inline]
fn is_plain_attr(b: &[u8]) -> bool {
    super::plain::is_plain_ascii(b, [b'<', b'>', b'&', b'\'', b'"'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(text("a\u{1b}[31mb\u{0}c\td"), "a\\x1b[31mb\\x00c\td");
        assert_eq!(text("\u{fffe}"), "\\u{fffe}");
        assert_eq!(text("\u{85}"), "\\x85");
        assert!(matches!(text("plain ünïcode"), Cow::Borrowed(_)));
        assert_eq!(cdata("x]]>y"), "x]]]]><![CDATA[>y");
    }

    /// Attribute values come out as quick-xml (junit-report's writer)
    /// escapes them after [`text`].
    #[test]
    fn attributes_are_escaped_as_quick_xml_escapes_them() {
        for s in [
            "",
            "plain",
            "a<b>&c'd\"e",
            "<<>>&&''\"\"",
            "esc\u{1b}[31m nul\u{0} del\u{7f} \u{fffe} tab\t nl\n cr\r",
            "ünïcode ✓ & more",
            "&amp; stays &amp;amp;",
        ] {
            let mut ours = Vec::new();
            attr(&mut ours, s);
            let theirs = quick_xml::escape::escape(text(s));
            assert_eq!(String::from_utf8(ours).expect("UTF-8"), theirs, "{s:?}");
        }
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
