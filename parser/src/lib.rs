// SPDX-License-Identifier: GPL-2.0
//! ktap2junit: a streaming KTAP / TAP parser compatible with the kernel's
//! `kunit.py parse`, writing JUnit XML (or kunit.py's JSON).
//!
//! Pipeline: raw bytes -> [`lexer`] (prefix stripping, line grammar) ->
//! [`tree`] (streaming state machine building the test tree) -> writers
//! ([`junit`], [`json`], [`summary`]).

pub mod json;
pub mod junit;
pub mod lexer;
mod newlines;
mod plain;
pub mod summary;
mod threaded;
pub mod tree;
pub mod xml;

use std::io::{self, BufRead};

use lexer::{Lexer, Prelexed, prelex};
pub use threaded::{parse_threaded, parse_threaded_with};
use tree::{Counts, Options, Parsed, Status, Test, TreeBuilder};

/// Longest line kept (bytes); the rest of a longer line is discarded.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Read one line (without `\n`) into `buf`, keeping at most `cap` bytes.
/// Returns `None` at end of input, otherwise whether the line was truncated.
pub fn read_line_capped<R: BufRead + ?Sized>(
    r: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Option<bool>> {
    buf.clear();
    let mut truncated = false;
    let mut any = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(any.then_some(truncated));
        }
        any = true;
        let (chunk, done, used) = match memchr::memchr(b'\n', avail) {
            Some(i) => (&avail[..i], true, i + 1),
            None => (avail, false, avail.len()),
        };
        let room = cap.saturating_sub(buf.len());
        if chunk.len() > room {
            buf.extend_from_slice(&chunk[..room]);
            truncated = true;
        } else {
            buf.extend_from_slice(chunk);
        }
        r.consume(used);
        if done {
            return Ok(Some(truncated));
        }
    }
}

/// Lexes lines and feeds them to the tree builder.
pub(crate) struct LineSink {
    pub(crate) lexer: Lexer,
    pub(crate) builder: TreeBuilder,
    pub(crate) line_no: u64,
    pub(crate) truncated_lines: u64,
}

impl LineSink {
    pub(crate) fn new(opts: &Options) -> Self {
        LineSink {
            lexer: Lexer::new(),
            builder: TreeBuilder::new(opts.clone()),
            line_no: 0,
            truncated_lines: 0,
        }
    }

    /// One line (valid UTF-8, at most [`MAX_LINE_BYTES`] bytes).
    #[inline]
    fn line(&mut self, text: &str) {
        self.prelexed(text, prelex(text));
    }

    /// One line with its [`prelex`] result.
    #[inline]
    fn prelexed(&mut self, text: &str, pre: Prelexed) {
        self.line_no += 1;
        let lexed = self.lexer.lex_prelexed(text, pre, self.builder.is_idle());
        self.builder.feed(&lexed, self.line_no);
    }

    /// Hand the finished top-level tests to `on_test` (see
    /// [`Options::stream`]).
    #[inline]
    pub(crate) fn hand_over(&mut self, on_test: &mut dyn FnMut(usize, &Test)) {
        self.builder.hand_over(on_test);
    }

    /// End of input: the parsed runs, with a warning about truncated lines.
    pub(crate) fn finish(
        mut self,
        error: Option<io::Error>,
        on_test: &mut dyn FnMut(usize, &Test),
    ) -> (Parsed, Option<io::Error>) {
        self.builder.end_input();
        self.hand_over(on_test);
        let mut parsed = self.builder.finish();
        if self.truncated_lines > 0 {
            parsed.warnings.push(tree::Warning {
                line: self.line_no,
                message: format!(
                    "{} line(s) longer than {MAX_LINE_BYTES} bytes were truncated",
                    self.truncated_lines
                ),
            });
        }
        (parsed, error)
    }

    /// One line of arbitrary bytes: longer lines are truncated, invalid
    /// UTF-8 becomes U+FFFD.
    fn bytes(&mut self, mut line: &[u8]) {
        if line.len() > MAX_LINE_BYTES {
            line = &line[..MAX_LINE_BYTES];
            self.truncated_lines += 1;
        }
        match std::str::from_utf8(line) {
            Ok(s) => self.line(s),
            Err(_) => self.line(&String::from_utf8_lossy(line)),
        }
    }

