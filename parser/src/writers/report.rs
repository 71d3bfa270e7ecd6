// SPDX-License-Identifier: GPL-2.0
//! kunit.py's human report: what `kunit.py parse` prints on standard
//! output, line for line (kunit_parser.py's `print_test_header()`,
//! `print_test_result()`, `print_test_footer()`, `print_log()`,
//! `print_test()`, `print_summary_line()` and `Test.add_error()`, with
//! kunit_printer.py's `[hh:mm:ss] ` timestamps and colours).
//!
//! kunit prints while it parses: a suite's header when its plan is read, a
//! test's result when it ends, an error when it is found.  Here each
//! top-level test is printed when it is complete, from the tree, with the
//! errors the core kept where kunit printed them
//! ([`crate::ktap::ParseError`]): the same lines in the same order, a
//! suite at a time.
//!
//! * [`Mode::Full`] (kunit's default): a divider, every test, a divider,
//!   the summary line.
//! * [`Mode::Failed`] (`--failed`): after parsing, `print_test(main,
//!   failed_only=True)`: only the tests that did not pass (and the suites
//!   holding them), then the summary line.
//! * [`Mode::Summary`] (`--summary`): the summary line only.

use std::borrow::Cow;
use std::io::{self, Write};

use time::{OffsetDateTime, UtcOffset};

use crate::ktap::{Counts, ErrorAt, Status, Test};

/// kunit_parser.py's `DIVIDER`.
const DIVIDER: &str = "============================================================";
/// Its length (kunit's `len(DIVIDER)`).
const DIVIDER_LEN: usize = DIVIDER.len();
const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[1;33m";
const GREEN: &str = "\x1b[1;32m";
const RESET: &str = "\x1b[0;0m";
/// Failed tests named by the summary at most (kunit's "arbitrary limit").
const MAX_FAILURES: usize = 10;
/// Tests from which on kunit names the failures under the summary line.
const NAME_FAILURES_FROM: u64 = 100;

/// What the report prints (kunit.py's `--summary` and `--failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every test, as kunit.py prints while it parses (the default).
    Full,
    /// Only the tests that did not pass, then the summary (`--failed`).
    Failed,
    /// Only the summary line (`--summary`).
    Summary,
}

/// kunit_printer.py's `Printer`: lines with a `[hh:mm:ss] ` timestamp in
/// local time, colours (only when asked: kunit colours a terminal).
pub struct Printer<'w, W: Write + ?Sized> {
    w: &'w mut W,
    color: bool,
    offset: UtcOffset,
    /// The last second formatted, and its `[hh:mm:ss] `.
    stamp: (i64, [u8; 11]),
    buf: Vec<u8>,
}

/// The local time zone's offset now (UTC if it cannot be found).  Call it
/// before any thread is started: the `time` crate refuses to read it in a
/// process with several threads.
pub fn local_offset() -> UtcOffset {
    UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC)
}

impl<'w, W: Write + ?Sized> Printer<'w, W> {
    /// A printer on `w`, colouring if `color`, timestamps at `offset` from
    /// UTC (see [`local_offset`]).
    pub fn new(w: &'w mut W, color: bool, offset: UtcOffset) -> Self {
        Printer {
            w,
            color,
            offset,
            stamp: (i64::MIN, *b"[00:00:00] "),
            buf: Vec::with_capacity(256),
        }
    }

    /// `print_with_timestamp(message)`.
    pub fn line(&mut self, message: &str) -> io::Result<()> {
        let now = OffsetDateTime::now_utc();
        let secs = now.unix_timestamp();
        if secs != self.stamp.0 {
            let t = now.to_offset(self.offset);
            let two = |n: u8| [b'0' + n / 10, b'0' + n % 10];
            let (h, m, s) = (two(t.hour()), two(t.minute()), two(t.second()));
            self.stamp = (
                secs,
                [
                    b'[', h[0], h[1], b':', m[0], m[1], b':', s[0], s[1], b']', b' ',
                ],
            );
        }
        self.buf.clear();
        self.buf.extend_from_slice(&self.stamp.1);
        self.buf.extend_from_slice(message.as_bytes());
        self.buf.push(b'\n');
        self.w.write_all(&self.buf)
    }

