// SPDX-License-Identifier: GPL-2.0
//! What a parse produces: kunit_parser.py's `Test`, `TestStatus` and
//! `TestCounts`, with the counting rules of `bubble_up_test_results()`.

use super::grammar::Directive;

/// Status of a test, as kunit_parser.py's `TestStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Passed.
    Success,
    /// Failed (`not ok`).
    Failure,
    /// Skipped (`# SKIP`, or a failing `# TODO`/`# XFAIL`).
    Skipped,
    /// Crashed: no result line (the log or the run ended, or another line
    /// came in its place), or a subtest crashed.
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

    /// Passed or skipped (kunit's `Test.ok_status()`).
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

    /// Add another set of counts (kunit's `add_subtest_counts()`).
    pub fn add(&mut self, o: &Counts) {
        self.passed = self.passed.saturating_add(o.passed);
        self.failed = self.failed.saturating_add(o.failed);
        self.crashed = self.crashed.saturating_add(o.crashed);
        self.skipped = self.skipped.saturating_add(o.skipped);
        self.errors = self.errors.saturating_add(o.errors);
    }

    /// Count one test with the given status (kunit's `add_status()`:
    /// NO_TESTS counts nothing, FAILURE_TO_PARSE_TESTS as a crash).
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

    /// The aggregated status (kunit's `get_status()`).
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
        // kunit: f'Ran {total} tests: ' + ', '.join(...), so "Ran 0
        // tests: " keeps its space when nothing is counted.
        write!(f, "Ran {} tests: ", self.total())?;
        let parts = [
            ("passed", self.passed),
            ("failed", self.failed),
            ("crashed", self.crashed),
            ("skipped", self.skipped),
            ("errors", self.errors),
        ];
        let mut sep = "";
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
    /// The errors kunit_parser.py reports about this test while parsing,
    /// in order, each with where its report prints it.
    pub errors: Vec<ParseError>,
    /// The test started with a version line but no `# Subtest:` line:
    /// kunit's report printed its header before it had a name.
    pub anonymous_header: bool,
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
    /// A test as kunit's `Test()` makes it: crashed until a result says
    /// otherwise.
    pub(crate) fn new(name: &str) -> Self {
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
            errors: Vec::new(),
            anonymous_header: false,
        };
        self.details.as_deref().unwrap_or(&EMPTY)
    }

    pub(crate) fn details_mut(&mut self) -> &mut Details {
        self.details.get_or_insert_with(Box::default)
    }

    /// Move the errors printed before `self` to the front of `child`'s: a
    /// run prints no header, so its errors before its first test are
    /// printed just before that test (and stay with that test when the
    /// run's tests are handed over one at a time).
    pub(crate) fn hand_errors_to(&mut self, child: &mut Test) {
        let Some(d) = self.details.as_deref_mut() else {
            return;
        };
        if !d.errors.iter().any(|e| e.at == ErrorAt::Before) {
            return;
        }
        let (before, rest) = std::mem::take(&mut d.errors)
            .into_iter()
            .partition(|e| e.at == ErrorAt::Before);
        d.errors = rest;
        let c = child.details_mut();
        let mut all: Vec<ParseError> = before;
        all.append(&mut c.errors);
        c.errors = all;
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

/// An error kunit_parser.py reports while it parses (`Test.add_error()`,
/// which prints `[ERROR] Test: NAME: MESSAGE` at once), kept with the test
/// its report prints it beside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The name the erring test had when the error was found (a suite is
    /// named by its `# Subtest:` line, a test case only by its result
    /// line; a run is "main").
    pub test: String,
    /// kunit's message (`missing expected subtest!`, ...).
    pub message: String,
    /// Where the report prints it.
    pub at: ErrorAt,
}

/// Where kunit's report prints a [`ParseError`] kept with a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorAt {
    /// Before the test's own lines: the errors of its version line, and
    /// its parent's errors about it (a missing subtest; a run's errors
    /// before its first test).
    Before,
    /// After its subtests, before its result line or footer.
    End,
    /// As [`ErrorAt::End`], after the test's log (kunit prints the log
    /// before `No more test results!` and `0 tests run!`).
    EndAfterLog,
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
