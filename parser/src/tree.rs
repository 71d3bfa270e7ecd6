// SPDX-License-Identifier: GPL-2.0
//! Tree builder: a streaming state machine turning lexed lines into a tree
//! of [`Test`]s.
//!
//! This is a port of `parse_test()` from the kernel's
//! `tools/testing/kunit/kunit_parser.py` with the recursion replaced by an
//! explicit stack of frames (so arbitrarily deep nesting cannot overflow the
//! stack) and with one line of look-ahead handled by re-offering a line to
//! the next state until some state consumes it.  Statuses, counts and the
//! placement of log lines follow kunit_parser.py; the deviations are listed
//! in the README.
//!
//! Lines are processed as they are read.  Memory grows with the number of
//! tests: log lines are buffered only while their test is running and kept
//! afterwards only for tests that did not pass (unless
//! [`Options::keep_all_logs`] is set), and each test's log is capped at
//! [`Options::max_log_bytes`].

use std::sync::Arc;

use crate::lexer::{Directive, Lexed, Line, ResultLine, VersionKind};

/// Status of a test, as kunit_parser.py's `TestStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Passed.
    Success,
    /// Failed (`not ok`).
    Failure,
    /// Skipped (`# SKIP`, or a failing `# TODO`/`# XFAIL`).
    Skipped,
    /// Crashed: no result line (log ended, run ended or a subtest crashed).
    Crashed,
    /// A test with subtests ran none of them.
    NoTests,
    /// No KTAP output at all.
    FailureToParse,
}

impl Status {
    /// kunit_parser.py's name of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "SUCCESS",
            Status::Failure => "FAILURE",
            Status::Skipped => "SKIPPED",
            Status::Crashed => "TEST_CRASHED",
            Status::NoTests => "NO_TESTS",
            Status::FailureToParse => "FAILURE_TO_PARSE_TESTS",
        }
    }

    /// Passed or skipped.
    pub fn is_ok(self) -> bool {
        matches!(self, Status::Success | Status::Skipped)
    }
}

/// Counts of leaf test statuses and parse errors (kunit's `TestCounts`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Passed tests.
    pub passed: u32,
    /// Failed tests.
    pub failed: u32,
    /// Crashed (or missing) tests.
    pub crashed: u32,
    /// Skipped tests.
    pub skipped: u32,
    /// Parse errors.
    pub errors: u32,
}

impl Counts {
    /// Number of tests (errors are not tests).
    pub fn total(&self) -> u64 {
        u64::from(self.passed)
            + u64::from(self.failed)
            + u64::from(self.crashed)
            + u64::from(self.skipped)
    }

    /// Add another set of counts.
    pub fn add(&mut self, o: &Counts) {
        self.passed = self.passed.saturating_add(o.passed);
        self.failed = self.failed.saturating_add(o.failed);
        self.crashed = self.crashed.saturating_add(o.crashed);
        self.skipped = self.skipped.saturating_add(o.skipped);
        self.errors = self.errors.saturating_add(o.errors);
    }

    /// Count one test with the given status.
    pub fn add_status(&mut self, s: Status) {
        let c = match s {
            Status::Success => &mut self.passed,
            Status::Failure => &mut self.failed,
            Status::Skipped => &mut self.skipped,
            Status::NoTests => return,
            Status::Crashed | Status::FailureToParse => &mut self.crashed,
        };
        *c = c.saturating_add(1);
    }

    /// The aggregated status (kunit's `TestCounts.get_status()`).
    pub fn status(&self) -> Status {
        if self.total() == 0 {
            Status::NoTests
        } else if self.crashed > 0 {
            Status::Crashed
        } else if self.failed > 0 {
            Status::Failure
        } else if self.passed > 0 {
            Status::Success
        } else {
            Status::Skipped
        }
    }
}

impl std::fmt::Display for Counts {
    /// `Ran N tests: passed: X, failed: Y, ...` as kunit.py prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ran {} tests:", self.total())?;
        let parts = [
            ("passed", self.passed),
            ("failed", self.failed),
            ("crashed", self.crashed),
            ("skipped", self.skipped),
            ("errors", self.errors),
        ];
        let mut sep = " ";
        for (label, n) in parts.into_iter().filter(|&(_, n)| n > 0) {
            write!(f, "{sep}{label}: {n}")?;
            sep = ", ";
        }
        Ok(())
    }
}

/// Rarely needed details of a test, boxed to keep [`Test`] small.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    /// Reason given with a SKIP (or TODO/XFAIL) directive.
    pub skip_reason: String,
    /// The directive of the result line.
    pub directive: Option<Directive>,
    /// Diagnostic data after ` # ` on the result line (no known directive,
    /// or TIMEOUT/ERROR).
    pub diagnostic: String,
    /// Log lines (diagnostics and unknown lines) joined with `\n`.
    pub log: String,
    /// Log lines that were not kept because of the log size cap.
    pub log_dropped: u64,
    /// KTAP attributes (`# speed: slow`, `# module: foo`, `# case.speed: slow`).
    pub attributes: Vec<(String, String)>,
    /// The plan (`1..N`), if the test had one.
    pub expected_count: Option<u64>,
}

