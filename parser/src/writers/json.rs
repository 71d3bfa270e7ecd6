// SPDX-License-Identifier: GPL-2.0
//! JSON writer producing exactly what `kunit.py parse --json` prints
//! (tools/testing/kunit/kunit_json.py, `json.dumps(..., indent=4)`).
//!
//! Several runs (several KTAP outputs in one log, or several input files)
//! are merged into the single top-level "KUnit Test Group": their suites and
//! test cases are concatenated and their counts summed.  For one run the
//! output is byte-for-byte what kunit.py writes (for ASCII names).

use std::io::{self, Write};

use crate::ktap::{Counts, Status, Test};

/// Write `s` as a JSON string the way Python's `json.dumps` does
/// (`ensure_ascii=True`).
pub(crate) fn write_str<W: Write + ?Sized>(w: &mut W, s: &str) -> io::Result<()> {
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

/// Whether `b` is printable ASCII without `"` and `\\` (a JSON string that
/// needs no escaping).
#[inline]
fn is_plain(b: &[u8]) -> bool {
    super::plain::is_plain_ascii(b, [b'"', b'\\'])
}

/// Output buffer: the document is built in a `Vec<u8>` that is handed to
/// the real writer in large pieces (no per-token dynamic `Write` calls).
struct Out<'w, W: Write + ?Sized> {
    sink: &'w mut W,
    w: Vec<u8>,
    /// The fixed parts of a test case at each level (see [`CaseParts`]).
    cases: Vec<Option<CaseParts>>,
}

/// The text around the name and the status of a test case at one level:
/// `{"name": ` before the name, `, "status": "` after it, `"}` after the
/// status (with newlines and indentation), rendered once per level.
struct CaseParts {
    open: Vec<u8>,
    status: Vec<u8>,
    close: Vec<u8>,
}

/// Flush the buffer to the sink when it grows beyond this.
const FLUSH_AT: usize = 1 << 16;

impl<W: Write + ?Sized> Out<'_, W> {
    fn flush_if_full(&mut self) -> io::Result<()> {
        if self.w.len() >= FLUSH_AT {
            self.sink.write_all(&self.w)?;
            self.w.clear();
        }
        Ok(())
    }

    /// A newline and the indentation of `level`.
    #[inline]
    fn indent(&mut self, level: usize) -> io::Result<()> {
        const SPACES: &[u8] = &[b' '; 64];
        self.w.push(b'\n');
        let mut n = level * 4;
        while n > 0 {
            let k = n.min(SPACES.len());
            self.w.extend_from_slice(&SPACES[..k]);
            n -= k;
        }
        Ok(())
    }

    /// `"key": ` on a new line at `level` (`key` needs no escaping).
    #[inline]
    fn key(&mut self, level: usize, key: &str, first: bool) -> io::Result<()> {
        if !first {
            self.w.push(b',');
        }
        self.indent(level)?;
        self.w.push(b'"');
        self.w.extend_from_slice(key.as_bytes());
        self.w.extend_from_slice(b"\": ");
        Ok(())
    }

    /// A JSON string; printable ASCII without `"` and `\\` is copied as is.
    #[inline]
    fn str(&mut self, s: &str) -> io::Result<()> {
        if is_plain(s.as_bytes()) {
            self.w.reserve(s.len() + 2);
            self.w.push(b'"');
            self.w.extend_from_slice(s.as_bytes());
            self.w.push(b'"');
            Ok(())
        } else {
            write_str(&mut self.w, s)
        }
    }

    /// The [`CaseParts`] of a test case in a group at `level` (taken out of
    /// the cache: put them back when done).
    fn case_parts(&mut self, level: usize) -> io::Result<CaseParts> {
        if self.cases.len() <= level {
            self.cases.resize_with(level + 1, || None);
        }
        if let Some(parts) = self.cases[level].take() {
            return Ok(parts);
        }
        // Rendered by the general code, so that they cannot differ from it.
        let saved = std::mem::take(&mut self.w);
        self.indent(level + 2)?;
        self.w.push(b'{');
        self.key(level + 3, "name", true)?;
        let open = std::mem::take(&mut self.w);
        self.key(level + 3, "status", false)?;
        self.w.push(b'"');
        let status = std::mem::take(&mut self.w);
        self.w.push(b'"');
        self.indent(level + 2)?;
        self.w.push(b'}');
        let close = std::mem::replace(&mut self.w, saved);
        Ok(CaseParts {
            open,
            status,
            close,
        })
    }

    /// An unsigned number.
    #[inline]
    fn number(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.w.extend_from_slice(&digits[i..]);
    }

    /// One group: `{"name", "sub_groups", "test_cases", "misc", common...}`.
    fn group(&mut self, level: usize, t: &Test) -> io::Result<()> {
        // Python builds sub_groups and test_cases in one pass; we need two.
        self.group_head(level, &t.name)?;
        let mut groups = 0;
        for g in t.subtests.iter().filter(|c| !c.subtests.is_empty()) {
            self.sub_group(level, g, groups == 0)?;
            groups += 1;
        }
        self.sub_groups_end(level, groups)?;
        let cases = t.subtests.iter().filter(|c| c.subtests.is_empty());
        self.group_tail(level, cases.map(|c| (c.name.as_str(), c.status)), &t.counts)
    }

    /// `{"name": ..., "sub_groups": ` of a group at `level`.
    fn group_head(&mut self, level: usize, name: &str) -> io::Result<()> {
        self.w.extend_from_slice(b"{");
        self.key(level + 1, "name", true)?;
        self.str(name)?;
        self.key(level + 1, "sub_groups", false)
    }

    /// One element of the "sub_groups" of a group at `level`.
    fn sub_group(&mut self, level: usize, g: &Test, first: bool) -> io::Result<()> {
        self.w.extend_from_slice(if first { b"[" } else { b"," });
        self.indent(level + 2)?;
        self.group(level + 2, g)?;
        self.flush_if_full()
    }

    /// The end of the "sub_groups" list after `groups` elements.
    fn sub_groups_end(&mut self, level: usize, groups: usize) -> io::Result<()> {
        if groups == 0 {
            self.w.extend_from_slice(b"[]");
        } else {
            self.indent(level + 1)?;
            self.w.extend_from_slice(b"]");
        }
        Ok(())
    }

    /// `"test_cases"`, `"misc"` and the common fields, closing the group.
    fn group_tail<'c>(
        &mut self,
        level: usize,
        cases: impl Iterator<Item = (&'c str, Status)>,
        counts: &Counts,
    ) -> io::Result<()> {
        self.key(level + 1, "test_cases", false)?;
        let mut cases = cases.peekable();
        if cases.peek().is_none() {
            self.w.extend_from_slice(b"[]");
        } else {
            self.w.extend_from_slice(b"[");
            let parts = self.case_parts(level)?;
            for (i, (name, st)) in cases.enumerate() {
                if i > 0 {
                    self.w.push(b',');
                }
                self.w.extend_from_slice(&parts.open);
                self.str(name)?;
                self.w.extend_from_slice(&parts.status);
                self.w.extend_from_slice(status_str(st).as_bytes());
                self.w.extend_from_slice(&parts.close);
                self.flush_if_full()?;
            }
            self.cases[level] = Some(parts);
            self.indent(level + 1)?;
            self.w.extend_from_slice(b"]");
        }

        self.key(level + 1, "misc", false)?;
        self.w.extend_from_slice(b"{");
        let misc = [
            ("tests", counts.total()),
            ("passed", u64::from(counts.passed)),
            ("failed", u64::from(counts.failed)),
            ("crashed", u64::from(counts.crashed)),
            ("skipped", u64::from(counts.skipped)),
            ("errors", u64::from(counts.errors)),
        ];
        for (i, (k, v)) in misc.into_iter().enumerate() {
            self.key(level + 2, k, i == 0)?;
            self.number(v);
        }
        self.indent(level + 1)?;
        self.w.extend_from_slice(b"}");

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
                Some(s) => self.str(s)?,
                None => self.w.extend_from_slice(b"null"),
            }
        }
        self.indent(level)?;
        self.w.extend_from_slice(b"}");
        Ok(())
    }
}

