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

/// Output buffer: the document is built in a `Vec<u8>` that is handed to
/// the real writer in large pieces (no per-token dynamic `Write` calls).
struct Out<'w, W: Write + ?Sized> {
    sink: &'w mut W,
    w: Vec<u8>,
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

    fn key(&mut self, level: usize, key: &str, first: bool) -> io::Result<()> {
        if !first {
            self.w.push(b',');
        }
        self.indent(level)?;
        self.str(key)?;
        self.w.extend_from_slice(b": ");
        Ok(())
    }

    /// A JSON string; printable ASCII without `"` and `\\` is copied as is.
    #[inline]
    fn str(&mut self, s: &str) -> io::Result<()> {
        let plain = s
            .as_bytes()
            .iter()
            .all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
        if plain {
            self.w.reserve(s.len() + 2);
            self.w.push(b'"');
            self.w.extend_from_slice(s.as_bytes());
            self.w.push(b'"');
            Ok(())
        } else {
            write_str(&mut self.w, s)
        }
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
        self.w.extend_from_slice(b"{");
        self.key(level + 1, "name", true)?;
        self.str(name)?;

        self.key(level + 1, "sub_groups", false)?;
        let groups: Vec<&Test> = children
            .iter()
            .copied()
            .filter(|t| !t.subtests.is_empty())
            .collect();
        if groups.is_empty() {
            self.w.extend_from_slice(b"[]");
        } else {
            self.w.extend_from_slice(b"[");
            if level == 0 && groups.len() > BATCH {
                self.w
                    .extend_from_slice(&render_groups(&groups[..BATCH], level + 2, true)?);
                self.flush_if_full()?;
                let rest = &groups[BATCH..];
                let batches = rest.len().div_ceil(BATCH);
                let batch = |b: usize| {
                    let end = ((b + 1) * BATCH).min(rest.len());
                    render_groups(&rest[b * BATCH..end], level + 2, false)
                };
                in_order(batches, &batch, &mut |rendered| {
                    self.sink.write_all(&self.w)?;
                    self.w.clear();
                    self.sink.write_all(&rendered)
                })?;
            } else {
                for (i, g) in groups.iter().enumerate() {
                    if i > 0 {
                        self.w.extend_from_slice(b",");
                    }
                    self.indent(level + 2)?;
                    self.group(level + 2, &g.name, &mut g.subtests.iter(), &g.counts)?;
                }
            }
            self.indent(level + 1)?;
            self.w.extend_from_slice(b"]");
        }

        self.key(level + 1, "test_cases", false)?;
        let mut cases = children.iter().filter(|t| t.subtests.is_empty()).peekable();
        if cases.peek().is_none() {
            self.w.extend_from_slice(b"[]");
        } else {
            self.w.extend_from_slice(b"[");
            // Every test case is `{"name": ..., "status": ...}` at the same
            // indentation: render the fixed parts once.
            let open = format!("\n{0}{{\n{0}    \"name\": ", " ".repeat(4 * (level + 2)));
            let status = format!(",\n{}\"status\": ", " ".repeat(4 * (level + 3)));
            let close = format!("\n{}}}", " ".repeat(4 * (level + 2)));
            for (i, c) in cases.enumerate() {
                if i > 0 {
                    self.w.push(b',');
                }
                self.w.extend_from_slice(open.as_bytes());
                self.str(&c.name)?;
                self.w.extend_from_slice(status.as_bytes());
                self.w.push(b'"');
                self.w.extend_from_slice(status_str(c.status).as_bytes());
                self.w.push(b'"');
                self.w.extend_from_slice(close.as_bytes());
                self.flush_if_full()?;
            }
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
        for (i, (k, v)) in misc.iter().enumerate() {
            self.key(level + 2, k, i == 0)?;
            write!(&mut self.w, "{v}")?;
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

/// Top-level groups rendered per batch (and per thread).
const BATCH: usize = 64;

/// Render `groups` at `level` as elements of a JSON list (`first`: the
/// first one has no leading comma).
fn render_groups(groups: &[&Test], level: usize, first: bool) -> io::Result<Vec<u8>> {
    let mut sink = Vec::new();
    let mut out = Out {
        sink: &mut sink,
        w: Vec::with_capacity(FLUSH_AT * 2),
    };
    for (i, g) in groups.iter().enumerate() {
        if i > 0 || !first {
            out.w.push(b',');
        }
        out.indent(level)?;
        out.group(level, &g.name, &mut g.subtests.iter(), &g.counts)?;
    }
    let Out { w, .. } = out;
    sink.extend_from_slice(&w);
    Ok(sink)
}

/// Produce `batches` results with `render` and hand them to `write` in
/// order.  With more than one CPU, a helper thread renders every other
/// batch while this thread renders the next one.
pub(crate) fn in_order<R>(
    batches: usize,
    render: &(dyn Fn(usize) -> io::Result<R> + Sync),
    write: &mut dyn FnMut(R) -> io::Result<()>,
) -> io::Result<()>
where
    R: Send,
{
    let helper = batches > 1 && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    if !helper {
        for b in 0..batches {
            write(render(b)?)?;
        }
        return Ok(());
    }
    std::thread::scope(|s| {
        let (job_tx, job_rx) = std::sync::mpsc::sync_channel::<usize>(1);
        let (out_tx, out_rx) = std::sync::mpsc::sync_channel::<io::Result<R>>(1);
        s.spawn(move || {
            for b in job_rx {
                if out_tx.send(render(b)).is_err() {
                    break;
                }
            }
        });
        let lost = || io::Error::other("rendering thread failed");
        for b in (0..batches).step_by(2) {
            let other = b + 1 < batches;
            if other {
                job_tx.send(b + 1).map_err(|_| lost())?;
            }
            write(render(b)?)?;
            if other {
                write(out_rx.recv().map_err(|_| lost())??)?;
            }
        }
        Ok(())
    })
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
    let mut out = Out {
        sink: w,
        w: Vec::with_capacity(FLUSH_AT * 2),
    };
    out.group(0, "KUnit Test Group", &mut children, &counts)?;
    out.sink.write_all(&out.w)
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