/// One test (a leaf test case, a suite with subtests, or a run's "main").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Test {
    /// Name ("main" for a run).
    pub name: String,
    /// Status.
    pub status: Status,
    /// Counts including all subtests.
    pub counts: Counts,
    /// Subtests in order.
    pub subtests: Vec<Test>,
    /// Started with a KTAP version line or `# Subtest:` header (a suite).
    pub is_parent: bool,
    /// Placeholder for a test the plan promised but that never reported.
    pub missing: bool,
    /// The suite reported `not ok` although none of its subtests failed;
    /// this counted as one failure.
    pub own_failure: bool,
    /// The suite's result line never came (the log or the run ended, or
    /// another line came in its place) and none of its subtests crashed;
    /// this counted as one crashed test.
    pub own_crash: bool,
    /// Test number (the expected number at its level).
    pub number: u64,
    /// Duration in microseconds, from printk timestamps.
    pub time_us: Option<u64>,
    /// Input line number of its result line (0 if none).
    pub result_line: u64,
    details: Option<Box<Details>>,
}

impl Test {
    fn new(name: &str) -> Self {
        Test {
            name: name.to_owned(),
            status: Status::Crashed,
            counts: Counts::default(),
            subtests: Vec::new(),
            is_parent: false,
            missing: false,
            own_failure: false,
            own_crash: false,
            number: 0,
            time_us: None,
            result_line: 0,
            details: None,
        }
    }

    /// Details (empty defaults if none were recorded).
    pub fn details(&self) -> &Details {
        static EMPTY: Details = Details {
            skip_reason: String::new(),
            directive: None,
            diagnostic: String::new(),
            log: String::new(),
            log_dropped: 0,
            attributes: Vec::new(),
            expected_count: None,
        };
        self.details.as_deref().unwrap_or(&EMPTY)
    }

    fn details_mut(&mut self) -> &mut Details {
        self.details.get_or_insert_with(Box::default)
    }

    /// Skip reason ("" if none).
    pub fn skip_reason(&self) -> &str {
        &self.details().skip_reason
    }

    /// Log lines kept for this test.
    pub fn log_lines(&self) -> impl Iterator<Item = &str> {
        let log = &self.details().log;
        log.split('\n').filter(move |_| !log.is_empty())
    }
}

/// A parser warning (a parse error in kunit_parser.py's terms, or a line
/// that could not be parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// 1-based input line number.
    pub line: u64,
    /// Message.
    pub message: String,
}

/// Builder options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Keep log lines of passing tests too.
    pub keep_all_logs: bool,
    /// Maximum bytes of log kept per test.
    pub max_log_bytes: usize,
    /// Maximum placeholders created for missing tests per parent.
    pub max_missing: u64,
    /// Maximum warnings stored (the rest are only counted).
    pub max_warnings: usize,
    /// Hand every finished top-level test (a suite, or a test case reported
    /// at the top level) to the caller through
    /// [`TreeBuilder::hand_over`] instead of keeping it in its run, so
    /// that a writer can write it and free it while parsing goes on.  The
    /// runs then carry their status and counts, but no subtests.
    pub stream: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keep_all_logs: false,
            max_log_bytes: 64 * 1024,
            max_missing: 10_000,
            max_warnings: 1000,
            stream: false,
        }
    }
}

/// The log lines of a test, collected while it runs.
///
/// Lines are copied into `text`, except while the threaded parser builds
/// the tree: the commonest lines (see [`TreeBuilder::log_span`]) are then
/// kept as byte ranges of the chunk of input being built from, and copied
/// only if the log is kept (the test did not pass) or when the tree
/// builder leaves the chunk.  Most tests pass, so most log lines are never
/// copied.
#[derive(Debug, Default)]
struct LogBuf {
    /// Lines joined with `\n`.
    text: String,
    /// Number of lines in `text`.
    text_lines: u64,
    /// The lines after those of `text`: byte ranges of the current chunk.
    spans: Vec<(u32, u32)>,
    /// Number of lines, in `text` and in `spans`.
    lines: u64,
    /// Length of the text with the lines of `spans` copied in.
    len: usize,
    dropped: u64,
    attrs: Vec<(String, String)>,
}

const ATTRIBUTES: [&str; 3] = ["speed", "module", "is_init"];

impl LogBuf {
    /// An empty buffer using (cleared) `text` and `spans` buffers.
    fn reusing(text: String, spans: Vec<(u32, u32)>) -> Self {
        LogBuf {
            text,
            spans,
            ..LogBuf::default()
        }
    }

    /// Add a line; a line of the current chunk (`chunk`) is kept as its
    /// range.
    fn push(&mut self, line: &str, cap: usize, chunk: Option<&str>) {
        if let Some(attr) = parse_attribute(line) {
            self.attrs.push(attr);
        }
        match chunk.and_then(|chunk| range_in(chunk, line)) {
            Some((start, end)) => self.push_span(start, end, cap),
            None => self.push_text(line, cap, chunk),
        }
    }

    /// Count a line of `len` bytes in, unless it would make the log longer
    /// than `cap`; whether it was.
    #[inline]
    fn admit(&mut self, len: usize, cap: usize) -> bool {
        if self.len + len + 1 > cap {
            self.dropped += 1;
            return false;
        }
        self.len += usize::from(self.lines > 0) + len;
        self.lines += 1;
        true
    }

    /// Add a line (after the lines of the current chunk: `chunk`).
    fn push_text(&mut self, line: &str, cap: usize, chunk: Option<&str>) {
        if self.admit(line.len(), cap) {
            self.copy_spans(chunk);
            self.add_to_text(line);
        }
    }

    /// Add the line `chunk[start..end]` of the current chunk (see
    /// [`TreeBuilder::log_span`]): it is not an attribute line.
    #[inline]
    fn push_span(&mut self, start: u32, end: u32, cap: usize) {
        if self.admit((end - start) as usize, cap) {
            self.spans.push((start, end));
        }
    }

    fn add_to_text(&mut self, line: &str) {
        if self.text_lines > 0 {
            self.text.push('\n');
        }
        self.text.push_str(line);
        self.text_lines += 1;
    }