    /// A block of complete lines, each terminated by `\n`.  The block is
    /// validated as UTF-8 once (splitting valid UTF-8 at `\n` gives valid
    /// UTF-8), and each line is then borrowed from it.
    fn block(&mut self, block: &[u8]) {
        match std::str::from_utf8(block) {
            Ok(s) => {
                let mut start = 0;
                for nl in memchr::memchr_iter(b'\n', block) {
                    let line = &s[start..nl];
                    if line.len() > MAX_LINE_BYTES {
                        self.bytes(line.as_bytes());
                    } else {
                        self.line(line);
                    }
                    start = nl + 1;
                }
            }
            Err(_) => {
                let mut start = 0;
                for nl in memchr::memchr_iter(b'\n', block) {
                    self.bytes(&block[start..nl]);
                    start = nl + 1;
                }
            }
        }
    }
}

/// Parse a whole input stream.  Lines are split with `memchr` directly in
/// the reader's buffer (only a line crossing a buffer boundary is copied),
/// and each line is lexed and fed to the tree builder immediately (lines
/// longer than [`MAX_LINE_BYTES`] are truncated).  Use a large buffer (or a
/// [`BlockReader`]) for speed.  On a read error the results seen so far are
/// returned together with the error.
pub fn parse_reader<R: BufRead>(r: R, opts: &Options) -> (Parsed, Option<io::Error>) {
    parse_reader_with(r, opts, &mut |_, _| {})
}

/// [`parse_reader`], handing each finished top-level test to `on_test` as
/// soon as it is complete when [`Options::stream`] is set (with the index
/// of its run in this input).
pub fn parse_reader_with<R: BufRead>(
    mut r: R,
    opts: &Options,
    on_test: &mut dyn FnMut(usize, &Test),
) -> (Parsed, Option<io::Error>) {
    let mut sink = LineSink::new(opts);
    // The start of a line that continues in the next buffer (at most
    // MAX_LINE_BYTES).
    let mut carry: Vec<u8> = Vec::new();
    // The current line was already reported truncated: drop its bytes up
    // to the next newline.
    let mut discarding = false;
    let mut error = None;
    loop {
        let avail = match r.fill_buf() {
            Ok([]) => break,
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        let n = avail.len();
        let mut pos = 0;
        if discarding || !carry.is_empty() {
            let Some(nl) = memchr::memchr(b'\n', avail) else {
                if !discarding {
                    take_capped(&mut sink, &mut carry, avail, &mut discarding);
                }
                r.consume(n);
                continue;
            };
            if !discarding {
                take_capped(&mut sink, &mut carry, &avail[..nl], &mut discarding);
                if !discarding {
                    sink.bytes(&carry);
                }
                carry.clear();
            }
            discarding = false;
            pos = nl + 1;
        }
        let rest = &avail[pos..];
        let tail = match memchr::memrchr(b'\n', rest) {
            Some(last) => {
                sink.block(&rest[..=last]);
                sink.hand_over(on_test);
                &rest[last + 1..]
            }
            None => rest,
        };
        take_capped(&mut sink, &mut carry, tail, &mut discarding);
        r.consume(n);
    }
    if error.is_none() && !discarding && !carry.is_empty() {
        sink.bytes(&carry);
    }
    sink.finish(error, on_test)
}

/// Append `part` to the incomplete line in `carry`; if the line thereby
/// exceeds [`MAX_LINE_BYTES`], report its first `MAX_LINE_BYTES` bytes as a
/// truncated line now and set `discarding`.
fn take_capped(sink: &mut LineSink, carry: &mut Vec<u8>, part: &[u8], discarding: &mut bool) {
    if carry.len() + part.len() > MAX_LINE_BYTES {
        carry.extend_from_slice(&part[..=MAX_LINE_BYTES - carry.len()]);
        sink.bytes(carry);
        carry.clear();
        *discarding = true;
    } else {
        carry.extend_from_slice(part);
    }
}

/// Turn `buf` (complete lines, each ending in `\n`) into a string: lines
/// longer than [`MAX_LINE_BYTES`] are truncated (counted in `truncated`),
/// invalid UTF-8 becomes U+FFFD (per line, which is the same as for the
/// whole text since `\n` never belongs to an invalid sequence).
pub(crate) fn lines_to_string(buf: Vec<u8>, truncated: &mut u64) -> String {
    // A block no longer than MAX_LINE_BYTES has no line to truncate.
    let mut too_long = false;
    if buf.len() > MAX_LINE_BYTES {
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', &buf) {
            too_long |= nl - start > MAX_LINE_BYTES;
            start = nl + 1;
        }
    }
    if !too_long {
        return match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
    }
    let mut out = String::with_capacity(buf.len());
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', &buf) {
        let mut line = &buf[start..nl];
        if line.len() > MAX_LINE_BYTES {
            line = &line[..MAX_LINE_BYTES];
            *truncated += 1;
        }
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
        start = nl + 1;
    }
    out
}

