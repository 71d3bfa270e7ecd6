// SPDX-License-Identifier: GPL-2.0
//! JSON writer producing exactly what `kunit.py parse --json` prints
//! (tools/testing/kunit/kunit_json.py, `json.dumps(..., indent=4)`).
//!
//! Several runs (several KTAP outputs in one log, or several input files)
//! are merged into the single top-level "KUnit Test Group": their suites and
//! test cases are concatenated and their counts summed.  For one run the
//! output is byte-for-byte what kunit.py writes (for ASCII names).

use std::io::{self, Write};

use crate::tree::{Counts, Status, Test};

/// Write `s` as a JSON string the way Python's `json.dumps` does
/// (`ensure_ascii=True`).
fn write_str<W: Write + ?Sized>(w: &mut W, s: &str) -> io::Result<()> {
    w.write_all(b"\"")?;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            _ => None,
        };
        let special = esc.is_some() || u32::from(c) < 0x20 || !c.is_ascii();
        if !special {
            continue;
        }
        w.write_all(&s.as_bytes()[start..i])?;
        start = i + c.len_utf8();
        if let Some(e) = esc {
            w.write_all(e.as_bytes())?;
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                write!(w, "\\u{u:04x}")?;
            }
        }
    }
    w.write_all(&s.as_bytes()[start..])?;
    w.write_all(b"\"")
}

/// kunit_json.py's `_status_map` (anything else is "FAIL").
pub fn status_str(s: Status) -> &'static str {
    match s {
        Status::Success => "PASS",
        Status::Skipped => "SKIP",
        Status::Crashed => "ERROR",
        _ => "FAIL",
    }
}

struct Out<'w, W: Write + ?Sized> {
    w: &'w mut W,
}

impl<W: Write + ?Sized> Out<'_, W> {
    fn indent(&mut self, level: usize) -> io::Result<()> {
        self.w.write_all(b"\n")?;
        for _ in 0..level {
            self.w.write_all(b"    ")?;
        }
        Ok(())
    }

    fn key(&mut self, level: usize, key: &str, first: bool) -> io::Result<()> {
        if !first {
            self.w.write_all(b",")?;
        }
        self.indent(level)?;
        write_str(self.w, key)?;
        self.w.write_all(b": ")
    }

    /// One group: `{"name", "sub_groups", "test_cases", "misc", common...}`.
    fn group(
        &mut self,
        level: usize,
        name: &str,
        children: &mut dyn Iterator<Item = &Test>,
        counts: &Counts,
    ) -> io::Result<()> {
        // Python builds sub_groups and test_cases in one pass; we need two,
        // so collect the (cheap) references first.
        let children: Vec<&Test> = children.collect();
        self.w.write_all(b"{")?;
        self.key(level + 1, "name", true)?;
        write_str(self.w, name)?;

        self.key(level + 1, "sub_groups", false)?;
        let groups: Vec<&Test> = children
            .iter()
            .copied()
            .filter(|t| !t.subtests.is_empty())
            .collect();
        if groups.is_empty() {
            self.w.write_all(b"[]")?;
        } else {
            self.w.write_all(b"[")?;
            for (i, g) in groups.iter().enumerate() {
                if i > 0 {
                    self.w.write_all(b",")?;
                }
                self.indent(level + 2)?;
                self.group(level + 2, &g.name, &mut g.subtests.iter(), &g.counts)?;
            }
            self.indent(level + 1)?;
            self.w.write_all(b"]")?;
        }

        self.key(level + 1, "test_cases", false)?;
        let mut cases = children.iter().filter(|t| t.subtests.is_empty()).peekable();
        if cases.peek().is_none() {
            self.w.write_all(b"[]")?;
        } else {
            self.w.write_all(b"[")?;
            for (i, c) in cases.enumerate() {
                if i > 0 {
                    self.w.write_all(b",")?;
                }
                self.indent(level + 2)?;
                self.w.write_all(b"{")?;
                self.key(level + 3, "name", true)?;
                write_str(self.w, &c.name)?;
                self.key(level + 3, "status", false)?;
                write_str(self.w, status_str(c.status))?;
                self.indent(level + 2)?;
                self.w.write_all(b"}")?;
            }
            self.indent(level + 1)?;
            self.w.write_all(b"]")?;
        }

        self.key(level + 1, "misc", false)?;
        self.w.write_all(b"{")?;
        let misc = [
            ("tests", counts.total()),
            ("passed", u64::from(counts.passed)),
            ("failed", u64::from(counts.failed)),
            ("crashed", u64::from(counts.crashed)),
            ("skipped", u64::from(counts.skipped)),
            ("errors", u64::from(counts.errors)),
        ];
        for (i, (k, v)) in misc.iter().enumerate() {
            self.key(level + 2, k, i == 0)?;
            write!(self.w, "{v}")?;
        }
        self.indent(level + 1)?;
        self.w.write_all(b"}")?;

        for (k, v) in [
            ("arch", Some("")),
            ("defconfig", Some("")),
            ("build_environment", Some("")),
            ("lab_name", None),
            ("kernel", None),
            ("job", None),
            ("git_branch", Some("kselftest")),
        ] {
            self.key(level + 1, k, false)?;
            match v {
                Some(s) => write_str(self.w, s)?,
                None => self.w.write_all(b"null")?,
            }
        }
        self.indent(level)?;
        self.w.write_all(b"}")
    }
}

/// Write the JSON document for the given runs (no trailing newline, like
/// kunit.py's `--json=FILE`).
pub fn write_json<'t, W, I>(w: &mut W, runs: I) -> io::Result<()>
where
    W: Write + ?Sized,
    I: IntoIterator<Item = &'t Test>,
{
    let runs: Vec<&Test> = runs.into_iter().collect();
    let mut counts = Counts::default();
    for r in &runs {
        counts.add(&r.counts);
    }
    let mut children = runs.iter().flat_map(|r| r.subtests.iter());
    Out { w }.group(0, "KUnit Test Group", &mut children, &counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_like_python() {
        let mut v = Vec::new();
        write_str(&mut v, "a\"b\\c\n\u{1b}é😀").expect("write");
        assert_eq!(
            String::from_utf8(v).expect("utf8"),
            "\"a\\\"b\\\\c\\n\\u001b\\u00e9\\ud83d\\ude00\""
        );
    }
}
