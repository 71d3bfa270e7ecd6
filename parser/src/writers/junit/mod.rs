// SPDX-License-Identifier: GPL-2.0
//! JUnit XML writer (valid against the Jenkins xUnit junit-10.xsd).
//!
//! Mapping:
//! * `<testsuites name=... tests failures errors time>` root with totals.
//! * One `<testsuite>` per top-level suite of every run; nested suites are
//!   flattened, their path becoming the dotted `classname` of each test
//!   case (`suite.subsuite`).  Test cases reported directly at the top level
//!   (kselftest) are grouped into one `<testsuite>` named after the report.
//! * `<failure message=diagnostics>`, `<skipped message=reason>`, crashed
//!   and missing tests as `<error>`, the test's log in `<system-out>`.
//! * A suite that reported `not ok` although no subtest failed gets a test
//!   case of its own carrying the failure; so does a suite whose result
//!   line never came, and a suite without any subtests
//!   (skipped/failed/no tests).
//!
//! This module decides which test becomes which test case, with which
//! fields ([`CaseFields`], [`SuiteFields`]: the document before XML);
//! [`JunitStream`] writes them as XML, one `<testsuite>` at a time, as the
//! parser hands over finished suites, every value through
//! [`crate::writers::xml`].  The bytes are the ones junit-report writes for
//! the same fields, which the tests check on every sample, every kernel
//! log and generated input (junit-report is the tests' oracle, not a
//! dependency of the writer).

mod stream;

use std::borrow::Cow;

pub use stream::{JunitStream, write_junit};
pub use time::OffsetDateTime;

use crate::ktap::{Directive, Status, Test};

/// Writer options.
#[derive(Debug, Clone)]
pub struct JunitOptions {
    /// Name of the `<testsuites>` root (and of the group of top-level test
    /// cases).
    pub name: String,
    /// Timestamp written on every `<testsuite>` (fixed for reproducibility).
    pub timestamp: OffsetDateTime,
}

impl Default for JunitOptions {
    fn default() -> Self {
        JunitOptions {
            name: "ktap2junit".to_owned(),
            timestamp: OffsetDateTime::UNIX_EPOCH,
        }
    }
}

/// How a test is reported as a test case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A leaf test (or a suite without subtests) with its own status.
    Own,
    /// The suite's own `not ok` that no subtest explains.
    SuiteFailure,
    /// The suite's missing result line (the log ended inside it).
    SuiteCrash,
}

/// One test case to write.
pub(crate) struct Case<'t> {
    test: &'t Test,
    classname: &'t str,
    kind: Kind,
}

/// Totals of written test cases.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Test cases.
    pub tests: u64,
    /// `<failure>`s.
    pub failures: u64,
    /// `<error>`s.
    pub errors: u64,
    /// `<skipped>`s.
    pub skipped: u64,
    /// Sum of test case times, in milliseconds.
    pub time_ms: u64,
}

impl Totals {
    /// Add another's counts.
    pub fn add(&mut self, o: &Totals) {
        self.tests += o.tests;
        self.failures += o.failures;
        self.errors += o.errors;
        self.skipped += o.skipped;
        self.time_ms = self.time_ms.saturating_add(o.time_ms);
    }
}

fn millis(t: &Test) -> u64 {
    t.time_us.map_or(0, |us| us.saturating_add(500) / 1000)
}

/// Visit the test cases of `suite` (flattened), with `path` as classname.
fn for_each_case<'t>(suite: &'t Test, path: &mut String, f: &mut dyn FnMut(Case<'_>)) {
    if suite.subtests.is_empty() {
        f(Case {
            test: suite,
            classname: path,
            kind: Kind::Own,
        });
        return;
    }
    for t in &suite.subtests {
        if t.is_parent && !t.subtests.is_empty() {
            let len = path.len();
            path.push('.');
            path.push_str(&t.name);
            for_each_case(t, path, f);
            path.truncate(len);
        } else {
            f(Case {
                test: t,
                classname: path,
                kind: Kind::Own,
            });
        }
    }
    if suite.own_failure {
        f(Case {
            test: suite,
            classname: path,
            kind: Kind::SuiteFailure,
        });
    }
    if suite.own_crash {
        f(Case {
            test: suite,
            classname: path,
            kind: Kind::SuiteCrash,
        });
    }
}

/// Diagnostic lines of a log for a failure message: `# ...` lines (without
/// the `#`) and the more indented lines that continue them (KUnit prints
/// multi-line expectation failures that way).
fn diagnostics(t: &Test) -> String {
    const MAX: usize = 4096;
    let mut msg = String::new();
    let mut cont_indent: Option<usize> = None;
    for line in t.log_lines() {
        let body = line.trim_start();
        let indent = line.len() - body.len();
        let d = if let Some(d) = body.strip_prefix('#') {
            cont_indent = Some(indent);
            d.trim()
        } else if let Some(i) = cont_indent.filter(|&i| indent >= i && indent > 0) {
            line.get(i..).unwrap_or(line).trim_end()
        } else {
            cont_indent = None;
            continue;
        };
        if d.is_empty() || msg.len() + d.len() > MAX {
            continue;
        }
        if !msg.is_empty() {
            msg.push('\n');
        }
        msg.push_str(d);
    }
    let details = t.details();
    if !details.diagnostic.is_empty() {
        if !msg.is_empty() {
            msg.push('\n');
        }
        if let Some(d) = details.directive {
            msg.push_str(d.as_str());
            msg.push(' ');
        }
        msg.push_str(&details.diagnostic);
    } else if let Some(d @ (Directive::Timeout | Directive::Error)) = details.directive {
        if !msg.is_empty() {
            msg.push('\n');
        }
        msg.push_str(d.as_str());
    }
    msg
}

