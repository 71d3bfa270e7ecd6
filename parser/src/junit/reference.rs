// SPDX-License-Identifier: GPL-2.0
//! The reference renderer: every `<testsuite>` built as junit-report
//! structures and written by junit-report, one suite at a time.
//!
//! It costs about 6300 instructions per test case (a `TestCase` with its
//! own strings, quick-xml's attribute builder, a float formatted per
//! `time`), more than parsing; [`super::JunitStream`] writes the same bytes
//! from templates junit-report rendered once.  This renderer stays as the
//! definition the tests hold the fast one to.

use std::io::{self, Write};

use junit_report::{Duration, Report, TestCase, TestSuite};

use super::{
    CaseFields, Entry, JunitOptions, Outcome, ROOT_END, Totals, case_fields, entries, fmt_ms,
    root_start, suite_extras, suite_name, tally, totals, visit_entry,
};
use crate::tree::Test;
use crate::xml;

/// The junit-report test case for `f`.
pub(super) fn test_case(f: &CaseFields<'_>) -> TestCase {
    let time = duration(f.time_ms);
    let name = xml::text(&f.name);
    let message = xml::text(&f.message);
    let mut tc = match f.outcome {
        Outcome::Pass => TestCase::success(&name, time),
        Outcome::Failure => TestCase::failure(&name, time, f.type_, &message),
        Outcome::Error => TestCase::error(&name, time, f.type_, &message),
        Outcome::Skipped => {
            let mut tc = TestCase::skipped_with_cause(&name, f.type_, &message);
            tc.time = time;
            tc
        }
    };
    tc.set_classname(&xml::text(f.classname));
    if let Some(out) = &f.out {
        tc.set_system_out(out);
    }
    tc
}

/// A test case's `time` as junit-report takes it.
pub(super) fn duration(ms: u64) -> Duration {
    Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX))
}

/// junit-report wrote something this crate cannot take apart.
pub(super) fn invalid(msg: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("unexpected junit-report output: {msg}"))
}

/// What junit-report writes for a report of this one suite.
pub(super) fn render(suite: TestSuite) -> io::Result<String> {
    let mut report = Report::new();
    report.add_testsuite(suite);
    let mut buf = Vec::new();
    report
        .write_xml(&mut buf)
        .map_err(|e| io::Error::other(e.to_string()))?;
    String::from_utf8(buf).map_err(|_| invalid("not UTF-8"))
}

/// Write one `<testsuite>` through junit-report, fixing up its `id` and
/// `time` (junit-report numbers the suites of its own report from 0, and
/// prints an f64 that may have more than the three decimals the XSD
/// allows).
fn write_suite<W: Write + ?Sized>(
    w: &mut W,
    suite: TestSuite,
    id: usize,
    ms: u64,
) -> io::Result<()> {
    let s = render(suite)?;
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

/// Write the `id`-th `<testsuite>`, for entry `e` of run `run`.
fn render_suite<W: Write + ?Sized>(
    w: &mut W,
    run: usize,
    e: &Entry<'_>,
    id: usize,
    opts: &JunitOptions,
) -> io::Result<()> {
    let base = match e {
        Entry::Suite(t) => t.name.as_str(),
        Entry::Group(_) => opts.name.as_str(),
    };
    let mut suite = TestSuite::new(&xml::text(&suite_name(base, run)));
    suite.set_timestamp(opts.timestamp);
    let mut sum = Totals::default();
    visit_entry(e, &opts.name, &mut |c| {
        tally(&mut sum, &c);
        suite.add_testcase(test_case(&case_fields(&c)));
    });
    if let Entry::Suite(t) = e {
        let (package, out) = suite_extras(t);
        if let Some(package) = package {
            suite.package = package.into_owned();
        }
        if let Some(out) = out {
            suite.set_system_out(&out);
        }
    }
    write_suite(w, suite, id, sum.time_ms)
}

/// Write the JUnit document for the given runs with junit-report alone.
/// [`super::write_junit`] writes the same bytes, much faster; this one is
/// the reference the tests compare it with.
pub fn write_junit_reference<'t, W, I>(w: &mut W, runs: I, opts: &JunitOptions) -> io::Result<()>
where
    W: Write + ?Sized,
    I: IntoIterator<Item = &'t Test>,
{
    let runs: Vec<&Test> = runs.into_iter().collect();
    let tot = totals(runs.iter().copied(), opts);
    w.write_all(root_start(opts, &tot).as_bytes())?;
    let mut id = 0;
    for (k, run) in runs.iter().enumerate() {
        for e in entries(run) {
            render_suite(w, k, &e, id, opts)?;
            id += 1;
        }
    }
    w.write_all(ROOT_END.as_bytes())
}