/// Writes kunit.py's JSON document while the input is being parsed: each
/// top-level test is written (or, for a test case without subtests, noted
/// for the `"test_cases"` list, which comes last) as soon as it is complete,
/// so that the parser can free it (see [`crate::ktap::Options::stream`]).
/// Several runs are merged into the one top-level group, as
/// [`write_json`] does.
pub struct JsonStream<'w, W: Write + ?Sized> {
    out: Out<'w, W>,
    groups: usize,
    /// Name and status of the top-level test cases (tests without subtests).
    cases: Vec<(String, Status)>,
}

impl<'w, W: Write + ?Sized> JsonStream<'w, W> {
    /// Start the document on `w`.
    pub fn new(w: &'w mut W) -> io::Result<Self> {
        let mut out = Out {
            cases: Vec::new(),
            sink: w,
            w: Vec::with_capacity(FLUSH_AT * 2),
        };
        out.group_head(0, "KUnit Test Group")?;
        Ok(JsonStream {
            out,
            groups: 0,
            cases: Vec::new(),
        })
    }

    /// The next top-level test (a run's subtest), in input order.
    pub fn test(&mut self, t: &Test) -> io::Result<()> {
        if t.subtests.is_empty() {
            self.cases.push((t.name.clone(), t.status));
            return Ok(());
        }
        self.out.sub_group(0, t, self.groups == 0)?;
        self.groups += 1;
        Ok(())
    }

    /// End the document; `counts` are the counts of all runs together.
    pub fn finish(mut self, counts: &Counts) -> io::Result<()> {
        self.out.sub_groups_end(0, self.groups)?;
        let cases = self.cases.iter().map(|(n, s)| (n.as_str(), *s));
        self.out.group_tail(0, cases, counts)?;
        self.out.sink.write_all(&self.out.w)
    }
}

/// Write the JSON document for the given runs (no trailing newline, like
/// kunit.py's `--json=FILE`).
pub fn write_json<'t, W, I>(w: &mut W, runs: I) -> io::Result<()>
where
    W: Write + ?Sized,
    I: IntoIterator<Item = &'t Test>,
{
    let mut counts = Counts::default();
    let mut stream = JsonStream::new(w)?;
    for run in runs {
        counts.add(&run.counts);
        for t in &run.subtests {
            stream.test(t)?;
        }
    }
    stream.finish(&counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_are_recognised_at_every_position() {
        let base = "abcdefghijklmnopqrstuvwxyz0123456789 ~!";
        assert!(is_plain(base.as_bytes()));
        assert!(is_plain(b""));
        for bad in [0u8, 0x1f, b'"', b'\\', 0x7f, 0x80, 0xff] {
            for pos in 0..base.len() {
                let mut v = base.as_bytes().to_vec();
                v[pos] = bad;
                assert!(!is_plain(&v), "byte {bad:#x} at {pos}");
            }
        }
        for ok in [0x20u8, b'!', b'#', b'[', b']', 0x7e] {
            let v = vec![ok; 17];
            assert!(is_plain(&v), "byte {ok:#x}");
        }
    }

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
