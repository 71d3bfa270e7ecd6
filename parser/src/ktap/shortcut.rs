// SPDX-License-Identifier: GPL-2.0
//! A byte-level shortcut through the grammar for the commonest line that
//! is not plain log text: a result line `ok N name` whose name has no `#`
//! and does not start with `-` or `:`.  For such a line every name-start
//! alternative of kunit's `TEST_RESULT` regex and the directive parsing
//! reduce to "the name is everything after the space"; a test-dense log
//! is almost only such lines, and the grammar spends several hundred
//! instructions on each.  The tests hold the shortcut to the grammar.

use super::grammar::{ResultLine, is_ascii_py_space, saturating_u64};

/// [`super::grammar::parse_result_grammar`] for a result line of the
/// common shape; `None` means "ask the grammar".
#[inline]
pub(super) fn result(text: &str) -> Option<ResultLine<'_>> {
    let b = text.as_bytes();
    let mut i = 0;
    while b.get(i).copied().is_some_and(is_ascii_py_space) {
        i += 1;
    }
    let ok = match b.get(i)? {
        b'o' if b[i..].starts_with(b"ok ") => {
            i += 3;
            true
        }
        b'n' if b[i..].starts_with(b"not ok ") => {
            i += 7;
            false
        }
        _ => return None,
    };
    let digits_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == digits_start
        || b.get(i) != Some(&b' ')
        || matches!(b.get(i + 1), Some(b'-' | b':'))
        || memchr::memchr(b'#', &b[i..]).is_some()
    {
        return None;
    }
    let name = &text[i + 1..];
    Some(ResultLine {
        ok,
        number: saturating_u64(&text[digits_start..i]),
        plain_name: name,
        name,
        directive: None,
        reason: "",
        kunit_skip: false,
    })
}

#[cfg(test)]
mod tests {
    use super::super::grammar::parse_result_grammar;
    use super::*;

    fn check(line: &str) {
        if let Some(short) = result(line) {
            assert_eq!(Some(short), parse_result_grammar(line), "{line:?}");
        }
    }

    #[test]
    fn the_shortcut_agrees_with_the_grammar() {
        let lines = [
            "ok 1 name",
            "    ok 12 kmod_test_0001_driver",
            "\tnot ok 3 a b c",
            "ok 1 ",
            "ok 1",
            "ok 1 - name",
            "ok 1 :- name",
            "ok 1 -name",
            "ok 1 :name",
            "ok 1  two spaces",
            "ok 1 name # SKIP why",
            "ok 1 name#x",
            "ok 99999999999999999999999 huge",
            "ok x name",
            "okay 1 x",
            "not ok 2 \u{e9}t\u{e9} caf\u{e9}",
            "\u{a0}ok 1 nbsp",
            "\u{2028}not ok 1 sep",
            "\u{1c}ok 1 separator",
            "ok 1 trailing \u{a0}",
        ];
        let mut short = 0;
        for line in lines {
            for prefix in ["", "  ", "\u{a0}"] {
                let line = format!("{prefix}{line}");
                check(&line);
                short += usize::from(result(&line).is_some());
            }
        }
        assert!(short >= 10, "the shortcut took {short} lines");
    }

    proptest::proptest! {
        #[test]
        fn the_shortcut_agrees_on_line_soup(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "ok", "not ok", " ", "1", "42", "-", ":", "#", " # ", "SKIP", "skip",
                    "name", "\t", "\u{a0}", "\u{e9}", "\u{1c}",
                ]),
                0..12,
            )
        ) {
            check(&parts.concat());
        }
    }
}