    /// Copy the lines kept as byte ranges of the current chunk (`chunk`)
    /// into the text.
    fn copy_spans(&mut self, chunk: Option<&str>) {
        if self.spans.is_empty() {
            return;
        }
        // Ranges are only made while the tree builder has their chunk, and
        // copied before it leaves it.
        let chunk = chunk.expect("log lines kept as ranges of a chunk that is gone");
        let mut spans = std::mem::take(&mut self.spans);
        for &(start, end) in &spans {
            self.add_to_text(&chunk[start as usize..end as usize]);
        }
        spans.clear();
        self.spans = spans;
    }

    /// The text of all lines.
    fn take_text(&mut self, chunk: Option<&str>) -> String {
        self.copy_spans(chunk);
        std::mem::take(&mut self.text)
    }

    /// Append another buffer (its lines after ours).
    fn append(&mut self, mut other: LogBuf, cap: usize, chunk: Option<&str>) {
        if other.lines == 0 {
            // Nothing to copy: keep our buffers (they are reused).
            self.dropped += other.dropped;
            self.attrs.append(&mut other.attrs);
            return;
        }
        if self.lines == 0 && self.dropped == 0 {
            other.attrs.splice(0..0, std::mem::take(&mut self.attrs));
            *self = other;
            return;
        }
        if other.text_lines > 0 {
            for l in other.text.split('\n') {
                self.push_text(l, cap, chunk);
            }
        }
        for &(start, end) in &other.spans {
            self.push_span(start, end, cap);
        }
        self.dropped += other.dropped;
        self.attrs.append(&mut other.attrs);
    }

    fn is_empty(&self) -> bool {
        self.lines == 0 && self.dropped == 0 && self.attrs.is_empty()
    }
}

/// The text of the current chunk (see [`TreeBuilder::enter_chunk`]); a
/// function of the field, not a method, so that frames can be borrowed
/// beside it.
fn chunk_text(chunk: &Option<Arc<String>>) -> Option<&str> {
    chunk.as_deref().map(String::as_str)
}

/// The byte range of `inner` in `outer`, if it is a slice of it.
fn range_in(outer: &str, inner: &str) -> Option<(u32, u32)> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    let end = start.checked_add(inner.len())?;
    // A chunk is far shorter than 4 GiB.
    let range = (u32::try_from(start).ok()?, u32::try_from(end).ok()?);
    (end <= outer.len()).then_some(range)
}

