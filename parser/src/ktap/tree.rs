// SPDX-License-Identifier: GPL-2.0
//! The tree builder: kunit_parser.py's `parse_test()`, a line at a time.
//!
//! kunit parses a test with a recursive function over a stream of lines it
//! can peek at:
//!
//! ```text
//! parse_test(lines, expected_num, log, is_subtest):
//!     parse_diagnostic                    log lines
//!     parse_ktap_header                   KTAP version 1
//!     parse_test_header (subtests only)   # Subtest: name
//!     parse_diagnostic                    log lines
//!     parse_test_plan                     1..N
//!     while the plan or the name allows:  (the subtests)
//!         parse_diagnostic                log lines: the subtest's log
//!         parse_test(lines, n, log, True)
//!     parse_diagnostic (subtests only)    log lines
//!     parse_test_result (subtests only)   ok N name
//!     bubble_up_test_results
//! ```
//!
//! "The method accepts three formats of tests" (its docstring): the main
//! KTAP/TAP header (`KTAP version 1`, `1..4`, subtests), a subtest header
//! (`KTAP version 1` and/or `# Subtest: name`, `1..3`, subtests,
//! `ok 1 name`) and a test result line (`ok 1 - test`).
//!
//! Here the lines come one at a time ([`TreeBuilder::feed`]), so the
//! recursion is an explicit stack of [`Frame`]s, innermost last, and each
//! frame is at one of the productions above, its [`Phase`].  kunit's peek
//! is a line offered to the innermost frame: a production that does not
//! want it moves the frame to the next phase and the line is offered again
//! ([`Step::Again`]), until one consumes it.  The end of the input is
//! offered as "no line" (`None`, kunit's `not lines`).  No recursion: the
//! nesting depth is unbounded.
//!
//! Statuses, counts, errors (warnings here) and the placement of log lines
//! are kunit's; the deviations (see the README) are marked "Deviation" in
//! the code:
//!
//! 1. after a run, the input goes on: a new unindented version line ends
//!    the run in progress as if the input ended and starts the next;
//!    stray test lines after a complete run start a run of their own;
//! 3. a suite's own `not ok` counts when no subtest failed;
//! 4. a test whose result line never came is crashed;
//! 7. placeholders for missing tests are capped.
//!
//! Memory grows with the number of tests: log lines are buffered only
//! while their test is running and kept afterwards only for tests that did
//! not pass (unless [`Options::keep_all_logs`] is set), each test's log is
//! capped at [`Options::max_log_bytes`], and with [`Options::stream`] each
//! finished top-level test is handed over and its memory reused.

use std::sync::Arc;

use super::grammar::{Directive, Line, ResultLine, VersionKind};
use super::lexer::Lexed;
use super::log::Log;
use super::recycle::Recycler;
use super::test::{ErrorAt, ParseError, Parsed, Status, Test, Warning};

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

/// Where a test is in `parse_test()`: the production it is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `parse_diagnostic()` before the header.
    Diagnostic,
    /// `parse_ktap_header()`.
    KtapHeader,
    /// `parse_test_header()` (subtests only).
    TestHeader,
    /// `parse_diagnostic()` after the header.
    HeaderDiagnostic,
    /// `parse_test_plan()`.
    TestPlan,
    /// The subtest loop.
    Subtests,
    /// `parse_diagnostic()` before the result line (subtests only).
    ResultDiagnostic,
    /// `parse_test_result()` (subtests only).
    TestResult,
}