    fn color<'a>(&self, code: &str, text: &'a str) -> Cow<'a, str> {
        if self.color {
            Cow::Owned(format!("{code}{text}{RESET}"))
        } else {
            Cow::Borrowed(text)
        }
    }

    fn red<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.color(RED, text)
    }

    fn yellow<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.color(YELLOW, text)
    }

    /// `color_len()`: the length of a colour's escape codes.
    fn color_len(&self) -> usize {
        if self.color {
            RED.len() + RESET.len()
        } else {
            0
        }
    }

    /// The output, for bytes printed as they are.
    pub fn raw(&mut self) -> &mut W {
        self.w
    }

    /// Flush the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// `format_test_divider(message, len_message)`.
fn divider(message: &str, len_message: usize) -> String {
    let (mut len_1, mut len_2) = (3, 3);
    let difference = DIVIDER_LEN as i64 - len_message as i64 - 2;
    if difference > 0 {
        len_1 = (difference / 2) as usize;
        len_2 = difference as usize - len_1;
    }
    format!("{} {message} {}", "=".repeat(len_1), "=".repeat(len_2))
}

/// Python's `len()` of a string: its characters.
fn py_len(s: &str) -> usize {
    s.chars().count()
}

/// Whether `c` ends a line for Python's `str.splitlines()`.
fn is_py_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\x0b'
            | '\x0c'
            | '\x1c'
            | '\x1d'
            | '\x1e'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// Python's `str.splitlines()` (`\r\n` is one break; no empty last line).