/// `# speed: slow` -> ("speed", "slow"); `# case.speed: slow` -> ("case.speed", "slow").
fn parse_attribute(line: &str) -> Option<(String, String)> {
    // Most log lines are not diagnostics: decide on the first byte that is
    // not ASCII whitespace (a non-ASCII one may be Unicode whitespace).
    let first = line
        .bytes()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'));
    if first.is_some_and(|b| b != b'#' && b.is_ascii()) {
        return None;
    }
    let rest = line.trim_start().strip_prefix("# ")?;
    let (key, value) = rest.split_once(": ")?;
    let attr = key.rsplit('.').next()?;
    if key.contains(char::is_whitespace) || !ATTRIBUTES.contains(&attr) {
        return None;
    }
    Some((key.to_owned(), value.to_owned()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Diagnostics before the header.
    Diag0,
    /// Optional KTAP/TAP version line.
    Version,
    /// Optional `# Subtest:` line (subtests only).
    Header,
    /// Diagnostics after the header.
    Diag1,
    /// Optional plan.
    Plan,
    /// Subtests.
    Loop,
    /// Diagnostics before the result line (subtests only).
    PostDiag,
    /// The result line (subtests only).
    Result,
}

#[derive(Debug)]
struct Frame {
    test: Test,
    is_subtest: bool,
    phase: Phase,
    parent_test: bool,
    expected: Option<u64>,
    expected_num: u64,
    test_num: u64,
    missing_made: u64,
    log: LogBuf,
    pending: LogBuf,
    start_ts: Option<u64>,
    mark_ts: Option<u64>,
    end_ts: Option<u64>,
    header_seen: bool,
    no_result: bool,
    /// Subtests handed to the caller instead of kept (see
    /// [`Options::stream`]).
    streamed: u64,
}

impl Frame {
    /// A frame to be made a new one by [`Frame::renew`] (only that sets
    /// its values).
    fn blank() -> Self {
        Frame {
            test: Test::new(""),
            is_subtest: false,
            phase: Phase::Diag0,
            parent_test: false,
            expected: None,
            expected_num: 0,
            test_num: 0,
            missing_made: 0,
            log: LogBuf::default(),
            pending: LogBuf::default(),
            start_ts: None,
            mark_ts: None,
            end_ts: None,
            header_seen: false,
            no_result: false,
            streamed: 0,
        }
    }

    /// Make a blank frame, or that of a finished test (its test and pending
    /// log taken, see [`TreeBuilder::finish_frame`]), the frame of a new
    /// test, in place.
    fn renew(
        &mut self,
        name: &str,
        is_subtest: bool,
        expected_num: u64,
        log: LogBuf,
        ts: Option<u64>,
    ) {
        // Every field, so that a new one cannot be forgotten here.
        let Frame {
            test,
            is_subtest: subtest,
            phase,
            parent_test,
            expected,
            expected_num: number,
            test_num,
            missing_made,
            log: frame_log,
            pending,
            start_ts,
            mark_ts,
            end_ts,
            header_seen,
            no_result,
            streamed,
        } = self;
        debug_assert!(test.name.is_empty() && test.subtests.is_empty() && pending.is_empty());
        test.name.push_str(name);
        test.number = expected_num;
        *subtest = is_subtest;
        *phase = Phase::Diag0;
        *parent_test = !is_subtest;
        *expected = None;
        *number = expected_num;
        *test_num = 1;
        *missing_made = 0;
        *frame_log = log;
        *start_ts = ts;
        *mark_ts = ts;
        *end_ts = None;
        *header_seen = false;
        *no_result = false;
        *streamed = 0;
    }

    /// Its plan (if it has one) still promises another subtest.
    #[inline]
    fn within_plan(&self) -> bool {
        self.expected.is_none_or(|n| self.test_num <= n)
    }

    /// Waiting for its next subtest within its plan: a log line now goes to
    /// that subtest's log (see [`TreeBuilder::step_loop`]).
    #[inline]
    fn between_subtests(&self) -> bool {
        self.phase == Phase::Loop && self.within_plan()
    }

    fn mark_header(&mut self, ts: Option<u64>) {
        if !self.header_seen {
            self.header_seen = true;
            if ts.is_some() {
                self.start_ts = ts;
            }
        }
        if ts.is_some() {
            self.mark_ts = ts;
        }
    }
}

enum Step {
    Consumed,
    Again,
}

/// Streaming tree builder.  Feed lexed lines with [`TreeBuilder::feed`], then
/// call [`TreeBuilder::finish`] to get the runs.
#[derive(Debug)]
pub struct TreeBuilder {
    opts: Options,
    /// The tests in progress, innermost last.  Boxed: a frame is several
    /// hundred bytes, and it would be moved in and out of the vector for
    /// every test.
    #[allow(clippy::vec_box)]
    stack: Vec<Box<Frame>>,
    /// Frames of finished tests, for the next tests.
    #[allow(clippy::vec_box)]
    frames: Vec<Box<Frame>>,
    runs: Vec<Test>,
    warnings: Vec<Warning>,
    warnings_suppressed: u64,
    line_no: u64,
    last_result_name: String,
    last_was_result: bool,
    last_ts: Option<u64>,
    started_any: bool,
    /// Log lines after a run whose plan was complete (while the lexer still
    /// strips its prefix): the log of a test line that may follow, which
    /// starts a run of its own; dropped when a version line starts the
    /// next run, at an end marker and at the end of the input.
    after_run: LogBuf,
    /// Cleared log buffers (text and ranges) of finished tests whose log
    /// was not kept, reused for the next tests (saves an allocation and its
    /// regrowth per test).
    spare: Vec<(String, Vec<(u32, u32)>)>,
    /// The chunk of input the threaded parser is building from (see
    /// [`TreeBuilder::enter_chunk`]).
    chunk: Option<Arc<String>>,
    /// Finished top-level tests not handed over yet, with the index of
    /// their run (see [`Options::stream`]).
    finished: Vec<(usize, Test)>,
    /// Names of tests handed over, cleared, for the next tests.
    names: Vec<String>,
    /// Subtest lists of tests handed over, emptied, for the next suites.
    lists: Vec<Vec<Test>>,
}

/// Most subtests room is made for in advance when a plan is seen.
const PLAN_RESERVE_MAX: usize = 4096;

/// Most names kept for reuse (see [`TreeBuilder::hand_over`]), and the
/// longest (a hostile log may have long ones).
const NAMES_MAX: usize = 1024;
const NAME_MAX: usize = 256;

/// Most subtest lists kept for reuse (each has room for at most
/// [`PLAN_RESERVE_MAX`] tests unless they really came).
const LISTS_MAX: usize = 8;

/// Most frames kept in [`TreeBuilder::frames`].
const MAX_FRAMES: usize = 16;

/// Most log buffers kept in [`TreeBuilder::spare`].
const MAX_SPARE: usize = 8;

impl Default for TreeBuilder {
    fn default() -> Self {
        Self::new(Options::default())
    }
}

impl TreeBuilder {
    /// A builder with the given options.
    pub fn new(opts: Options) -> Self {
        TreeBuilder {
            opts,
            stack: Vec::new(),
            frames: Vec::new(),
            runs: Vec::new(),
            warnings: Vec::new(),
            warnings_suppressed: 0,
            line_no: 0,
            last_result_name: String::new(),
            last_was_result: false,
            last_ts: None,
            started_any: false,
            after_run: LogBuf::default(),
            spare: Vec::new(),
            chunk: None,
            finished: Vec::new(),
            names: Vec::new(),
            lists: Vec::new(),
        }
    }

    /// Hand the top-level tests finished since the last call to `on_test`,
    /// in input order, each with the index of its run (0 for the first run
    /// this builder saw); none unless [`Options::stream`] is set.  Their
    /// memory is then reused for the next tests.
    pub fn hand_over(&mut self, on_test: &mut dyn FnMut(usize, &Test)) {
        if self.finished.is_empty() {
            return;
        }
        let mut finished = std::mem::take(&mut self.finished);
        for (run, test) in finished.drain(..) {
            on_test(run, &test);
            self.recycle(test);
        }
        self.finished = finished;
    }

    /// Keep the names and subtest lists of a test that is no longer needed
    /// for the next tests (a name is allocated for every test otherwise).
    fn recycle(&mut self, mut t: Test) {
        let mut subtests = std::mem::take(&mut t.subtests);
        for s in subtests.drain(..) {
            self.recycle(s);
        }
        if subtests.capacity() > 0 && self.lists.len() < LISTS_MAX {
            self.lists.push(subtests);
        }
        if (1..=NAME_MAX).contains(&t.name.capacity()) && self.names.len() < NAMES_MAX {
            t.name.clear();
            self.names.push(t.name);
        }
    }

    /// End the run in progress as if the input ended here, so that its
    /// last tests can be handed over with [`TreeBuilder::hand_over`] before
    /// [`TreeBuilder::finish`].
    pub fn end_input(&mut self) {
        self.end_run();
    }

    /// No run in progress (between runs or before the first one).
    pub fn is_idle(&self) -> bool {
        self.stack.is_empty()
    }

    fn warn(&mut self, message: String) {
        if self.warnings.len() < self.opts.max_warnings {
            self.warnings.push(Warning {
                line: self.line_no,
                message,
            });
        } else {
            self.warnings_suppressed += 1;
        }
    }

    fn add_error(&mut self, idx: usize, msg: &str) {
        let name = match self.stack.get_mut(idx) {
            Some(f) => {
                f.test.counts.errors = f.test.counts.errors.saturating_add(1);
                f.test.name.clone()
            }
            None => return,
        };
        self.warn(format!("test '{name}': {msg}"));
    }

    /// Feed the next line; `line_no` is its 1-based number in the input.
    pub fn feed(&mut self, lexed: &Lexed<'_>, line_no: u64) {
        self.line_no = line_no;
        if let Line::Diagnostic = lexed.line
            && !lexed.malformed_result
            && self.log_between_subtests(lexed.text)
        {
            self.logged(lexed.timestamp);
            return;
        }
        if lexed.malformed_result {
            self.warn(format!(
                "malformed result line treated as a diagnostic: {}",
                lexed.text.trim()
            ));
        }
        self.feed_line(lexed);
        if lexed.timestamp.is_some() {
            self.last_ts = lexed.timestamp;
        }
        if !matches!(lexed.line, Line::End | Line::Outside) {
            self.last_was_result = false;
            if let Line::Result(r) = &lexed.line {
                self.last_was_result = true;
                self.last_result_name.clear();
                self.last_result_name.push_str(r.plain_name);
            }
        }
    }

    /// The commonest line, without the state machine's dispatch: a log line
    /// while the innermost test waits for its next subtest within its plan
    /// goes to that subtest's log, as [`TreeBuilder::step_loop`] would put
    /// it.  `false` (nothing done) in every other state.
    #[inline]
    fn log_between_subtests(&mut self, text: &str) -> bool {
        let cap = self.opts.max_log_bytes;
        match self.stack.last_mut() {
            Some(f) if f.between_subtests() => {
                f.pending.push(text, cap, chunk_text(&self.chunk));
                true
            }
            _ => false,
        }
    }

    /// What [`TreeBuilder::feed`] notes of a log line after it (when the
    /// line was put into a log without the state machine).
    #[inline]
    fn logged(&mut self, timestamp: Option<u64>) {
        if timestamp.is_some() {
            self.last_ts = timestamp;
        }
        self.last_was_result = false;
    }

    /// Start building from a chunk of input (the threaded parser's): log
    /// lines of it can then be given as byte ranges ([`TreeBuilder::log_span`]).
    pub(crate) fn enter_chunk(&mut self, chunk: Arc<String>) {
        self.leave_chunk();
        self.chunk = Some(chunk);
    }

    /// Stop building from the chunk given to [`TreeBuilder::enter_chunk`]:
    /// the log lines still kept as ranges of it are copied.
    pub(crate) fn leave_chunk(&mut self) {
        if let Some(chunk) = self.chunk.take() {
            for f in &mut self.stack {
                f.log.copy_spans(Some(&chunk));
                f.pending.copy_spans(Some(&chunk));
            }
            self.after_run.copy_spans(Some(&chunk));
        }
    }

    /// [`TreeBuilder::feed`] for the line `chunk[start..end]` of the chunk
    /// given to [`TreeBuilder::enter_chunk`], lexed as a diagnostic that is
    /// not a KTAP attribute (its first character after the indentation is
    /// not `#`), when it goes to the log of the next subtest (see
    /// [`TreeBuilder::log_between_subtests`]): it is kept as a range of the
    /// chunk, not copied.  `false` (nothing done) in every other state.
    #[inline]
    pub(crate) fn log_span(
        &mut self,
        start: u32,
        end: u32,
        timestamp: Option<u64>,
        line_no: u64,
    ) -> bool {
        let cap = self.opts.max_log_bytes;
        match self.stack.last_mut() {
            Some(f) if f.between_subtests() => {
                debug_assert!(self.chunk.is_some(), "a log range without a chunk");
                f.pending.push_span(start, end, cap);
            }
            _ => return false,
        }
        self.line_no = line_no;
        self.logged(timestamp);
        true
    }

    fn feed_line(&mut self, lexed: &Lexed<'_>) {
        match &lexed.line {
            Line::Outside => return,
            Line::End => {
                // Keep the line that ended the output (a panic message, say)
                // in the log of the test that was running.
                let cap = self.opts.max_log_bytes;
                if let Some(f) = self.stack.last_mut() {
                    if f.phase == Phase::Loop {
                        f.pending.push(lexed.text, cap, chunk_text(&self.chunk));
                    } else {
                        f.log.push(lexed.text, cap, chunk_text(&self.chunk));
                    }
                }
                self.end_run();
                self.after_run = LogBuf::default();
                return;
            }
            Line::Version { .. } if lexed.indent == 0 => {
                // An unindented version line after a run's header starts a
                // new top-level run (a module loaded later, a second run).
                if let Some(main) = self.stack.first()
                    && !matches!(main.phase, Phase::Diag0 | Phase::Version)
                {
                    self.end_run();
                }
            }
            _ => {}
        }
        // Offer the line to the state machine until a state consumes it.
        // Every state either consumes the line, advances its phase or pops
        // a frame, and a fresh run always consumes its first line, so this
        // terminates.
        let mut fresh = false;
        loop {
            if self.stack.is_empty() {
                if fresh {
                    return;
                }
                if let Line::Diagnostic = lexed.line {
                    // After a complete run: the log of a test line that may
                    // follow, as if the plan had promised that test.
                    let cap = self.opts.max_log_bytes;
                    self.after_run
                        .push(lexed.text, cap, chunk_text(&self.chunk));
                    return;
                }
                if self.started_any && !matches!(lexed.line, Line::Version { .. }) {
                    self.warn(
                        "test line after the end of the previous run; reporting it as a new run"
                            .to_owned(),
                    );
                }
                self.started_any = true;
                fresh = true;
                let mut f = self.frame("main", false, 0, LogBuf::default(), lexed.timestamp);
                let after_run = std::mem::take(&mut self.after_run);
                if !matches!(lexed.line, Line::Version { .. }) {
                    // The log of the run's first test.
                    f.pending = after_run;
                }
                self.stack.push(f);
            }
            if let Step::Consumed = self.step(Some(lexed)) {
                return;
            }
        }
    }

    /// End the current run as if the input ended here.
    fn end_run(&mut self) {
        while !self.stack.is_empty() {
            self.step(None);
        }
    }

    /// Finish: end the run in progress and return the parsed runs.
    pub fn finish(mut self) -> Parsed {
        self.end_run();
        self.after_run = LogBuf::default();
        if !self.started_any {
            let mut t = Test::new("<missing>");
            t.status = Status::FailureToParse;
            t.counts.errors = 1;
            self.warn(
                "could not find any KTAP output (no \"KTAP version 1\" or \"TAP version N\" line)"
                    .to_owned(),
            );
            self.runs.push(t);
        }
        Parsed {
            runs: self.runs,
            warnings: self.warnings,
            warnings_suppressed: self.warnings_suppressed,
        }
    }

    /// kunit's `peek_test_name_match()` (at EOF it peeks at the last line,
    /// like kunit's LineStream does).
    fn name_match(&self, cur: Option<&Lexed<'_>>, name: &str) -> bool {
        let plain = match cur {
            Some(Lexed {
                line: Line::Result(r),
                ..
            }) => r.plain_name,
            Some(_) => return false,
            None if self.last_was_result => self.last_result_name.as_str(),
            None => return false,
        };
        !plain.is_empty() && plain == name
    }

    fn step(&mut self, cur: Option<&Lexed<'_>>) -> Step {
        let idx = self.stack.len() - 1;
        let cap = self.opts.max_log_bytes;
        let is_diag = matches!(
            cur.map(|l| &l.line),
            Some(Line::Diagnostic | Line::ExecutorError)
        );
        let Some(f) = self.stack.last_mut() else {
            return Step::Consumed;
        };
        match f.phase {
            Phase::Diag0 | Phase::Diag1 | Phase::PostDiag => {
                if let (true, Some(l)) = (is_diag, cur) {
                    f.log.push(l.text, cap, chunk_text(&self.chunk));
                    return Step::Consumed;
                }
                f.phase = match f.phase {
                    Phase::Diag0 => Phase::Version,
                    Phase::Diag1 => Phase::Plan,
                    _ => Phase::Result,
                };
                Step::Again
            }
            Phase::Version => {
                f.phase = if f.is_subtest {
                    Phase::Header
                } else {
                    Phase::Diag1
                };
                if let Some(
                    l @ Lexed {
                        line: Line::Version { kind, version },
                        ..
                    },
                ) = cur
                {
                    f.parent_test = true;
                    f.mark_header(l.timestamp);
                    let (kind, version) = (*kind, *version);
                    let (label, ok): (&str, &[u64]) = match kind {
                        VersionKind::Ktap => ("KTAP", &[1]),
                        VersionKind::Tap => ("TAP", &[13, 14]),
                    };
                    let min = ok.first().copied().unwrap_or(0);
                    let max = ok.last().copied().unwrap_or(0);
                    if version < min {
                        self.add_error(idx, &format!("{label} version lower than expected!"));
                    } else if version > max {
                        self.add_error(idx, &format!("{label} version higher than expected!"));
                    }
                    return Step::Consumed;
                }
                Step::Again
            }
            Phase::Header => {
                f.phase = Phase::Diag1;
                if let Some(
                    l @ Lexed {
                        line: Line::Subtest(name),
                        ..
                    },
                ) = cur
                {
                    f.parent_test = true;
                    f.test.name.clear();
                    f.test.name.push_str(name);
                    f.mark_header(l.timestamp);
                    return Step::Consumed;
                }
                Step::Again
            }
            Phase::Plan => {
                f.phase = if f.parent_test {
                    Phase::Loop
                } else {
                    Phase::PostDiag
                };
                if let Some(
                    l @ Lexed {
                        line: Line::Plan(n),
                        ..
                    },
                ) = cur
                {
                    f.expected = Some(*n);
                    f.test.details_mut().expected_count = Some(*n);
                    // Room for the promised subtests at once: growing the
                    // vector by doubling would copy them and leave up to
                    // half of it unused.  A bogus plan reserves at most
                    // PLAN_RESERVE_MAX.
                    if !(self.opts.stream && idx == 0) {
                        let want = usize::try_from(*n).unwrap_or(usize::MAX);
                        if f.test.subtests.capacity() == 0
                            && let Some(list) = self.lists.pop()
                        {
                            f.test.subtests = list;
                        }
                        f.test.subtests.reserve_exact(want.min(PLAN_RESERVE_MAX));
                    }
                    if l.timestamp.is_some() {
                        f.mark_ts = l.timestamp;
                    }
                    return Step::Consumed;
                }
                Step::Again
            }
            Phase::Loop => self.step_loop(cur, is_diag),
            Phase::Result => self.step_result(cur),
        }
    }

    fn step_loop(&mut self, cur: Option<&Lexed<'_>>, is_diag: bool) -> Step {
        let idx = self.stack.len() - 1;
        let cap = self.opts.max_log_bytes;
        let max_missing = self.opts.max_missing;
        let (is_subtest, name_matches) = match self.stack.last() {
            Some(f) => (
                f.is_subtest,
                f.is_subtest && self.name_match(cur, &f.test.name),
            ),
            None => return Step::Consumed,
        };
        let Some(f) = self.stack.last_mut() else {
            return Step::Consumed;
        };
        if !f.within_plan() {
            return self.end_loop(is_subtest);
        }
        if let (true, Some(l)) = (is_diag, cur) {
            f.pending.push(l.text, cap, chunk_text(&self.chunk));
            return Step::Consumed;
        }
        if cur.is_none() || name_matches {
            if let Some(n) = f.expected.filter(|&n| n > 0 && f.test_num <= n) {
                if f.missing_made >= max_missing {
                    // Give up materialising placeholders for absurd plans.
                    f.expected = Some(f.test_num.saturating_sub(1));
                    let log = std::mem::take(&mut f.pending);
                    f.log.append(log, cap, chunk_text(&self.chunk));
                    self.warn(format!(
                        "plan promised {n} tests; only the first {max_missing} missing ones are reported"
                    ));
                    return Step::Again;
                }
                let mut t = Test::new("");
                t.missing = true;
                t.number = f.test_num;
                let mut log = std::mem::take(&mut f.pending);
                if !log.is_empty() {
                    let d = t.details_mut();
                    d.log = log.take_text(chunk_text(&self.chunk));
                    d.log_dropped = log.dropped;
                }
                f.test.counts.add_status(Status::Crashed);
                if self.opts.stream && idx == 0 {
                    f.streamed += 1;
                    self.finished.push((self.runs.len(), t));
                } else {
                    f.test.subtests.push(t);
                }
                f.test_num = f.test_num.saturating_add(1);
                f.missing_made += 1;
                let num = f.test_num - 1;
                self.add_error(
                    idx,
                    &format!("missing expected subtest! (test {num} of {n})"),
                );
                return Step::Again;
            }
            let log = std::mem::take(&mut f.pending);
            f.log.append(log, cap, chunk_text(&self.chunk));
            return self.end_loop(is_subtest);
        }
        // A subtest starts here.
        let (text, spans) = self.spare.pop().unwrap_or_default();
        let log = std::mem::replace(&mut f.pending, LogBuf::reusing(text, spans));
        let (number, ts) = (f.test_num, f.mark_ts);
        let mut child = self.frame("", true, number, log, ts);
        if matches!(cur.map(|l| &l.line), Some(Line::Result(_))) {
            // A result line passes through the phases before Result
            // (Diag0, Version, Header, Diag1, Plan, PostDiag) of a new
            // subtest without any effect: skip them.
            child.phase = Phase::Result;
        }
        self.stack.push(child);
        Step::Again
    }

    fn end_loop(&mut self, is_subtest: bool) -> Step {
        if is_subtest {
            if let Some(f) = self.stack.last_mut() {
                f.phase = Phase::PostDiag;
            }
        } else {
            self.finish_frame();
        }
        Step::Again
    }

    fn step_result(&mut self, cur: Option<&Lexed<'_>>) -> Step {
        let idx = self.stack.len() - 1;
        let Some(f) = self.stack.last() else {
            return Step::Consumed;
        };
        let name_set = !f.test.name.is_empty();
        if name_set && !self.name_match(cur, &f.test.name) {
            self.add_error(idx, "missing subtest result line!");
            return self.no_result();
        }
        let Some(l) = cur else {
            if let Some(f) = self.stack.last_mut() {
                f.test.status = Status::NoTests;
            }
            self.add_error(idx, "No more test results!");
            return self.no_result();
        };
        let Line::Result(r) = &l.line else {
            return self.no_result();
        };
        let expected_num = f.expected_num;
        if let Some(f) = self.stack.last_mut() {
            if f.test.name.capacity() == 0
                && let Some(name) = self.names.pop()
            {
                f.test.name = name;
            }
            apply_result(&mut f.test, r);
            f.test.result_line = self.line_no;
            f.end_ts = l.timestamp;
        }
        if r.number != expected_num {
            self.add_error(
                idx,
                &format!("Expected test number {expected_num} but found {}", r.number),
            );
        }
        self.finish_frame();
        Step::Consumed
    }

    /// The test's result line will not come: the input or the run ended, or
    /// another line came in its place.  All three are one case (see
    /// [`TreeBuilder::finish_frame`]).
    fn no_result(&mut self) -> Step {
        if let Some(f) = self.stack.last_mut() {
            f.no_result = true;
        }
        self.finish_frame();
        Step::Again
    }

    /// The frame of a new test ([`Frame::renew`]), in the box of a
    /// finished test's if there is one.
    fn frame(
        &mut self,
        name: &str,
        is_subtest: bool,
        expected_num: u64,
        log: LogBuf,
        ts: Option<u64>,
    ) -> Box<Frame> {
        let mut frame = self
            .frames
            .pop()
            .unwrap_or_else(|| Box::new(Frame::blank()));
        frame.renew(name, is_subtest, expected_num, log, ts);
        frame
    }

    /// Finalise the top frame and attach it to its parent (or to the runs).
    fn finish_frame(&mut self) {
        let Some(mut f) = self.stack.pop() else {
            return;
        };
        let cap = self.opts.max_log_bytes;
        let t = &mut f.test;
        if f.parent_test
            && t.subtests.is_empty()
            && f.streamed == 0
            && matches!(t.status, Status::Crashed | Status::Success)
        {
            t.status = Status::NoTests;
            t.counts.errors = t.counts.errors.saturating_add(1);
            let name = t.name.clone();
            self.warn(format!("test '{name}': 0 tests run!"));
        }
        let t = &mut f.test;
        t.is_parent = f.parent_test && f.is_subtest;
        bubble_up(t);
        // Deviation: a test whose result line never came counts as crashed,
        // unless a crashed subtest already says so, whether the log or the
        // run ended or another line came in its place.  kunit_parser.py
        // leaves a suite uncounted then, so a log cut just before a suite's
        // result line would pass, and makes a test cut off by the end of
        // the log NO_TESTS.
        if f.no_result && t.counts.status() != Status::Crashed {
            t.counts.add_status(Status::Crashed);
            t.status = Status::Crashed;
            t.own_crash = t.is_parent;
            let name = t.name.clone();
            self.warn(format!(
                "test '{name}': no result line before the end of the output; counted as crashed"
            ));
        }

        // Time: from the line that started the test to its result line.  A
        // test without a result line ran until the last timestamp seen.
        let end = if t.result_line > 0 {
            f.end_ts
        } else {
            self.last_ts
        };
        t.time_us = match (f.start_ts, end) {
            (Some(s), Some(e)) => Some(e.saturating_sub(s)),
            _ => None,
        };

        // Logs and attributes.
        let pending = std::mem::take(&mut f.pending);
        f.log.append(pending, cap, chunk_text(&self.chunk));
        let keep = self.opts.keep_all_logs || !t.status.is_ok() || !f.is_subtest;
        t.subtests.shrink_to_fit();
        let attrs: Vec<(String, String)> = std::mem::take(&mut f.log.attrs)
            .into_iter()
            .filter_map(|(k, v)| {
                if ATTRIBUTES.contains(&k.as_str()) {
                    Some((k, v))
                } else {
                    k.strip_prefix(t.name.as_str())
                        .and_then(|a| a.strip_prefix('.'))
                        .filter(|a| ATTRIBUTES.contains(a))
                        .map(|a| (a.to_owned(), v))
                }
            })
            .collect();
        if !attrs.is_empty() {
            t.details_mut().attributes = attrs;
        }
        if keep && (f.log.lines > 0 || f.log.dropped > 0) {
            let d = t.details_mut();
            d.log = f.log.take_text(chunk_text(&self.chunk));
            d.log_dropped = f.log.dropped;
        } else if self.spare.len() < MAX_SPARE
            && (f.log.text.capacity() > 0 || f.log.spans.capacity() > 0)
        {
            let (mut text, mut spans) = (
                std::mem::take(&mut f.log.text),
                std::mem::take(&mut f.log.spans),
            );
            text.clear();
            spans.clear();
            self.spare.push((text, spans));
        }

        let test = std::mem::replace(&mut f.test, Test::new(""));
        if self.frames.len() < MAX_FRAMES {
            self.frames.push(f);
        }
        let top_level = self.stack.len() == 1;
        match self.stack.last_mut() {
            Some(parent) => {
                parent.test.counts.add(&test.counts);
                if end.is_some() {
                    parent.mark_ts = end;
                }
                if self.opts.stream && top_level {
                    parent.streamed += 1;
                    self.finished.push((self.runs.len(), test));
                } else {
                    parent.test.subtests.push(test);
                }
                parent.test_num = parent.test_num.saturating_add(1);
            }
            None => {
                let mut main = test;
                if main.status != Status::NoTests {
                    main.status = main.counts.status();
                }
                self.runs.push(main);
            }
        }
    }
}

/// Set name, status and directive details from a result line
/// (kunit's `parse_test_result()`, plus TODO/XFAIL and case-insensitive SKIP).
fn apply_result(t: &mut Test, r: &ResultLine<'_>) {
    t.name.clear();
    t.name.push_str(r.name);
    t.status = match (r.directive, r.ok) {
        (Some(Directive::Skip), _) => Status::Skipped,
        (Some(Directive::Todo | Directive::Xfail), false) => Status::Skipped,
        (_, true) => Status::Success,
        (_, false) => Status::Failure,
    };
    if r.directive.is_some() || !r.reason.is_empty() {
        let d = t.details_mut();
        d.directive = r.directive;
        match r.directive {
            Some(Directive::Skip) => d.skip_reason = r.reason.to_owned(),
            Some(Directive::Todo | Directive::Xfail) if !r.ok => {
                d.skip_reason = format!(
                    "{}: {}",
                    r.directive.map_or("", Directive::as_str),
                    r.reason
                )
                .trim_end_matches([' ', ':'])
                .to_owned();
            }
            _ => d.diagnostic = r.reason.to_owned(),
        }
    }
}

/// kunit's `bubble_up_test_results()` (children's counts are already added).
fn bubble_up(t: &mut Test) {
    let status = t.status;
    if t.counts.total() == 0 {
        t.counts.add_status(status);
    } else if t.counts.status() == Status::Crashed {
        t.status = Status::Crashed;
    }
    // kunit only counts a suite's own `not ok` when the subtests look
    // successful; we also count it when they were all skipped (spec: the
    // parent's result is not ok).
    if status == Status::Failure && matches!(t.counts.status(), Status::Success | Status::Skipped) {
        t.counts.add_status(Status::Failure);
        t.own_failure = true;
    }
}

/// The result of parsing one input.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// One "main" test per top-level KTAP run.
    pub runs: Vec<Test>,
    /// Warnings (parse errors).
    pub warnings: Vec<Warning>,
    /// Warnings beyond the stored ones.
    pub warnings_suppressed: u64,
}
