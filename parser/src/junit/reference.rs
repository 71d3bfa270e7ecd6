// SPDX-License-Identifier: GPL-2.0
//! JUnit XML writer (valid against the Jenkins xUnit junit-10.xsd).
//!
//! Mapping:
//! * `<testsuites name=... tests failures errors skipped time>` root with totals.
//! * One `<testsuite>` per top-level suite of every run; nested suites are
//!   flattened, their path becoming the dotted `classname` of each test
//!   case (`suite.subsuite`).  Test cases reported directly at the top level
//!   (kselftest) are grouped into one `<testsuite>` named after the report.
//! * `<failure message=diagnostics>`, `<skipped message=reason>`, crashed
//!   and missing tests as `<error>`, the test's log in `<system-out>`.
//! * A suite that reported `not ok` although no subtest failed gets a test
//!   case of its own carrying the failure; so does a suite without any
//!   subtests (skipped/failed/no tests).
//!
//! The `<testsuite>` elements are produced by junit-report, one suite at a
//! time (so only one suite's JUnit structures are in memory); the root
//! element is written here because junit-report cannot put attributes on it.
//! Every string is passed through [`crate::xml`] first.

use std::borrow::Cow;
use std::io::{self, Write};

use junit_report::{Duration, OffsetDateTime, Report, TestCase, TestSuite};

use crate::lexer::Directive;
use crate::tree::{Status, Test};
use crate::xml;

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
enum Kind {
    /// A leaf test (or a suite without subtests) with its own status.
    Own,
    /// The suite's own `not ok` that no subtest explains.
    SuiteFailure,
    /// The suite's missing result line (the log ended inside it).
    SuiteCrash,
}

/// One test case to write.
struct Case<'t> {
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

/// A top-level element of the report: a suite, or the group of top-level
/// test cases of a run.
enum Entry<'t> {
    Suite(&'t Test),
    Group(&'t Test),
}

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
        Entry::Suite(t) => {
            let mut path = t.name.clone();
            for_each_case(t, &mut path, f);
        }
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

fn case_name(t: &Test) -> Cow<'_, str> {
    if t.missing {
        Cow::Owned(format!("test {} (missing)", t.number))
    } else if t.name.is_empty() {
        Cow::Owned(format!("test {}", t.number))
    } else {
        Cow::Borrowed(&t.name)
    }
}