/// Parse a string (convenience for tests and tools).
pub fn parse_str(s: &str) -> Parsed {
    parse_reader(s.as_bytes(), &Options::default()).0
}

/// Results of all inputs.
#[derive(Debug, Default)]
pub struct Report {
    /// (input name, parsed result) per input, in order.
    pub inputs: Vec<(String, Parsed)>,
}

impl Report {
    /// All runs of all inputs, in order.
    pub fn runs(&self) -> impl Iterator<Item = &Test> {
        self.inputs.iter().flat_map(|(_, p)| p.runs.iter())
    }

    /// Counts summed over all runs.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in self.runs() {
            c.add(&r.counts);
        }
        c
    }

    /// Overall status: the worst status of any run; a run whose tests were
    /// all skipped only counts when every run was (kunit.py decides so for
    /// its single run).  A boot log with a fully skipped suite printed by a
    /// driver next to KUnit's passing run is a success.
    pub fn status(&self) -> Status {
        let mut any = false;
        let mut all_skipped = true;
        let mut worst: Option<Status> = None;
        for r in self.runs() {
            any = true;
            match r.status {
                Status::Success => all_skipped = false,
                Status::Skipped => {}
                status => {
                    all_skipped = false;
                    worst = Some(match (worst, status) {
                        (_, Status::Crashed) | (Some(Status::Crashed), _) => Status::Crashed,
                        (_, Status::Failure) | (Some(Status::Failure), _) => Status::Failure,
                        (_, Status::FailureToParse) | (Some(Status::FailureToParse), _) => {
                            Status::FailureToParse
                        }
                        (_, Status::NoTests) | (Some(Status::NoTests), _) => Status::NoTests,
                        (_, s) => s,
                    });
                }
            }
        }
        match (any, worst) {
            (false, _) => Status::FailureToParse,
            (true, Some(s)) => s,
            (true, None) if all_skipped => Status::Skipped,
            (true, None) => Status::Success,
        }
    }

    /// Exit code for the results: 0 if the status is SUCCESS, else 1.
    pub fn exit_code(&self) -> i32 {
        if self.status() == Status::Success {
            0
        } else {
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use threaded::CHUNK;

    fn parse_with(input: &[u8], capacity: usize) -> (Vec<Test>, Vec<tree::Warning>) {
        let r = io::BufReader::with_capacity(capacity, input);
        let (p, err) = parse_reader(r, &Options::default());
        assert!(err.is_none());
        (p.runs, p.warnings)
    }

    #[test]
    fn line_splitting_does_not_depend_on_buffer_boundaries() {
        let mut input = b"[  1.0] boot\n[  1.0] KTAP version 1\r\n[  1.0] 1..2\n".to_vec();
        input.extend_from_slice(b"[  1.1] # diag \xff\xfe invalid\n[  1.2] ok 1 first\n");
        input.extend_from_slice(&vec![b'x'; MAX_LINE_BYTES + 5]);
        input.extend_from_slice(b"\n[  1.3] not ok 2 second # TIMEOUT\n[  1.4] tail");
        let reference = parse_with(&input, 1 << 21);
        assert!(
            reference
                .1
                .iter()
                .any(|w| w.message.contains("1 line(s) longer than")),
            "{:?}",
            reference.1
        );
        // The same as reading line by line with read_line_capped.
        let mut lexer = Lexer::new();
        let mut builder = TreeBuilder::new(Options::default());
        let (mut r, mut buf, mut n, mut truncated) = (&input[..], Vec::new(), 0, 0);
        while let Some(t) = read_line_capped(&mut r, &mut buf, MAX_LINE_BYTES).expect("read") {
            n += 1;
            truncated += u64::from(t);
            let text = String::from_utf8_lossy(&buf);
            builder.feed(&lexer.lex(&text, builder.is_idle()), n);
        }
        let old = builder.finish();
        assert_eq!(truncated, 1);
        assert_eq!(old.runs, reference.0);
        assert_eq!(old.warnings[..], reference.1[..reference.1.len() - 1]);
        for capacity in [1, 2, 3, 7, 64, 4096, MAX_LINE_BYTES, MAX_LINE_BYTES + 1] {
            assert_eq!(
                parse_with(&input, capacity),
                reference,
                "capacity {capacity}"
            );
        }
        let (p, err) =
            parse_threaded(io::Cursor::new(input.clone()), &Options::default()).expect("thread");
        assert!(err.is_none());
        assert_eq!((p.runs, p.warnings), reference);
        // Chunk boundaries of the reader thread fall inside lines.
        let mut big = b"KTAP version 1\n1..50000\n".to_vec();
        for i in 1..=50_000 {
            big.extend_from_slice(format!("noise line {i} \u{e9}\nok {i} case_{i}\n").as_bytes());
        }
        assert!(big.len() > 3 * CHUNK);
        let (p, err) =
            parse_threaded(io::Cursor::new(big.clone()), &Options::default()).expect("thread");
        assert!(err.is_none());
        assert_eq!((p.runs, p.warnings), parse_with(&big, 1 << 16));
        // Lines much longer than a chunk (no chunk is lost on the way).
        let mut long = b"KTAP version 1\n1..1\n".to_vec();
        for _ in 0..3 {
            long.extend_from_slice(&vec![b'z'; 5 * CHUNK]);
            long.push(b'\n');
        }
        long.extend_from_slice(b"ok 1 after\n");
        long.extend_from_slice(&vec![b'z'; 5 * CHUNK]);
        let (p, err) =
            parse_threaded(io::Cursor::new(long.clone()), &Options::default()).expect("thread");
        assert!(err.is_none());
        assert_eq!((p.runs, p.warnings), parse_with(&long, 1 << 16));
        // A line of exactly MAX_LINE_BYTES is not truncated.
        let mut exact = vec![b'y'; MAX_LINE_BYTES];
        exact.push(b'\n');
        for capacity in [5, MAX_LINE_BYTES, 1 << 21] {
            assert!(
                parse_with(&exact, capacity)
                    .1
                    .iter()
                    .all(|w| !w.message.contains("truncated"))
            );
        }
    }

    /// Returns its data in pieces, then fails.
    struct Failing(Vec<u8>, usize);

    impl Read for Failing {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.1 >= self.0.len() {
                return Err(io::Error::other("disk on fire"));
            }
            let n = out.len().min(1000).min(self.0.len() - self.1);
            out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    #[test]
    fn read_errors_keep_the_complete_lines() {
        let input = b"KTAP version 1\n1..3\nok 1 a\nok 2 b\nok 3 partial-line".to_vec();
        let (single, e1) = parse_reader(
            io::BufReader::with_capacity(7, Failing(input.clone(), 0)),
            &Options::default(),
        );
        let (threaded, e2) =
            parse_threaded(Failing(input, 0), &Options::default()).expect("thread");
        assert!(e1.is_some() && e2.is_some());
        assert_eq!(single.runs, threaded.runs);
        assert_eq!(single.warnings, threaded.warnings);
        // "ok 3" never completed: test 3 is missing.
        assert_eq!(threaded.runs[0].subtests.len(), 3);
        assert!(threaded.runs[0].subtests[2].missing);
    }
}