/// [`diagnostics`], or `fallback` when there are none.
fn diagnostics_or(t: &Test, fallback: &'static str) -> Cow<'static, str> {
    let msg = diagnostics(t);
    if msg.is_empty() {
        Cow::Borrowed(fallback)
    } else {
        Cow::Owned(msg)
    }
}

/// The name of a test's test case (`test N` if it has none).
pub(crate) fn case_name(t: &Test) -> Cow<'_, str> {
    if t.missing {
        Cow::Owned(format!("test {} (missing)", t.number))
    } else if t.name.is_empty() {
        Cow::Owned(format!("test {}", t.number))
    } else {
        Cow::Borrowed(&t.name)
    }
}

/// The result element of a test case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No result element.
    Pass,
    /// `<failure>`.
    Failure,
    /// `<error>`.
    Error,
    /// `<skipped>`.
    Skipped,
}

fn outcome(c: &Case<'_>) -> Outcome {
    match c.kind {
        Kind::SuiteFailure => return Outcome::Failure,
        Kind::SuiteCrash => return Outcome::Error,
        Kind::Own => {}
    }
    match c.test.status {
        Status::Success => Outcome::Pass,
        Status::Failure => Outcome::Failure,
        Status::Skipped | Status::NoTests => Outcome::Skipped,
        Status::Crashed | Status::FailureToParse => Outcome::Error,
    }
}

/// The `<system-out>` of a test case, if it has any.
fn system_out(t: &Test) -> Option<String> {
    let d = t.details();
    let mut out = String::new();
    if !d.attributes.is_empty() {
        out.push_str("# attributes:");
        for (k, v) in &d.attributes {
            out.push(' ');
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
    }
    if !d.log.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&d.log);
    }
    if d.log_dropped > 0 {
        out.push_str(&format!(
            "\n[ktap2junit: {} more log lines not kept]",
            d.log_dropped
        ));
    }
    (!out.is_empty()).then_some(out)
}

/// Everything a `<testcase>` element is made of, before XML: the one place
/// that decides how a test is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFields<'a> {
    /// Its result element.
    pub outcome: Outcome,
    /// `name`.
    pub name: Cow<'a, str>,
    /// `time`, in milliseconds.
    pub time_ms: u64,
    /// `classname`.
    pub classname: Cow<'a, str>,
    /// `type` of the result element (empty for [`Outcome::Pass`]).
    pub type_: &'static str,
    /// `message` of the result element (empty for [`Outcome::Pass`]).
    pub message: Cow<'a, str>,
    /// Its `<system-out>`, if any.
    pub out: Option<String>,
}

impl CaseFields<'_> {
    /// The same fields, owning their text.
    pub fn into_owned(self) -> CaseFields<'static> {
        CaseFields {
            name: Cow::Owned(self.name.into_owned()),
            classname: Cow::Owned(self.classname.into_owned()),
            message: Cow::Owned(self.message.into_owned()),
            ..self
        }
    }
}

pub(crate) fn case_fields<'a>(c: &Case<'a>) -> CaseFields<'a> {
    let t = c.test;
    let outcome = outcome(c);
    let (type_, message): (&'static str, Cow<'a, str>) = match (c.kind, outcome) {
        (Kind::SuiteFailure, _) => (
            "suite-failure",
            diagnostics_or(t, "suite reported not ok, but none of its subtests failed"),
        ),
        (Kind::SuiteCrash, _) => (
            "crashed",
            Cow::Borrowed(
                "suite has no result line: the log stopped or the run was interrupted inside it",
            ),
        ),
        (_, Outcome::Pass) => ("", Cow::Borrowed("")),
        (_, Outcome::Failure) => ("failure", diagnostics_or(t, "not ok")),
        (_, Outcome::Skipped) => {
            let reason = if t.status == Status::NoTests {
                "no tests run"
            } else {
                t.skip_reason()
            };
            ("skipped", Cow::Borrowed(reason))
        }
        (_, Outcome::Error) => {
            let msg = if t.missing {
                format!(
                    "no result for test {}: the plan promised more tests than were reported \
                     (the log stopped or the run was interrupted)",
                    t.number
                )
            } else {
                let d = diagnostics(t);
                let base =
                    "test crashed: no result line (the log stopped or the run was interrupted)";
                if d.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}\n{d}")
                }
            };
            (
                if t.missing { "missing" } else { "crashed" },
                Cow::Owned(msg),
            )
        }
    };
    CaseFields {
        outcome,
        name: case_name(t),
        time_ms: millis(t),
        classname: Cow::Borrowed(c.classname),
        type_,
        message,
        out: if c.kind == Kind::Own {
            system_out(t)
        } else {
            None
        },
    }
}