fn py_splitlines(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if is_py_line_break(c) {
            out.push(&s[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r'
                && let Some(&(j, '\n')) = it.peek()
            {
                it.next();
                end = j + 1;
            }
            start = end;
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// Python's `textwrap.dedent()` of the lines joined with `\n`, then
/// `splitlines()`: what `print_log()` prints.
fn dedent(log: &str) -> Vec<String> {
    let is_blank = |l: &str| !l.is_empty() && l.bytes().all(|b| b == b' ' || b == b'\t');
    let lines: Vec<&str> = log.split('\n').collect();
    // The common margin of the lines holding more than spaces and tabs.
    let mut margin: Option<&str> = None;
    for l in &lines {
        let n = l.len() - l.trim_start_matches([' ', '\t']).len();
        if n == l.len() {
            continue;
        }
        let indent = &l[..n];
        margin = Some(match margin {
            None => indent,
            Some(m) if indent.starts_with(m) => m,
            Some(m) if m.starts_with(indent) => indent,
            Some(m) => {
                let common = m
                    .bytes()
                    .zip(indent.bytes())
                    .take_while(|(a, b)| a == b)
                    .count();
                &m[..common]
            }
        });
    }
    let margin = margin.unwrap_or("");
    let text = lines
        .iter()
        .map(|l| {
            if is_blank(l) {
                ""
            } else {
                l.strip_prefix(margin).unwrap_or(l)
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    py_splitlines(&text)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// Writes kunit.py's report, one top-level test at a time.
///
/// Feed every top-level test (a subtest of a run) in input order with
/// [`ReportStream::test`], each run once parsed with
/// [`ReportStream::run`], then call [`ReportStream::finish`].
pub struct ReportStream<'p, 'w, W: Write + ?Sized> {
    p: &'p mut Printer<'w, W>,
    mode: Mode,
    /// `print_test(main)`'s divider was printed (`--failed`).
    opened: bool,
    /// The failures the summary names (`_summarize_failed_tests()`), at
    /// most one more than it names.
    failures: Vec<String>,
}

impl<'p, 'w, W: Write + ?Sized> ReportStream<'p, 'w, W> {
    /// A report in `mode` on `p`; in [`Mode::Full`] the first divider is
    /// printed at once (kunit prints it before it parses).
    pub fn new(p: &'p mut Printer<'w, W>, mode: Mode) -> io::Result<Self> {
        let r = ReportStream {
            p,
            mode,
            opened: false,
            failures: Vec::new(),
        };
        if mode == Mode::Full {
            r.p.line(DIVIDER)?;
        }
        Ok(r)
    }

    /// The next top-level test, in input order.
    pub fn test(&mut self, t: &Test) -> io::Result<()> {
        if !t.status.is_ok() && self.failures.len() <= MAX_FAILURES {
            failed_names(t, "main", &mut self.failures);
        }
        match self.mode {
            Mode::Full => self.parsed(t),
            Mode::Failed => {
                self.open()?;
                self.failed(t)
            }
            Mode::Summary => Ok(()),
        }
    }

    /// A run, once parsed: what kunit prints of the run itself (its errors
    /// no test of it took, and the log before `0 tests run!`).
    pub fn run(&mut self, run: &Test) -> io::Result<()> {
        match self.mode {
            Mode::Full => {
                self.errors(run, |at| at == ErrorAt::Before)?;
                self.errors(run, |at| at != ErrorAt::Before)
            }
            // `print_test()` of a run that is no "main" (`<missing>`: no
            // KTAP output) prints it as a test result.
            Mode::Failed if run.status == Status::FailureToParse => self.result(run),
            Mode::Failed => self.open(),
            Mode::Summary => Ok(()),
        }
    }

    /// The last divider and the summary line (and, for a failing report of
    /// 100 tests or more, the failures), given the status and counts of
    /// all runs.
    pub fn finish(self, status: Status, counts: &Counts) -> io::Result<()> {
        if self.mode == Mode::Full || self.opened {
            self.p.line(DIVIDER)?;
        }
        let color = match status {
            Status::Success => GREEN,
            Status::Skipped | Status::NoTests => YELLOW,
            _ => RED,
        };
        let line = format!("Testing complete. {counts}");
        let line = self.p.color(color, &line).into_owned();
        self.p.line(&line)?;
        if !status.is_ok()
            && counts.total() >= NAME_FAILURES_FROM
            && !self.failures.is_empty()
            && self.failures.len() <= MAX_FAILURES
        {
            let line = format!("Failures: {}", self.failures.join(", "));
            let line = self.p.color(color, &line).into_owned();
            self.p.line(&line)?;
        }
        Ok(())
    }

    /// `print_test(main)`'s first divider, once.
    fn open(&mut self) -> io::Result<()> {
        if !self.opened {
            self.opened = true;
            self.p.line(DIVIDER)?;
        }
        Ok(())
    }

    /// `t` as kunit prints it while parsing.
    fn parsed(&mut self, t: &Test) -> io::Result<()> {
        self.errors(t, |at| at == ErrorAt::Before)?;
        if t.is_parent {
            let name = if t.details().anonymous_header {
                ""
            } else {
                &t.name
            };
            self.header(name, t.details().expected_count)?;
            for s in &t.subtests {
                self.parsed(s)?;
            }
            self.errors(t, |at| at != ErrorAt::Before)?;
            self.footer(t)
        } else {
            self.errors(t, |at| at != ErrorAt::Before)?;
            self.result(t)
        }
    }

    /// `print_test(t, failed_only=True)`.
    fn failed(&mut self, t: &Test) -> io::Result<()> {
        if t.status.is_ok() {
            return Ok(());
        }
        if t.subtests.is_empty() {
            return self.result(t);
        }
        self.header(&t.name, t.details().expected_count)?;
        for s in &t.subtests {
            self.failed(s)?;
        }
        self.footer(t)
    }

    /// The errors of `t` printed where `which` says, as `add_error()`
    /// prints them (the log first where kunit prints it first).
    fn errors(&mut self, t: &Test, which: impl Fn(ErrorAt) -> bool) -> io::Result<()> {
        for e in t.details().errors.iter().filter(|e| which(e.at)) {
            if e.at == ErrorAt::EndAfterLog {
                self.log(t)?;
            }
            let line = format!("{} Test: {}: {}", self.p.red("[ERROR]"), e.test, e.message);
            self.p.line(&line)?;
        }
        Ok(())
    }

    /// `print_test_header()`.
    fn header(&mut self, name: &str, expected: Option<u64>) -> io::Result<()> {
        let mut message = name.to_owned();
        if !message.is_empty() {
            message.push(' ');
        }
        match expected {
            None | Some(0) => {}
            Some(1) => message.push_str("(1 subtest)"),
            Some(n) => message.push_str(&format!("({n} subtests)")),
        }
        let line = divider(&message, py_len(&message));
        self.p.line(&line)
    }

    /// `format_test_result()`: the result message (with the reason of a
    /// skip), the log printed first for a failed or crashed test.
    fn format_result(&mut self, t: &Test) -> io::Result<String> {
        let (tag, color) = match t.status {
            Status::Success => ("[PASSED] ", GREEN),
            Status::Skipped => ("[SKIPPED] ", YELLOW),
            Status::NoTests => ("[NO TESTS RUN] ", YELLOW),
            Status::Crashed => ("[CRASHED] ", RED),
            Status::Failure | Status::FailureToParse => ("[FAILED] ", RED),
        };
        if matches!(
            t.status,
            Status::Crashed | Status::Failure | Status::FailureToParse
        ) {
            self.log(t)?;
        }
        let mut message = format!("{}{}", self.p.color(color, tag), t.name);
        if t.status == Status::Skipped && !t.skip_reason().is_empty() {
            let reason = format!(" ({})", t.skip_reason());
            message.push_str(&self.p.yellow(&reason));
        }
        Ok(message)
    }

    /// `print_test_result()`.
    fn result(&mut self, t: &Test) -> io::Result<()> {
        let line = self.format_result(t)?;
        self.p.line(&line)
    }

    /// `print_test_footer()` (its length leaves out one colour's escape
    /// codes, also when the message has two).
    fn footer(&mut self, t: &Test) -> io::Result<()> {
        let message = self.format_result(t)?;
        let len = py_len(&message).saturating_sub(self.p.color_len());
        let line = divider(&message, len);
        self.p.line(&line)
    }

    /// `print_log()`: the test's log, dedented, in yellow.
    fn log(&mut self, t: &Test) -> io::Result<()> {
        let log = &t.details().log;
        if log.is_empty() {
            return Ok(());
        }
        for l in dedent(log) {
            let line = self.p.yellow(&l).into_owned();
            self.p.line(&line)?;
        }
        Ok(())
    }
}

/// `_summarize_failed_tests()`'s `failed_names(test, parent_name)` for a
/// test that did not pass, adding to `out` (at most one more name than
/// the summary names: more are not named at all).
fn failed_names(t: &Test, parent: &str, out: &mut Vec<String>) {
    if out.len() > MAX_FAILURES {
        return;
    }
    let full = if parent.is_empty() || parent == "main" {
        t.name.clone()
    } else {
        format!("{parent}.{}", t.name)
    };
    if t.subtests.is_empty() {
        out.push(full);
        return;
    }
    let failed = t.subtests.iter().filter(|s| !s.status.is_ok());
    if !parent.is_empty() && failed.clone().count() == t.subtests.len() {
        out.push(full);
        return;
    }
    for s in failed {
        failed_names(s, &full, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dividers_are_kunits() {
        assert_eq!(
            divider("example (2 subtests)", 20),
            "=================== example (2 subtests) ==================="
        );
        assert_eq!(
            divider(&"x".repeat(70), 70),
            format!("=== {} ===", "x".repeat(70))
        );
        assert_eq!(py_len("é"), 1);
    }

    /// The report of `log` (no colour), without timestamps.
    fn report(log: &str, mode: Mode, color: bool) -> String {
        let parsed = crate::parse_str(log);
        let mut out = Vec::new();
        let mut p = Printer::new(&mut out, color, UtcOffset::UTC);
        let mut r = ReportStream::new(&mut p, mode).expect("write");
        for run in &parsed.runs {
            for t in &run.subtests {
                r.test(t).expect("write");
            }
            r.run(run).expect("write");
        }
        let status = parsed.runs[0].status;
        r.finish(status, &parsed.runs[0].counts).expect("write");
        String::from_utf8(out)
            .expect("UTF-8")
            .lines()
            .map(|l| format!("{}\n", &l[11..]))
            .collect()
    }

    /// Every kind of kunit error, where kunit.py prints it: what `kunit.py
    /// parse` (Linux 7.3) prints for this log, but for deviation 4 (a
    /// suite whose result line never came counts as crashed: 6 tests, 3
    /// crashed, where kunit.py counts 5 and 2).
    #[test]
    fn errors_are_printed_where_kunit_prints_them() {
        let log = "KTAP version 2\n1..4\n    KTAP version 1\n    # Subtest: suite_a\n    1..3\n\
                   \x20   ok 1 case_1\n    # case_3: expectation failed\n    not ok 3 case_3\n\
                   \x20   log before the end\n    # Subtest: empty_suite\n    1..0\n\
                   ok 2 empty_suite\n    KTAP version 1\n    1..1\n    ok 1 only\nok 3 anonymous\n";
        let d = "=".repeat(60);
        assert_eq!(
            report(log, Mode::Full, false),
            format!(
                "{d}
[ERROR] Test: main: KTAP version higher than expected!
=================== suite_a (3 subtests) ===================
[PASSED] case_1
[ERROR] Test: case_3: Expected test number 2 but found 3
# case_3: expectation failed
[FAILED] case_3
======================= empty_suite  =======================
[ERROR] Test: empty_suite: Expected test number 3 but found 2
log before the end
[ERROR] Test: empty_suite: 0 tests run!
================ [NO TESTS RUN] empty_suite ================
[ERROR] Test: suite_a: missing subtest result line!
==================== [CRASHED] suite_a =====================
======================= (1 subtest) ========================
[PASSED] only
[ERROR] Test: anonymous: Expected test number 2 but found 3
==================== [PASSED] anonymous ====================
[ERROR] Test: main: missing expected subtest!
[CRASHED] \n[ERROR] Test: main: missing expected subtest!
[CRASHED] \n{d}
Testing complete. Ran 6 tests: passed: 2, failed: 1, crashed: 3, errors: 8
"
            )
        );
        // --failed: after parsing, the tests that did not pass, no errors.
        assert_eq!(
            report(log, Mode::Failed, false),
            format!(
                "{d}
=================== suite_a (3 subtests) ===================
# case_3: expectation failed
[FAILED] case_3
[NO TESTS RUN] empty_suite
==================== [CRASHED] suite_a =====================
[CRASHED] \n[CRASHED] \n{d}
Testing complete. Ran 6 tests: passed: 2, failed: 1, crashed: 3, errors: 8
"
            )
        );
        assert_eq!(
            report(log, Mode::Summary, false),
            "Testing complete. Ran 6 tests: passed: 2, failed: 1, crashed: 3, errors: 8\n"
        );
    }

    /// Colours are kunit_printer.py's, and a footer's width leaves out one
    /// colour's escape codes (also with a skip reason's second colour).
    #[test]
    fn colours_and_footers_are_kunits() {
        let log = "KTAP version 1\n1..1\n    # Subtest: s\n    1..1\n    ok 1 c # SKIP r\nok 1 s # SKIP why\n";
        let r = report(log, Mode::Full, true);
        assert!(
            r.contains("\x1b[1;33m[SKIPPED] \x1b[0;0mc\x1b[1;33m (r)\x1b[0;0m\n"),
            "{r:?}"
        );
        let footer = "\x1b[1;33m[SKIPPED] \x1b[0;0ms\x1b[1;33m (why)\x1b[0;0m";
        let len = py_len(footer) - 13;
        assert!(r.contains(&divider(footer, len)), "{r:?}");
        assert!(
            r.ends_with("\x1b[1;33mTesting complete. Ran 1 tests: skipped: 1\x1b[0;0m\n"),
            "{r:?}"
        );
    }

    #[test]
    fn dedent_is_pythons() {
        assert_eq!(dedent("    a\n      b\n    c"), ["a", "  b", "c"]);
        assert_eq!(dedent("  a\n\tb"), ["  a", "\tb"]);
        assert_eq!(dedent("  a\n   \n  b\n"), ["a", "", "b"]);
        assert_eq!(dedent("a\rb\r\nc\u{2028}d"), ["a", "b", "c", "d"]);
        assert_eq!(dedent("\n  x"), ["", "x"]);
        assert!(dedent("").is_empty());
    }
}