enum Outcome {
    Pass,
    Failure,
    Error,
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

fn system_out(t: &Test) -> Option<String> {
    let d = t.details();
    let mut out = String::new();
    if !d.attributes.is_empty() {
        out.push_str("# attributes:");
        for (k, v) in &d.attributes {
            out.push_str(&format!(" {k}={v}"));
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
    (!out.is_empty()).then(|| xml::cdata(&out))
}

fn make_case(c: &Case<'_>) -> TestCase {
    let t = c.test;
    let time = Duration::milliseconds(i64::try_from(millis(t)).unwrap_or(i64::MAX));
    let case_name = case_name(t);
    let name = xml::text(&case_name);
    let mut tc = match (c.kind, outcome(c)) {
        (Kind::SuiteFailure, _) => {
            let mut msg = diagnostics(t);
            if msg.is_empty() {
                msg = "suite reported not ok, but none of its subtests failed".to_owned();
            }
            TestCase::failure(&name, time, "suite-failure", &xml::text(&msg))
        }
        (Kind::SuiteCrash, _) => TestCase::error(
            &name,
            time,
            "crashed",
            "suite has no result line: the log stopped or the run was interrupted inside it",
        ),
        (_, Outcome::Pass) => TestCase::success(&name, time),
        (_, Outcome::Failure) => {
            let mut msg = diagnostics(t);
            if msg.is_empty() {
                msg = "not ok".to_owned();
            }
            TestCase::failure(&name, time, "failure", &xml::text(&msg))
        }
        (_, Outcome::Skipped) => {
            let reason = if t.status == Status::NoTests {
                "no tests run".to_owned()
            } else {
                t.skip_reason().to_owned()
            };
            let mut tc = TestCase::skipped_with_cause(&name, "skipped", &xml::text(&reason));
            tc.time = time;
            tc
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
            let kind = if t.missing { "missing" } else { "crashed" };
            TestCase::error(&name, time, kind, &xml::text(&msg))
        }
    };
    tc.set_classname(&xml::text(c.classname));
    if c.kind == Kind::Own
        && let Some(out) = system_out(t)
    {
        tc.set_system_out(&out);
    }
    tc
}

fn tally(totals: &mut Totals, c: &Case<'_>) {
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

fn fmt_ms(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
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

fn escape_attr(s: &str) -> String {
    xml::text(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn invalid(msg: &str) -> io::Error {
    io::Error::other(format!("unexpected junit-report output: {msg}"))
}

/// Write one `<testsuite>` through junit-report, fixing up its `id` and
/// `time` (junit-report prints an f64 that may have more than the three
/// decimals the XSD allows).
fn write_suite<W: Write + ?Sized>(
    w: &mut W,
    suite: TestSuite,
    id: usize,
    ms: u64,
) -> io::Result<()> {
    let mut report = Report::new();
    report.add_testsuite(suite);
    let mut buf = Vec::new();
    report
        .write_xml(&mut buf)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let s = String::from_utf8(buf).map_err(|_| invalid("not UTF-8"))?;
    let start = s
        .find("<testsuite ")
        .ok_or_else(|| invalid("no <testsuite>"))?;
    let end = s
        .rfind("</testsuites>")
        .ok_or_else(|| invalid("no </testsuites>"))?;
    let body = &s[start..end];
    let tag_end = body.find('>').ok_or_else(|| invalid("unterminated tag"))?;
    let (tag, rest) = body.split_at(tag_end);
    let tag = tag
        .strip_prefix("<testsuite id=\"0\"")
        .ok_or_else(|| invalid("no id"))?;
    let time_at = tag.rfind(" time=\"").ok_or_else(|| invalid("no time"))?;
    let after = &tag[time_at + 7..];
    let close = after.find('"').ok_or_else(|| invalid("bad time"))?;
    writeln!(
        w,
        "  <testsuite id=\"{id}\"{} time=\"{}\"{}{}",
        &tag[..time_at],
        fmt_ms(ms),
        &after[close + 1..],
        rest
    )
}

/// Write one `<testsuite>` (the `id`-th) for entry `e` of run `k`.
fn render_suite<W: Write + ?Sized>(
    w: &mut W,
    (k, e): &(usize, Entry<'_>),
    id: usize,
    multi: bool,
    opts: &JunitOptions,
) -> io::Result<()> {
    let base = match e {
        Entry::Suite(t) => t.name.as_str(),
        Entry::Group(_) => opts.name.as_str(),
    };
    let name = if multi && *k > 0 {
        format!("{base} (run {})", k + 1)
    } else {
        base.to_owned()
    };
    let mut suite = TestSuite::new(&xml::text(&name));
    suite.set_timestamp(opts.timestamp);
    let mut sum = Totals::default();
    visit_entry(e, &opts.name, &mut |c| {
        tally(&mut sum, &c);
        suite.add_testcase(make_case(&c));
    });
    if let Entry::Suite(t) = e {
        let d = t.details();
        if let Some((_, m)) = d.attributes.iter().find(|(k, _)| k == "module") {
            suite.package = xml::text(m).into_owned();
        }
        if !d.log.is_empty() {
            suite.set_system_out(&xml::cdata(&d.log));
        }
    }
    write_suite(w, suite, id, sum.time_ms)
}

/// `<testsuite>`s rendered per batch (and per thread).
const BATCH: usize = 64;

/// Render the suites `all[first..]` (at most [`BATCH`]) into a buffer.
fn render_batch(
    all: &[(usize, Entry<'_>)],
    first: usize,
    multi: bool,
    opts: &JunitOptions,
) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(1 << 16);
    let end = (first + BATCH).min(all.len());
    for (id, entry) in all.iter().enumerate().take(end).skip(first) {
        render_suite(&mut buf, entry, id, multi, opts)?;
    }
    Ok(buf)
}

/// Produce `batches` results with `render` and hand them to `write` in
/// order.  With more than one CPU, a helper thread renders every other
/// batch while this thread renders the next one.
fn in_order<R>(
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

/// Write the JUnit document for the given runs.
///
/// The `<testsuite>`s are rendered by junit-report in batches; with more
/// than one CPU, a helper thread renders every other batch while this one
/// renders the next, and the batches are written in order (see
/// [`in_order`]).
pub fn write_junit<'t, W, I>(w: &mut W, runs: I, opts: &JunitOptions) -> io::Result<()>
where
    W: Write + ?Sized,
    I: IntoIterator<Item = &'t Test>,
{
    let runs: Vec<&Test> = runs.into_iter().collect();
    let tot = totals(runs.iter().copied(), opts);
    writeln!(w, "<?xml version=\"1.0\" encoding=\"utf-8\"?>")?;
    writeln!(
        w,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">",
        escape_attr(&opts.name),
        tot.tests,
        tot.failures,
        tot.errors,
        fmt_ms(tot.time_ms)
    )?;
    let multi = runs.len() > 1;
    // (run index, entry) of every <testsuite>, in order.
    let all: Vec<(usize, Entry<'_>)> = runs
        .iter()
        .enumerate()
        .flat_map(|(k, run)| entries(run).into_iter().map(move |e| (k, e)))
        .collect();
    let batches = all.len().div_ceil(BATCH);
    let render = |b: usize| render_batch(&all, b * BATCH, multi, opts);
    in_order(batches, &render, &mut |rendered| w.write_all(&rendered))?;
    writeln!(w, "</testsuites>")
}