pub(crate) fn tally(totals: &mut Totals, c: &Case<'_>) {
    totals.tests += 1;
    match outcome(c) {
        Outcome::Pass => {}
        Outcome::Failure => totals.failures += 1,
        Outcome::Error => totals.errors += 1,
        Outcome::Skipped => totals.skipped += 1,
    }
    if c.kind == Kind::Own {
        totals.time_ms = totals.time_ms.saturating_add(millis(c.test));
    }
}

/// Milliseconds as seconds with three decimals (the XSD allows at most
/// three): a suite's and the report's `time`.
pub(crate) fn fmt_ms(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// A top-level element of the report: a suite, or the group of top-level
/// test cases of a run.
enum Entry<'t> {
    Suite(&'t Test),
    Group(&'t Test),
}

/// The `<testsuite>`s of a run, in order: every top-level suite, and the
/// group of its top-level test cases where the first of them is.
fn entries(run: &Test) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    let mut group_done = false;
    for t in &run.subtests {
        if t.is_parent {
            out.push(Entry::Suite(t));
        } else if !group_done {
            group_done = true;
            out.push(Entry::Group(run));
        }
    }
    out
}

fn visit_entry(entry: &Entry<'_>, group_name: &str, f: &mut dyn FnMut(Case<'_>)) {
    match entry {
        Entry::Suite(t) => visit_suite(t, f),
        Entry::Group(run) => {
            for t in run.subtests.iter().filter(|t| !t.is_parent) {
                f(Case {
                    test: t,
                    classname: group_name,
                    kind: Kind::Own,
                });
            }
        }
    }
}

pub(crate) fn visit_suite(t: &Test, f: &mut dyn FnMut(Case<'_>)) {
    let mut path = t.name.clone();
    for_each_case(t, &mut path, f);
}

/// Name of the `<testsuite>` of `base` (a suite's name, or the report's for
/// the group of top-level test cases) in the `run`-th run (from 0) of the
/// report: suites of the second and later runs are told apart.
pub(crate) fn suite_name(base: &str, run: usize) -> Cow<'_, str> {
    if run > 0 {
        Cow::Owned(format!("{base} (run {})", run + 1))
    } else {
        Cow::Borrowed(base)
    }
}

/// The `package` (the suite's `# module:` attribute, if it has one) and
/// `<system-out>` (its own log) of a suite's `<testsuite>`.
pub(crate) fn suite_extras(t: &Test) -> (Option<&str>, Option<&str>) {
    let d = t.details();
    let package = d
        .attributes
        .iter()
        .find(|(k, _)| k == "module")
        .map(|(_, m)| m.as_str());
    let out = (!d.log.is_empty()).then_some(d.log.as_str());
    (package, out)
}

/// Everything a `<testsuite>` element is made of, before XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteFields<'t> {
    /// `name` (with ` (run N)` for the suites of later runs).
    pub name: Cow<'t, str>,
    /// `package`: the suite's `# module:` attribute; `None` for the
    /// default, `testsuite/` and the name.
    pub package: Option<&'t str>,
    /// Its test cases.
    pub cases: Vec<CaseFields<'static>>,
    /// Its `<system-out>` (the suite's own log), if any.
    pub out: Option<&'t str>,
    /// The counts of its `tests`, `failures`, `errors` and `time`.
    pub totals: Totals,
}

/// The `<testsuite>`s of the report for `runs`, in order (what
/// [`write_junit`] writes, before XML).
pub fn suites<'t>(runs: &[&'t Test], opts: &'t JunitOptions) -> Vec<SuiteFields<'t>> {
    let mut out = Vec::new();
    for (k, run) in runs.iter().enumerate() {
        for e in entries(run) {
            let (base, package, suite_out) = match e {
                Entry::Suite(t) => {
                    let (package, out) = suite_extras(t);
                    (t.name.as_str(), package, out)
                }
                Entry::Group(_) => (opts.name.as_str(), None, None),
            };
            let mut cases = Vec::new();
            let mut totals = Totals::default();
            visit_entry(&e, &opts.name, &mut |c| {
                tally(&mut totals, &c);
                cases.push(case_fields(&c).into_owned());
            });
            out.push(SuiteFields {
                name: suite_name(base, k),
                package,
                cases,
                out: suite_out,
                totals,
            });
        }
    }
    out
}

/// Compute the totals the report will contain.
pub fn totals<'t>(runs: impl IntoIterator<Item = &'t Test>, opts: &JunitOptions) -> Totals {
    let mut t = Totals::default();
    for run in runs {
        for e in entries(run) {
            visit_entry(&e, &opts.name, &mut |c| tally(&mut t, &c));
        }
    }
    t
}
