// SPDX-License-Identifier: GPL-2.0
//! The JUnit the tests hold the writer to: the report's fields
//! (`ktap2junit::writers::junit::suites`) written by junit-report, one
//! `<testsuite>` at a time, every value through the parser's XML escaper
//! for what junit-report leaves raw (control characters, `]]>`).
//!
//! junit-report numbers the suites of its own report from 0 and prints a
//! suite's `time` as an `f64` that may have more than the three decimals
//! junit-10.xsd allows: each suite's `id` and `time` are set here, and the
//! root element (which junit-report cannot give a name and totals) is
//! written here too, escaped by quick-xml, junit-report's writer.

use std::io;

use junit_report::{Duration, Report, TestCase, TestSuite};
use ktap2junit::ktap::Test;
use ktap2junit::writers::junit::{CaseFields, JunitOptions, Outcome, Totals, suites};
use ktap2junit::writers::xml;

fn invalid(msg: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("unexpected junit-report output: {msg}"))
}

/// Seconds with three decimals.
fn fmt_ms(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The junit-report test case for `f`.
fn test_case(f: &CaseFields<'_>) -> TestCase {
    let time = Duration::milliseconds(i64::try_from(f.time_ms).unwrap_or(i64::MAX));
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
    tc.set_classname(&xml::text(&f.classname));
    if let Some(out) = &f.out {
        tc.set_system_out(&xml::cdata(out));
    }
    tc
}

/// Write the `<testsuite>` junit-report writes for `suite`, as the `id`-th
/// suite, its time `ms`.
fn write_suite(w: &mut Vec<u8>, suite: TestSuite, id: usize, ms: u64) -> io::Result<()> {
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
    use std::io::Write;
    writeln!(
        w,
        "  <testsuite id=\"{id}\"{} time=\"{}\"{}{}",
        &tag[..time_at],
        fmt_ms(ms),
        &after[close + 1..],
        rest
    )
}

/// The JUnit document for `runs`, written by junit-report.
pub(crate) fn write_junit_reference(runs: &[Test], opts: &JunitOptions) -> io::Result<Vec<u8>> {
    let runs: Vec<&Test> = runs.iter().collect();
    let suites = suites(&runs, opts);
    let mut tot = Totals::default();
    for s in &suites {
        tot.add(&s.totals);
    }
    let mut w = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">\n",
        quick_xml::escape::escape(xml::text(&opts.name)),
        tot.tests,
        tot.failures,
        tot.errors,
        fmt_ms(tot.time_ms)
    )
    .into_bytes();
    for (id, s) in suites.iter().enumerate() {
        let mut suite = TestSuite::new(&xml::text(&s.name));
        suite.set_timestamp(opts.timestamp);
        for c in &s.cases {
            suite.add_testcase(test_case(c));
        }
        if let Some(package) = s.package {
            suite.package = xml::text(package).into_owned();
        }
        if let Some(out) = s.out {
            suite.set_system_out(&xml::cdata(out));
        }
        write_suite(&mut w, suite, id, s.totals.time_ms)?;
    }
    w.extend_from_slice(b"</testsuites>\n");
    Ok(w)
}