/// One call of `parse_test()`: a test being parsed, with its local
/// variables.
#[derive(Debug)]
struct Frame {
    test: Test,
    /// `is_subtest` (false for a run's "main").
    is_subtest: bool,
    phase: Phase,
    /// `parent_test`: the test has a header (or is "main"), so subtests.
    parent_test: bool,
    /// `expected_count`: its plan.
    expected: Option<u64>,
    /// `expected_num`: the number its result line should carry.
    expected_num: u64,
    /// `test_num`: the number of its next subtest.
    test_num: u64,
    /// Placeholders made for missing subtests (deviation 7).
    missing_made: u64,
    /// `test.log`.
    log: Log,
    /// The loop's `sub_log`: the log of the next subtest.
    pending: Log,
    /// Timestamp of the line that started the test (its header, or the
    /// plan or previous result at its level).
    start_ts: Option<u64>,
    /// Timestamp from which its next subtest is timed.
    mark_ts: Option<u64>,
    /// Timestamp of its result line.
    end_ts: Option<u64>,
    header_seen: bool,
    /// Its result line will not come (deviation 4).
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
            phase: Phase::Diagnostic,
            parent_test: false,
            expected: None,
            expected_num: 0,
            test_num: 0,
            missing_made: 0,
            log: Log::default(),
            pending: Log::default(),
            start_ts: None,
            mark_ts: None,
            end_ts: None,
            header_seen: false,
            no_result: false,
            streamed: 0,
        }
    }

    /// Make a blank frame, or that of a finished test (its test and pending
    /// log taken, see [`TreeBuilder::finish_test`]), the frame of a new
    /// test, in place: kunit's `Test()` and the start of `parse_test()`.
    fn renew(
        &mut self,
        name: &str,
        is_subtest: bool,
        expected_num: u64,
        log: Log,
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
        *phase = Phase::Diagnostic;
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

    /// Its plan (if it has one) still promises another subtest: the loop
    /// condition `expected_count is None or test_num <= expected_count`.
    #[inline]
    fn within_plan(&self) -> bool {
        self.expected.is_none_or(|n| self.test_num <= n)
    }

    /// Waiting for its next subtest within its plan: a log line now goes to
    /// that subtest's log (see [`TreeBuilder::parse_subtests`]).
    #[inline]
    fn between_subtests(&self) -> bool {
        self.phase == Phase::Subtests && self.within_plan()
    }

    /// A header line (version or `# Subtest:`) with timestamp `ts`: the
    /// first one starts the test's time.
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

/// What a production did with the line offered to it.
enum Step {
    /// Took it.
    Consumed,
    /// Left it: offer it again (to the next phase, or the parent).
    Again,
}

/// Streaming tree builder.  Feed lexed lines with [`TreeBuilder::feed`],
/// then call [`TreeBuilder::finish`] to get the runs.
#[derive(Debug)]
pub struct TreeBuilder {
    opts: Options,
    /// The tests in progress, innermost last.  Boxed: a frame is several
    /// hundred bytes, and it would be moved in and out of the vector for
    /// every test.
    #[allow(clippy::vec_box)]
    stack: Vec<Box<Frame>>,
    runs: Vec<Test>,
    warnings: Vec<Warning>,
    warnings_suppressed: u64,
    line_no: u64,
    /// The last line, if it was a result line: its `plain_name` (kunit
    /// peeks at the last line again at the end of the input).
    last_result_name: String,
    last_was_result: bool,
    /// The last timestamp seen (a test that never got its result line ran
    /// until then).
    last_ts: Option<u64>,
    started_any: bool,
    /// Log lines after a run whose plan was complete (while the lexer still
    /// strips its prefix): the log of a test line that may follow, which
    /// starts a run of its own; dropped when a version line starts the
    /// next run, at an end marker and at the end of the input.
    after_run: Log,
    /// The text the reader lent (see [`TreeBuilder::lend`]).
    lent: Option<Arc<String>>,
    /// Finished top-level tests not handed over yet, with the index of
    /// their run (see [`Options::stream`]).
    finished: Vec<(usize, Test)>,
    /// Memory of finished tests, for the next ones.
    pools: Recycler<Frame>,
}

/// Most subtests room is made for in advance when a plan is seen.
pub(crate) const PLAN_RESERVE_MAX: usize = 4096;

/// The lent text (see [`TreeBuilder::lend`]); a function of the field, not
/// a method, so that frames can be borrowed beside it.
fn lent(text: &Option<Arc<String>>) -> Option<&str> {
    text.as_deref().map(String::as_str)
}

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
            runs: Vec::new(),
            warnings: Vec::new(),
            warnings_suppressed: 0,
            line_no: 0,
            last_result_name: String::new(),
            last_was_result: false,
            last_ts: None,
            started_any: false,
            after_run: Log::default(),
            lent: None,
            finished: Vec::new(),
            pools: Recycler::default(),
        }
    }

    /// No run in progress (between runs or before the first one).
    pub fn is_idle(&self) -> bool {
        self.stack.is_empty()
    }

    /// Feed the next line; `line_no` is its 1-based number in the input.
    pub fn feed(&mut self, lexed: &Lexed<'_>, line_no: u64) {
        self.line_no = line_no;
        if let Line::Diagnostic = lexed.line
            && !lexed.malformed_result
            && let Some(f) = self.stack.last_mut()
            && f.between_subtests()
        {
            // The commonest line, without the dispatch: as
            // parse_subtests() would take it.
            let cap = self.opts.max_log_bytes;
            f.pending.push(lexed.text, cap, lent(&self.lent));
            self.logged(lexed.timestamp);
            return;
        }
        if lexed.malformed_result {
            self.warn(format!(
                "malformed result line treated as a diagnostic: {}",
                lexed.text.trim()
            ));
        }
        self.offer(lexed);
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

    /// [`TreeBuilder::feed`] for a plain log line (lexed as a
    /// [`Line::Diagnostic`] whose first character after the indentation is
    /// not `#`, so no KTAP attribute either), given as the byte range of
    /// its text in the lent text (see [`TreeBuilder::lend`]), while the
    /// innermost test waits for its next subtest within its plan: the line
    /// goes to that subtest's log.  `false` (nothing done) in every other
    /// state.
    #[inline]
    pub(crate) fn feed_plain_log(
        &mut self,
        (start, end): (u32, u32),
        timestamp: Option<u64>,
        line_no: u64,
    ) -> bool {
        let cap = self.opts.max_log_bytes;
        match self.stack.last_mut() {
            Some(f) if f.between_subtests() => {
                debug_assert!(self.lent.is_some(), "a range of no lent text");
                f.pending.push_range(start, end, cap);
            }
            _ => return false,
        }
        self.line_no = line_no;
        self.logged(timestamp);
        true
    }

    /// What [`TreeBuilder::feed`] notes of a log line after it.
    #[inline]
    fn logged(&mut self, timestamp: Option<u64>) {
        if timestamp.is_some() {
            self.last_ts = timestamp;
        }
        self.last_was_result = false;
    }

    /// Lend the builder the text the next lines are slices of (the reader's
    /// block of input): their log lines are then kept as ranges of it,
    /// copied only if needed (see [`super::log`]).
    pub(crate) fn lend(&mut self, text: Arc<String>) {
        self.give_back();
        self.lent = Some(text);
    }

    /// Give the lent text back: the log lines kept as ranges of it are
    /// copied.
    pub(crate) fn give_back(&mut self) {
        if let Some(text) = self.lent.take() {
            let text = Some(text.as_str());
            for f in &mut self.stack {
                f.log.copy_ranges(text);
                f.pending.copy_ranges(text);
            }
            self.after_run.copy_ranges(text);
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
            self.pools.recycle(test);
        }
        self.finished = finished;
    }

    /// The end of the input: end the run in progress, hand over its last
    /// tests (see [`TreeBuilder::hand_over`]) and return the runs.
    pub fn finish(mut self, on_test: &mut dyn FnMut(usize, &Test)) -> Parsed {
        self.end_run();
        self.hand_over(on_test);
        if !self.started_any {
            // parse_run_tests(): no KTAP output at all.
            let mut t = Test::new("<missing>");
            t.status = Status::FailureToParse;
            t.counts.errors = 1;
            t.details_mut().errors.push(ParseError {
                test: "<missing>".to_owned(),
                message: "Could not find any KTAP output. Did any KUnit tests run?\n\
                          Try running with the --raw_output=all option to see any log messages."
                    .to_owned(),
                at: ErrorAt::Before,
            });
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

    /// kunit's `Test.add_error()` on the test of frame `idx`, kept with
    /// that test where kunit's report prints it.
    fn add_error(&mut self, idx: usize, msg: &str, at: ErrorAt) {
        if let Some(e) = self.count_error(idx, msg, msg, at)
            && let Some(f) = self.stack.get_mut(idx)
        {
            f.test.details_mut().errors.push(e);
        }
    }

    /// Count an error of the test of frame `idx` and warn (`warning`, or
    /// kunit's `msg` with more detail); the error as kunit reports it.
    fn count_error(
        &mut self,
        idx: usize,
        msg: &str,
        warning: &str,
        at: ErrorAt,
    ) -> Option<ParseError> {
        let name = match self.stack.get_mut(idx) {
            Some(f) => {
                f.test.counts.errors = f.test.counts.errors.saturating_add(1);
                f.test.name.clone()
            }
            None => return None,
        };
        self.warn(format!("test '{name}': {warning}"));
        Some(ParseError {
            test: name,
            message: msg.to_owned(),
            at,
        })
    }

    /// Offer a line to the tests in progress until one consumes it,
    /// starting a run if none is in progress.
    fn offer(&mut self, lexed: &Lexed<'_>) {
        match &lexed.line {
            Line::Outside => return,
            Line::End => {
                // Keep the line that ended the output (a panic message, say)
                // in the log of the test that was running.
                let cap = self.opts.max_log_bytes;
                if let Some(f) = self.stack.last_mut() {
                    let log = if f.phase == Phase::Subtests {
                        &mut f.pending
                    } else {
                        &mut f.log
                    };
                    log.push(lexed.text, cap, lent(&self.lent));
                }
                self.end_run();
                return;
            }
            Line::Version { .. } if lexed.indent == 0 => {
                // Deviation 1: an unindented version line after a run's
                // header starts a new top-level run (a module loaded
                // later, a second run).
                if let Some(main) = self.stack.first()
                    && !matches!(main.phase, Phase::Diagnostic | Phase::KtapHeader)
                {
                    self.end_run();
                }
            }
            _ => {}
        }
        // Every production either consumes the line, advances its phase or
        // finishes its test, and a fresh run always consumes its first
        // line, so this terminates.
        let mut fresh = false;
        loop {
            if self.stack.is_empty() {
                if fresh {
                    return;
                }
                if let Line::Diagnostic = lexed.line {
                    // Deviation 1: after a complete run, the log of a test
                    // line that may follow, as if the plan had promised
                    // that test.
                    let cap = self.opts.max_log_bytes;
                    self.after_run.push(lexed.text, cap, lent(&self.lent));
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
                // parse_run_tests(): parse_test(lines, 0, [], False).
                let mut f = self.frame("main", false, 0, Log::default(), lexed.timestamp);
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

    /// End the run in progress as if the input ended here: the one way a
    /// run ends early (at an end marker, or at the version line of the next
    /// run) and the way it ends at the end of the input.
    fn end_run(&mut self) {
        while !self.stack.is_empty() {
            self.step(None);
        }
        self.after_run = Log::default();
    }

    /// Offer `cur` (`None`: the end of the input) to the innermost test.
    fn step(&mut self, cur: Option<&Lexed<'_>>) -> Step {
        let Some(f) = self.stack.last() else {
            return Step::Consumed;
        };
        match f.phase {
            Phase::Diagnostic | Phase::HeaderDiagnostic | Phase::ResultDiagnostic => {
                self.parse_diagnostic(cur)
            }
            Phase::KtapHeader => self.parse_ktap_header(cur),
            Phase::TestHeader => self.parse_test_header(cur),
            Phase::TestPlan => self.parse_test_plan(cur),
            Phase::Subtests => self.parse_subtests(cur),
            Phase::TestResult => self.parse_test_result(cur),
        }
    }

    /// kunit's `parse_diagnostic()`: "Parse lines that do not match the
    /// format of a test result line or test header line" into the test's
    /// log.
    ///
    /// Line formats that are not parsed (here: that end the production):
    /// ```text
    /// - '# Subtest: [test name]'
    /// - '[ok|not ok] [test number] [-] [test name] [optional skip
    ///     directive]'
    /// - 'KTAP version [version number]'
    /// ```
    /// (and `TAP version`, the plan, and the end of the input).
    fn parse_diagnostic(&mut self, cur: Option<&Lexed<'_>>) -> Step {
        let cap = self.opts.max_log_bytes;
        let Some(f) = self.stack.last_mut() else {
            return Step::Consumed;
        };
        if let Some(l) = cur
            && matches!(l.line, Line::Diagnostic | Line::ExecutorError)
        {
            f.log.push(l.text, cap, lent(&self.lent));
            return Step::Consumed;
        }
        f.phase = match f.phase {
            Phase::Diagnostic => Phase::KtapHeader,
            Phase::HeaderDiagnostic => Phase::TestPlan,
            _ => Phase::TestResult,
        };
        Step::Again
    }

    /// kunit's `parse_ktap_header()`: "Parses KTAP/TAP header line and
    /// checks version number."
    ///
    /// Accepted formats:
    /// ```text
    /// - 'KTAP version [version number]'
    /// - 'TAP version [version number]'
    /// ```
    /// A version line makes a subtest a parent (it has subtests).  KTAP 1
    /// and TAP 13 and 14 are known; another version is an error
    /// (`check_version()`).
    fn parse_ktap_header(&mut self, cur: Option<&Lexed<'_>>) -> Step {
        let idx = self.stack.len() - 1;
        let Some(f) = self.stack.last_mut() else {
            return Step::Consumed;
        };
        f.phase = if f.is_subtest {
            Phase::TestHeader
        } else {
            Phase::HeaderDiagnostic
        };
        let Some(
            l @ Lexed {
                line: Line::Version { kind, version },
                ..
            },
        ) = cur
        else {
            return Step::Again;
        };
        f.parent_test = true;
        f.mark_header(l.timestamp);
        let (label, known): (&str, &[u64]) = match kind {
            VersionKind::Ktap => ("KTAP", &[1]),
            VersionKind::Tap => ("TAP", &[13, 14]),
        };
        let min = known.first().copied().unwrap_or(0);
        let max = known.last().copied().unwrap_or(0);
        if *version < min {
            let msg = format!("{label} version lower than expected!");
            self.add_error(idx, &msg, ErrorAt::Before);
        } else if *version > max {
            let msg = format!("{label} version higher than expected!");
            self.add_error(idx, &msg, ErrorAt::Before);
        }
        Step::Consumed
    }

    /// kunit's `parse_test_header()`: "Parses test header and stores test
    /// name in test object."
    ///
    /// Accepted format:
    /// ```text
    /// - '# Subtest: [test name]'
    /// ```
    /// A header makes the test a parent.
    fn parse_test_header(&mut self, cur: Option<&Lexed<'_>>) -> Step {
        let Some(f) = self.stack.last_mut() else {
            return Step::Consumed;
        };
        f.phase = Phase::HeaderDiagnostic;
        let Some(
            l @ Lexed {
                line: Line::Subtest(name),
                ..
            },
        ) = cur
        else {
            if f.parent_test {
                // A version line without `# Subtest:`: kunit prints the
                // header before the result line names the test.
                f.test.details_mut().anonymous_header = true;
            }
            return Step::Again;
        };
        f.parent_test = true;
        f.test.name.clear();
        f.test.name.push_str(name);
        f.mark_header(l.timestamp);
        Step::Consumed
    }

    /// kunit's `parse_test_plan()`: "Parses test plan line and stores the
    /// expected number of subtests in test object."
    ///
    /// Accepted format:
    /// ```text
    /// - '1..[number of subtests]'
    /// ```
    /// A parent goes on to its subtests, any other test to its result line.
    fn parse_test_plan(&mut self, cur: Option<&Lexed<'_>>) -> Step {
        let streamed = self.opts.stream && self.stack.len() == 1;
        let Some(f) = self.stack.last_mut() else {
            return Step::Consumed;
        };
        f.phase = if f.parent_test {
            Phase::Subtests
        } else {
            Phase::ResultDiagnostic
        };
        let Some(
            l @ Lexed {
                line: Line::Plan(n),
                ..
            },
        ) = cur
        else {
            return Step::Again;
        };
        f.expected = Some(*n);
        f.test.details_mut().expected_count = Some(*n);
        // Room for the promised subtests at once: growing the vector by
        // doubling would copy them and leave up to half of it unused.  A
        // bogus plan reserves at most PLAN_RESERVE_MAX.
        if !streamed {
            let want = usize::try_from(*n).unwrap_or(usize::MAX);
            if f.test.subtests.capacity() == 0
                && let Some(list) = self.pools.list()
            {
                f.test.subtests = list;
            }
            f.test.subtests.reserve_exact(want.min(PLAN_RESERVE_MAX));
        }
        if l.timestamp.is_some() {
            f.mark_ts = l.timestamp;
        }
        Step::Consumed
    }

    /// The subtest loop of `parse_test()`: while the plan (or, without a
    /// plan, the test's own name) says more subtests follow, each
    /// subtest's log lines (`parse_diagnostic()`) then the subtest itself
    /// (`parse_test(lines, test_num, sub_log, True)`).  At the end of the
    /// input, or at the test's own result line, the subtests the plan still
    /// promises are missing: crashed placeholders.
    fn parse_subtests(&mut self, cur: Option<&Lexed<'_>>) -> Step {
        let idx = self.stack.len() - 1;
        let cap = self.opts.max_log_bytes;
        let max_missing = self.opts.max_missing;
        let is_diag = matches!(
            cur.map(|l| &l.line),
            Some(Line::Diagnostic | Line::ExecutorError)
        );
        let (is_subtest, name_matches) = match self.stack.last() {
            Some(f) => (
                f.is_subtest,
                f.is_subtest && self.peek_test_name_match(cur, &f.test.name),
            ),
            None => return Step::Consumed,
        };
        let Some(f) = self.stack.last_mut() else {
            return Step::Consumed;
        };
        if !f.within_plan() {
            return self.end_subtests(is_subtest);
        }
        if let (true, Some(l)) = (is_diag, cur) {
            f.pending.push(l.text, cap, lent(&self.lent));
            return Step::Consumed;
        }
        if cur.is_none() || name_matches {
            if let Some(n) = f.expected.filter(|&n| n > 0 && f.test_num <= n) {
                if f.missing_made >= max_missing {
                    // Deviation 7: give up making placeholders for absurd
                    // plans.
                    f.expected = Some(f.test_num.saturating_sub(1));
                    let log = std::mem::take(&mut f.pending);
                    f.log.append(log, cap, lent(&self.lent));
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
                    d.log = log.take_text(lent(&self.lent));
                    d.log_dropped = log.dropped;
                }
                let num = f.test_num;
                // kunit reports the error on the parent, just before the
                // missing test's result.
                if let Some(e) = self.count_error(
                    idx,
                    "missing expected subtest!",
                    &format!("missing expected subtest! (test {num} of {n})"),
                    ErrorAt::Before,
                ) {
                    t.details_mut().errors.push(e);
                }
                let Some(f) = self.stack.last_mut() else {
                    return Step::Consumed;
                };
                if idx == 0 {
                    f.test.hand_errors_to(&mut t);
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
                return Step::Again;
            }
            let log = std::mem::take(&mut f.pending);
            f.log.append(log, cap, lent(&self.lent));
            return self.end_subtests(is_subtest);
        }
        // A subtest starts here, with the log lines before it.
        let log = std::mem::replace(&mut f.pending, self.pools.log());
        let (number, ts) = (f.test_num, f.mark_ts);
        let mut child = self.frame("", true, number, log, ts);
        if matches!(cur.map(|l| &l.line), Some(Line::Result(_))) {
            // A result line passes through the productions before
            // parse_test_result() of a new subtest without any effect:
            // skip them.
            child.phase = Phase::TestResult;
        }
        self.stack.push(child);
        Step::Again
    }

    /// After the subtests: a subtest goes on to its result line, a run ends.
    fn end_subtests(&mut self, is_subtest: bool) -> Step {
        if is_subtest {
            if let Some(f) = self.stack.last_mut() {
                f.phase = Phase::ResultDiagnostic;
            }
        } else {
            self.finish_test();
        }
        Step::Again
    }

    /// kunit's `parse_test_result()`: "Parses test result line and stores
    /// the status and name in the test object.  Reports an error if the
    /// test number does not match expected test number."
    ///
    /// Accepted format:
    /// ```text
    /// - '[ok|not ok] [test number] [-] [test name] [optional skip
    ///     directive]'
    /// ```
    /// A test with a header must get its own name back
    /// (`peek_test_name_match()`).  If the result line does not come (the
    /// input ends, or another line comes), the test is finished without
    /// it ([`TreeBuilder::no_result`]).
    fn parse_test_result(&mut self, cur: Option<&Lexed<'_>>) -> Step {
        let idx = self.stack.len() - 1;
        let Some(f) = self.stack.last() else {
            return Step::Consumed;
        };
        let name_set = !f.test.name.is_empty();
        if name_set && !self.peek_test_name_match(cur, &f.test.name) {
            self.add_error(idx, "missing subtest result line!", ErrorAt::End);
            return self.no_result();
        }
        let Some(l) = cur else {
            if let Some(f) = self.stack.last_mut() {
                f.test.status = Status::NoTests;
            }
            self.add_error(idx, "No more test results!", ErrorAt::EndAfterLog);
            return self.no_result();
        };
        let Line::Result(r) = &l.line else {
            return self.no_result();
        };
        let expected_num = f.expected_num;
        if let Some(f) = self.stack.last_mut() {
            if f.test.name.capacity() == 0
                && let Some(name) = self.pools.name()
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
                ErrorAt::End,
            );
        }
        self.finish_test();
        Step::Consumed
    }

    /// kunit's `peek_test_name_match()`: the line is a result line carrying
    /// `name` (at the end of the input kunit peeks at the last line again).
    fn peek_test_name_match(&self, cur: Option<&Lexed<'_>>, name: &str) -> bool {
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

    /// The test's result line will not come: the input or the run ended, or
    /// another line came in its place.  All three are one case (see
    /// deviation 4 in [`TreeBuilder::finish_test`]).
    fn no_result(&mut self) -> Step {
        if let Some(f) = self.stack.last_mut() {
            f.no_result = true;
        }
        self.finish_test();
        Step::Again
    }

    /// The frame of a new test ([`Frame::renew`]), in the box of a
    /// finished test's if there is one.
    fn frame(
        &mut self,
        name: &str,
        is_subtest: bool,
        expected_num: u64,
        log: Log,
        ts: Option<u64>,
    ) -> Box<Frame> {
        let mut frame = self
            .pools
            .frame()
            .unwrap_or_else(|| Box::new(Frame::blank()));
        frame.renew(name, is_subtest, expected_num, log, ts);
        frame
    }

    /// The end of `parse_test()` for the innermost test: a parent without
    /// subtests has run none ("0 tests run!"), the counts bubble up
    /// ([`bubble_up`]), and the test goes to its parent (or, for "main",
    /// to the runs).
    fn finish_test(&mut self) {
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
            t.details_mut().errors.push(ParseError {
                test: name,
                message: "0 tests run!".to_owned(),
                at: ErrorAt::EndAfterLog,
            });
        }
        let t = &mut f.test;
        t.is_parent = f.parent_test && f.is_subtest;
        bubble_up(t);
        // Deviation 4: a test whose result line never came counts as
        // crashed, unless a crashed subtest already says so, whether the
        // log or the run ended or another line came in its place.
        // kunit_parser.py leaves a suite uncounted then, so a log cut just
        // before a suite's result line would pass, and makes a test cut off
        // by the end of the log NO_TESTS.
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
        let t = &mut f.test;
        let end = if t.result_line > 0 {
            f.end_ts
        } else {
            self.last_ts
        };
        t.time_us = match (f.start_ts, end) {
            (Some(s), Some(e)) => Some(e.saturating_sub(s)),
            _ => None,
        };

        // Log and attributes: kept for tests that did not pass (and runs).
        let pending = std::mem::take(&mut f.pending);
        f.log.append(pending, cap, lent(&self.lent));
        let keep = self.opts.keep_all_logs || !t.status.is_ok() || !f.is_subtest;
        t.subtests.shrink_to_fit();
        let attrs = f.log.take_attributes(&t.name);
        if !attrs.is_empty() {
            t.details_mut().attributes = attrs;
        }
        if keep && (f.log.lines > 0 || f.log.dropped > 0) {
            let d = t.details_mut();
            d.log = f.log.take_text(lent(&self.lent));
            d.log_dropped = f.log.dropped;
        } else {
            self.pools.put_log(std::mem::take(&mut f.log));
        }

        let mut test = std::mem::replace(&mut f.test, Test::new(""));
        self.pools.put_frame(f);
        let top_level = self.stack.len() == 1;
        match self.stack.last_mut() {
            Some(parent) => {
                if top_level {
                    parent.test.hand_errors_to(&mut test);
                }
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
                // parse_run_tests(): the run's status is its counts'.
                let mut main = test;
                if main.status != Status::NoTests {
                    main.status = main.counts.status();
                }
                self.runs.push(main);
            }
        }
    }
}

/// Set name, status and directive details from a result line (the end of
/// kunit's `parse_test_result()`, plus deviation 2: TODO/XFAIL and any
/// case of SKIP).
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

/// kunit's `bubble_up_test_results()` (the subtests' counts are already
/// added): a test without counted subtests counts its own status, a test
/// with a crashed subtest is crashed.  Deviation 3: kunit counts a suite's
/// own `not ok` only when its subtests passed; it also counts here when
/// they were all skipped (the spec: the parent's result is not ok).
fn bubble_up(t: &mut Test) {
    let status = t.status;
    if t.counts.total() == 0 {
        t.counts.add_status(status);
    } else if t.counts.status() == Status::Crashed {
        t.status = Status::Crashed;
    }
    if status == Status::Failure && matches!(t.counts.status(), Status::Success | Status::Skipped) {
        t.counts.add_status(Status::Failure);
        t.own_failure = true;
    }
}

/// Tests of the builder, production by production.  Where the behaviour
/// is kunit's, the expected tree is what kunit_parser.py (Linux 7.3) makes
/// of the same lines; deviations are marked.
#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::super::lexer::Lexer;
    use super::*;

    /// The lines (`\n`-separated) lexed and fed one at a time.
    fn parse_with(input: &str, opts: Options) -> Parsed {
        let mut lexer = Lexer::new();
        let mut tree = TreeBuilder::new(opts);
        for (i, line) in input.lines().enumerate() {
            let lexed = lexer.lex(line, tree.is_idle());
            tree.feed(&lexed, i as u64 + 1);
        }
        tree.finish(&mut |_, _| {})
    }

    /// [`parse_with`], every log kept.
    fn parse(input: &str) -> Parsed {
        parse_with(
            input,
            Options {
                keep_all_logs: true,
                ..Options::default()
            },
        )
    }

    /// `name STATUS passed/failed/crashed/skipped/errors [skip=..] [log=..]`
    /// per test, two spaces of indentation per level.
    fn render(p: &Parsed) -> String {
        fn test(t: &Test, depth: usize, out: &mut String) {
            let c = &t.counts;
            let _ = write!(
                out,
                "{}{} {} {}/{}/{}/{}/{}",
                "  ".repeat(depth),
                t.name,
                t.status.as_str(),
                c.passed,
                c.failed,
                c.crashed,
                c.skipped,
                c.errors
            );
            if !t.skip_reason().is_empty() {
                let _ = write!(out, " skip={}", t.skip_reason());
            }
            let log: Vec<&str> = t.log_lines().collect();
            if !log.is_empty() {
                let _ = write!(out, " log={log:?}");
            }
            out.push('\n');
            for s in &t.subtests {
                test(s, depth + 1, out);
            }
        }
        let mut out = String::new();
        for run in &p.runs {
            test(run, 0, &mut out);
        }
        out
    }

    /// What a test is, without its log and parse errors: its and its
    /// subtests' names, statuses, test counts and flags.
    fn shape(t: &Test) -> Vec<String> {
        let c = &t.counts;
        let mut out = vec![format!(
            "{} {:?} {}/{}/{}/{} parent={} missing={} own_failure={} own_crash={} number={}",
            t.name,
            t.status,
            c.passed,
            c.failed,
            c.crashed,
            c.skipped,
            t.is_parent,
            t.missing,
            t.own_failure,
            t.own_crash,
            t.number
        )];
        for s in &t.subtests {
            out.extend(shape(s).into_iter().map(|l| format!("  {l}")));
        }
        out
    }

    fn warnings(p: &Parsed) -> Vec<String> {
        p.warnings
            .iter()
            .map(|w| format!("{}: {}", w.line, w.message))
            .collect()
    }

    #[test]
    fn parse_diagnostic_takes_the_log_lines_around_the_header() {
        let p = parse(
            "# before the run\nKTAP version 1\n# after the header\n1..1\n# for test 1\nok 1 t\n",
        );
        assert_eq!(
            render(&p),
            "main SUCCESS 1/0/0/0/0 log=[\"# after the header\"]\n\
             \x20 t SUCCESS 1/0/0/0/0 log=[\"# for test 1\"]\n"
        );
        // In a suite: before its header, after it, before its result line.
        let p = parse(
            "KTAP version 1\n1..1\n    # first\n    KTAP version 1\n    # Subtest: s\n    # in s\n\
             \x20   1..1\n    # for a\n    ok 1 a\n    # after the subtests of s\nok 1 s\n",
        );
        assert_eq!(
            render(&p),
            "main SUCCESS 1/0/0/0/0\n\
             \x20 s SUCCESS 1/0/0/0/0 log=[\"    # first\", \"    # in s\", \"    # after the subtests of s\"]\n\
             \x20   a SUCCESS 1/0/0/0/0 log=[\"    # for a\"]\n"
        );
        assert!(p.warnings.is_empty(), "{:?}", warnings(&p));
    }

    #[test]
    fn parse_ktap_header_checks_the_version_and_makes_a_parent() {
        let p = parse(
            "KTAP version 2\n1..2\n    TAP version 12\n    1..1\n    ok 1 a\nok 1 s\n\
             \x20   TAP version 14\n    1..1\n    ok 1 b\nok 2 t\n",
        );
        assert_eq!(
            render(&p),
            "main SUCCESS 2/0/0/0/2\n\
             \x20 s SUCCESS 1/0/0/0/1\n\
             \x20   a SUCCESS 1/0/0/0/0\n\
             \x20 t SUCCESS 1/0/0/0/0\n\
             \x20   b SUCCESS 1/0/0/0/0\n"
        );
        assert_eq!(
            warnings(&p),
            [
                "1: test 'main': KTAP version higher than expected!",
                "3: test '': TAP version lower than expected!"
            ]
        );
        assert!(p.runs[0].subtests.iter().all(|t| t.is_parent));
    }

    #[test]
    fn parse_test_header_names_a_suite_even_without_a_version_line() {
        let p = parse("KTAP version 1\n1..1\n    # Subtest: s\n    1..1\n    ok 1 a\nok 1 s\n");
        assert_eq!(
            render(&p),
            "main SUCCESS 1/0/0/0/0\n  s SUCCESS 1/0/0/0/0\n    a SUCCESS 1/0/0/0/0\n"
        );
        assert!(p.runs[0].subtests[0].is_parent);
    }

    #[test]
    fn parse_test_plan_promises_subtests() {
        // Missing subtests become crashed placeholders; a suite with the
        // plan 1..0 ran none.
        let p = parse(
            "KTAP version 1\n1..2\n    KTAP version 1\n    # Subtest: s\n    1..3\n    ok 1 a\nok 1 s\n\
             \x20   KTAP version 1\n    # Subtest: empty\n    1..0\nok 2 empty\n",
        );
        assert_eq!(
            render(&p),
            "main TEST_CRASHED 1/0/2/0/3\n\
             \x20 s TEST_CRASHED 1/0/2/0/2\n\
             \x20   a SUCCESS 1/0/0/0/0\n\
             \x20    TEST_CRASHED 0/0/0/0/0\n\
             \x20    TEST_CRASHED 0/0/0/0/0\n\
             \x20 empty NO_TESTS 0/0/0/0/1\n"
        );
        let s = &p.runs[0].subtests[0];
        assert_eq!(s.details().expected_count, Some(3));
        assert!(s.subtests[1].missing && s.subtests[2].missing);
        assert_eq!((s.subtests[1].number, s.subtests[2].number), (2, 3));
        assert_eq!(
            warnings(&p),
            [
                "7: test 's': missing expected subtest! (test 2 of 3)",
                "7: test 's': missing expected subtest! (test 3 of 3)",
                "11: test 'empty': 0 tests run!"
            ]
        );
        // Deviation 7: placeholders for an absurd plan are capped.
        let p = parse_with(
            "KTAP version 1\n1..1000000\nok 1 a\n",
            Options {
                max_missing: 2,
                ..Options::default()
            },
        );
        assert_eq!(p.runs[0].subtests.len(), 3);
        assert_eq!(p.runs[0].counts.crashed, 2);
        assert!(
            warnings(&p).iter().any(|w| w.ends_with(
                "plan promised 1000000 tests; only the first 2 missing ones are reported"
            )),
            "{:?}",
            warnings(&p)
        );
    }

    #[test]
    fn without_a_plan_a_suite_ends_at_its_own_result_line() {
        let p = parse("KTAP version 1\n1..1\n    # Subtest: s\n    ok 1 a\n    ok 2 b\nok 1 s\n");
        assert_eq!(
            render(&p),
            "main SUCCESS 2/0/0/0/0\n\
             \x20 s SUCCESS 2/0/0/0/0\n\
             \x20   a SUCCESS 1/0/0/0/0\n\
             \x20   b SUCCESS 1/0/0/0/0\n"
        );
        // Without a plan the run takes every test until the input ends.
        let p = parse("TAP version 13\nok 1 a\n# between\nnot ok 2 b\n");
        assert_eq!(
            render(&p),
            "main FAILURE 1/1/0/0/0\n  a SUCCESS 1/0/0/0/0\n  b FAILURE 0/1/0/0/0 log=[\"# between\"]\n"
        );
    }

    #[test]
    fn parse_test_result_reads_name_status_and_directive() {
        let p = parse(
            "KTAP version 1\n1..5\nok 1 a # SKIP why\nok 2 b # skip lower\nnot ok 3 c # TODO later\n\
             not ok 5 d # TIMEOUT 45 seconds\nok 5 - e\n",
        );
        // Deviation 2: `# skip` and a failing `# TODO` are skips (kunit:
        // b SUCCESS, c FAILURE); the rest is kunit's.
        assert_eq!(
            render(&p),
            "main FAILURE 1/1/0/3/1\n\
             \x20 a SKIPPED 0/0/0/1/0 skip=why\n\
             \x20 b SKIPPED 0/0/0/1/0 skip=lower\n\
             \x20 c SKIPPED 0/0/0/1/0 skip=TODO: later\n\
             \x20 d FAILURE 0/1/0/0/1\n\
             \x20 e SUCCESS 1/0/0/0/0\n"
        );
        let d = &p.runs[0].subtests[3];
        assert_eq!(
            (d.details().directive, d.details().diagnostic.as_str()),
            (Some(Directive::Timeout), "45 seconds")
        );
        assert_eq!(d.result_line, 6);
        assert_eq!(
            warnings(&p),
            ["6: test 'd': Expected test number 4 but found 5"]
        );
    }

    #[test]
    fn bubble_up_counts_leaves_and_crashes() {
        // A crashed subtest makes its suite crashed; a suite's own `not ok`
        // counts when no subtest failed (deviation 3 when they were all
        // skipped: kunit leaves it uncounted).
        let p = parse(
            "KTAP version 1\n1..3\n    # Subtest: s\n    1..1\n    ok 1 a\nnot ok 1 s\n\
             \x20   # Subtest: t\n    1..1\n    ok 1 b # SKIP\nnot ok 2 t\n\
             \x20   # Subtest: u\n    1..2\n    ok 1 c\nok 3 u\n",
        );
        assert_eq!(
            render(&p),
            "main TEST_CRASHED 2/2/1/1/1\n\
             \x20 s FAILURE 1/1/0/0/0\n\
             \x20   a SUCCESS 1/0/0/0/0\n\
             \x20 t FAILURE 0/1/0/1/0\n\
             \x20   b SKIPPED 0/0/0/1/0\n\
             \x20 u TEST_CRASHED 1/0/1/0/1\n\
             \x20   c SUCCESS 1/0/0/0/0\n\
             \x20    TEST_CRASHED 0/0/0/0/0\n"
        );
        let [s, t, u] = [0, 1, 2].map(|i| &p.runs[0].subtests[i]);
        assert!(s.own_failure && t.own_failure && !u.own_failure);
    }

    /// Deviation 4: a test whose result line never came is crashed, and it
    /// does not matter why it did not come: the input ended, a new run
    /// began, or another line came in its place.  (kunit's parse errors
    /// still say which: "No more test results!" at the end of the input.)
    #[test]
    fn a_missing_result_line_is_one_case_whatever_ended_the_test() {
        let suite = "KTAP version 1\n1..1\n    # Subtest: s\n    1..1\n    ok 1 a\n";
        let leaf = "KTAP version 1\n1..1\n1..1\n";
        let new_run = "KTAP version 1\n1..1\nok 1 next\n";
        let end_marker = "reboot: System halted\n";
        for (start, tree, ends) in [
            (
                suite,
                "main TEST_CRASHED 1/0/1/0/1\n  s TEST_CRASHED 1/0/1/0/1\n    a SUCCESS 1/0/0/0/0\n",
                // Another test's result line, a plan.
                [new_run, end_marker, "ok 1 another\n", "1..3\n"],
            ),
            (
                // A test with a plan but no header takes any result line
                // as its own.
                leaf,
                "main TEST_CRASHED 0/0/1/0/1\n   TEST_CRASHED 0/0/1/0/1\n",
                [new_run, end_marker, "1..3\n", "    KTAP version 1\n"],
            ),
        ] {
            let at_end = parse(start);
            assert_eq!(render(&at_end), tree, "{start:?}");
            for end in ends {
                let cut = parse(&format!("{start}{end}"));
                assert_eq!(
                    shape(&cut.runs[0]),
                    shape(&at_end.runs[0]),
                    "{start:?} then {end:?}"
                );
            }
        }
        let s = &parse(suite).runs[0].subtests[0];
        assert!(s.own_crash);
        assert_eq!(s.result_line, 0);
    }

    #[test]
    fn runs_follow_each_other() {
        // Deviation 1: a new version line ends the run and starts another;
        // after an end marker the next version line does; a stray test
        // line after a complete run starts a run of its own, with the log
        // lines before it.
        let p = parse(
            "KTAP version 1\n1..1\nok 1 a\n# after a\nnot ok 2 b\nKTAP version 1\n1..1\n\
             reboot: System halted\nnoise\nKTAP version 1\n1..1\nok 1 c\n",
        );
        assert_eq!(
            render(&p),
            "main SUCCESS 1/0/0/0/0\n\
             \x20 a SUCCESS 1/0/0/0/0\n\
             main FAILURE 0/1/0/0/1\n\
             \x20 b FAILURE 0/1/0/0/1 log=[\"# after a\"]\n\
             main TEST_CRASHED 0/0/1/0/1\n\
             \x20  TEST_CRASHED 0/0/0/0/0 log=[\"reboot: System halted\"]\n\
             main SUCCESS 1/0/0/0/0\n\
             \x20 c SUCCESS 1/0/0/0/0\n"
        );
        assert_eq!(
            warnings(&p),
            [
                "5: test line after the end of the previous run; reporting it as a new run",
                "5: test 'b': Expected test number 1 but found 2",
                "8: test 'main': missing expected subtest! (test 1 of 1)"
            ]
        );
    }

    #[test]
    fn times_come_from_printk_timestamps() {
        let p = parse(
            "[ 1.0] KTAP version 1\n[ 1.0] 1..2\n[ 1.5]     # Subtest: s\n[ 1.5]     1..1\n\
             [ 1.75]     ok 1 a\n[ 2.0] ok 1 s\n[ 2.0] x\n[ 3.25] ok 2 t\n",
        );
        let times: Vec<Option<u64>> = [
            &p.runs[0].subtests[0],
            &p.runs[0].subtests[0].subtests[0],
            &p.runs[0].subtests[1],
        ]
        .iter()
        .map(|t| t.time_us)
        .collect();
        assert_eq!(times, [Some(500_000), Some(250_000), Some(1_250_000)]);
    }

    #[test]
    fn streaming_hands_over_each_top_level_test_once() {
        let input = "KTAP version 1\n1..2\n    # Subtest: s\n    1..1\n    ok 1 a\nok 1 s\nok 2 t\n\
                     KTAP version 1\n1..1\nnot ok 1 u\n";
        let whole = parse_with(input, Options::default());
        let opts = Options {
            stream: true,
            ..Options::default()
        };
        let mut lexer = Lexer::new();
        let mut tree = TreeBuilder::new(opts);
        let mut handed: Vec<(usize, String)> = Vec::new();
        for (i, line) in input.lines().enumerate() {
            let lexed = lexer.lex(line, tree.is_idle());
            tree.feed(&lexed, i as u64 + 1);
            tree.hand_over(&mut |run, t| handed.push((run, t.name.clone())));
        }
        let shallow = tree.finish(&mut |run, t| handed.push((run, t.name.clone())));
        assert_eq!(
            handed,
            [
                (0, "s".to_owned()),
                (0, "t".to_owned()),
                (1, "u".to_owned())
            ]
        );
        assert_eq!(shallow.runs.len(), whole.runs.len());
        for (s, w) in shallow.runs.iter().zip(&whole.runs) {
            assert!(s.subtests.is_empty());
            assert_eq!((s.status, s.counts), (w.status, w.counts));
        }
    }
}
