// SPDX-License-Identifier: GPL-2.0
//! The JUnit writer proper: `<testsuite>`s written as the parser finishes
//! them, element by element, in the bytes junit-report writes.
//!
//! The root element carries the totals, so it can only be written at the
//! end: the `<testsuite>`s wait as XML text in a [`Spool`] until then
//! (memory up to a few MiB, then a temporary file), and the tests they
//! were made of are freed by the parser as soon as they are written (see
//! [`crate::ktap::Options::stream`]).
//!
//! The layout is junit-report's (its quick-xml writer without
//! indentation): attributes in its order, an element without content
//! closed by `/>`, `<system-out>` as one CDATA section, a test case's
//! `time` as junit-report prints an `f64` of seconds.  Every value goes
//! through [`xml`] first.

use std::cell::{OnceCell, RefCell};
use std::io::{self, Write};

use time::format_description::well_known::Rfc3339;

use super::{
    Case, CaseFields, JunitOptions, Kind, Outcome, Totals, case_fields, fmt_ms, suite_extras,
    suite_name, tally, visit_suite,
};
use crate::ktap::Test;
use crate::writers::spool::Spool;
use crate::writers::xml;

/// `time` texts made once (milliseconds below this).
const TIMES_CACHED: u64 = 4096;

/// The end tag of a `<testsuite>` and the line break after it.
const SUITE_END: &[u8] = b"</testsuite>\n";

/// The root's end tag.
const ROOT_END: &str = "</testsuites>\n";

/// A test case's `time` as junit-report prints it: its duration in
/// seconds as an `f64` (the `time` crate's `Duration::as_seconds_f64()` of
/// the milliseconds), in Rust's shortest form.
fn seconds(ms: u64) -> String {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    let (secs, nanos) = (ms / 1000, (ms % 1000) * 1_000_000);
    (secs as f64 + nanos as f64 / 1_000_000_000.0).to_string()
}

/// How elements are written: what is the same for the whole document.
#[derive(Debug)]
struct Elements {
    /// The `timestamp` of every `<testsuite>`.
    timestamp: String,
    /// [`seconds`] of 0.. milliseconds, made when first needed.
    times: Vec<OnceCell<Box<str>>>,
    /// The last classname written and its escaped form: the test cases of
    /// a suite share it.
    classname: RefCell<(String, Vec<u8>)>,
}

impl Elements {
    fn new(opts: &JunitOptions) -> io::Result<Self> {
        let timestamp = opts
            .timestamp
            .format(&Rfc3339)
            .map_err(|e| io::Error::other(format!("timestamp {}: {e}", opts.timestamp)))?;
        Ok(Elements {
            timestamp,
            times: (0..TIMES_CACHED).map(|_| OnceCell::new()).collect(),
            classname: RefCell::default(),
        })
    }

    fn time(&self, buf: &mut Vec<u8>, ms: u64) {
        match usize::try_from(ms).ok().and_then(|i| self.times.get(i)) {
            Some(t) => buf.extend_from_slice(t.get_or_init(|| seconds(ms).into()).as_bytes()),
            None => buf.extend_from_slice(seconds(ms).as_bytes()),
        }
    }

    /// A `classname` value (escaped once per run of equal ones).
    fn classname(&self, buf: &mut Vec<u8>, classname: &str) {
        let mut last = self.classname.borrow_mut();
        let (raw, escaped) = &mut *last;
        if raw != classname {
            raw.clear();
            raw.push_str(classname);
            escaped.clear();
            xml::attr(escaped, classname);
        }
        buf.extend_from_slice(escaped);
    }

    /// A `<testcase>` element.
    fn case(&self, buf: &mut Vec<u8>, f: &CaseFields<'_>) {
        buf.extend_from_slice(b"<testcase name=\"");
        xml::attr(buf, &f.name);
        buf.extend_from_slice(b"\" time=\"");
        self.time(buf, f.time_ms);
        buf.extend_from_slice(b"\" classname=\"");
        self.classname(buf, &f.classname);
        buf.push(b'"');
        let result: &[u8] = match f.outcome {
            Outcome::Pass => b"",
            Outcome::Failure => b"<failure",
            Outcome::Error => b"<error",
            Outcome::Skipped => b"<skipped",
        };
        if result.is_empty() && f.out.is_none() {
            buf.extend_from_slice(b"/>");
            return;
        }
        buf.push(b'>');
        if !result.is_empty() {
            buf.extend_from_slice(result);
            buf.extend_from_slice(b" type=\"");
            xml::attr(buf, f.type_);
            buf.extend_from_slice(b"\" message=\"");
            xml::attr(buf, &f.message);
            buf.extend_from_slice(b"\"/>");
        }
        if let Some(out) = &f.out {
            system_out(buf, out);
        }
        buf.extend_from_slice(b"</testcase>");
    }

    /// A `<testsuite>` start tag (indented by two spaces); `package` is the
    /// suite's module, if it has one.
    fn suite_start(
        &self,
        buf: &mut Vec<u8>,
        id: usize,
        name: &str,
        package: Option<&str>,
        sum: &Totals,
    ) {
        buf.extend_from_slice(b"  <testsuite id=\"");
        buf.extend_from_slice(id.to_string().as_bytes());
        buf.extend_from_slice(b"\" name=\"");
        xml::attr(buf, name);
        buf.extend_from_slice(b"\" package=\"");
        match package {
            Some(p) => xml::attr(buf, p),
            None => {
                // junit-report's default.
                buf.extend_from_slice(b"testsuite/");
                xml::attr(buf, name);
            }
        }
        for (key, n) in [
            ("tests", sum.tests),
            ("errors", sum.errors),
            ("failures", sum.failures),
        ] {
            buf.extend_from_slice(format!("\" {key}=\"{n}").as_bytes());
        }
        buf.extend_from_slice(b"\" hostname=\"localhost\" timestamp=\"");
        buf.extend_from_slice(self.timestamp.as_bytes());
        buf.extend_from_slice(b"\" time=\"");
        buf.extend_from_slice(fmt_ms(sum.time_ms).as_bytes());
        buf.extend_from_slice(b"\">");
    }
}

/// A `<system-out>` element.
fn system_out(buf: &mut Vec<u8>, out: &str) {
    buf.extend_from_slice(b"<system-out><![CDATA[");
    buf.extend_from_slice(xml::cdata(out).as_bytes());
    buf.extend_from_slice(b"]]></system-out>");
}

/// The XML declaration and the root's start tag.
fn root_start(opts: &JunitOptions, tot: &Totals) -> Vec<u8> {
    let mut buf = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites name=\"".to_vec();
    xml::attr(&mut buf, &opts.name);
    buf.extend_from_slice(
        format!(
            "\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">\n",
            tot.tests,
            tot.failures,
            tot.errors,
            fmt_ms(tot.time_ms)
        )
        .as_bytes(),
    );
    buf
}

/// The `<testsuite>` of the top-level test cases of a run (kselftest
/// prints its results so), in the making: it stands where the first of
/// them was, so the suites after it wait until the run is over.
struct Group {
    run: usize,
    id: usize,
    sum: Totals,
    cases: Vec<u8>,
    after: Vec<u8>,
}

/// Writes the JUnit document one top-level test at a time.
///
/// Feed every top-level test (a subtest of a run) in input order with
/// [`JunitStream::test`], with the index of its run in the whole report,
/// then call [`JunitStream::finish`].
pub struct JunitStream<'w, W: Write + ?Sized> {
    sink: &'w mut W,
    opts: JunitOptions,
    elements: Elements,
    /// The `<testsuite>`s written so far.
    body: Spool,
    totals: Totals,
    next_id: usize,
    group: Option<Group>,
}

impl<'w, W: Write + ?Sized> JunitStream<'w, W> {
    /// A writer for `w`; nothing is written before [`JunitStream::finish`].
    /// Fails if the timestamp cannot be written in RFC 3339 (a year
    /// before 0 or after 9999).
    pub fn new(w: &'w mut W, opts: &JunitOptions) -> io::Result<Self> {
        Ok(JunitStream {
            sink: w,
            elements: Elements::new(opts)?,
            opts: opts.clone(),
            body: Spool::default(),
            totals: Totals::default(),
            next_id: 0,
            group: None,
        })
    }

    /// The next top-level test, of run `run` (counted from 0 over the whole
    /// report; the suites of later runs get ` (run N)` in their names).
    pub fn test(&mut self, run: usize, t: &Test) {
        if self.group.as_ref().is_some_and(|g| g.run != run) {
            self.close_group();
        }
        if t.is_parent {
            let id = self.next_id;
            self.next_id += 1;
            let out = match &mut self.group {
                Some(g) => &mut g.after,
                None => &mut self.body.mem,
            };
            let sum = write_suite(out, &self.elements, run, t, id);
            self.totals.add(&sum);
            self.body.settle();
            return;
        }
        let g = self.group.get_or_insert_with(|| {
            let id = self.next_id;
            self.next_id += 1;
            Group {
                run,
                id,
                sum: Totals::default(),
                cases: Vec::new(),
                after: Vec::new(),
            }
        });
        let c = Case {
            test: t,
            classname: &self.opts.name,
            kind: Kind::Own,
        };
        tally(&mut g.sum, &c);
        self.elements.case(&mut g.cases, &case_fields(&c));
    }

    fn close_group(&mut self) {
        let Some(g) = self.group.take() else {
            return;
        };
        let name = suite_name(&self.opts.name, g.run);
        let body = &mut self.body.mem;
        self.elements.suite_start(body, g.id, &name, None, &g.sum);
        body.extend_from_slice(&g.cases);
        body.extend_from_slice(SUITE_END);
        body.extend_from_slice(&g.after);
        self.totals.add(&g.sum);
        self.body.settle();
    }

    /// Write the document; returns its totals.
    pub fn finish(mut self) -> io::Result<Totals> {
        self.close_group();
        self.sink.write_all(&root_start(&self.opts, &self.totals))?;
        self.body.write_to(self.sink)?;
        self.sink.write_all(ROOT_END.as_bytes())?;
        Ok(self.totals)
    }
}

/// Write the `<testsuite>` (the `id`-th) of suite `t` of run `run`; returns
/// its totals.
fn write_suite(out: &mut Vec<u8>, el: &Elements, run: usize, t: &Test, id: usize) -> Totals {
    // The start tag carries the counts: count first, then write.
    let mut sum = Totals::default();
    visit_suite(t, &mut |c| tally(&mut sum, &c));
    let (package, suite_out) = suite_extras(t);
    el.suite_start(out, id, &suite_name(&t.name, run), package, &sum);
    visit_suite(t, &mut |c| el.case(out, &case_fields(&c)));
    if let Some(s) = suite_out {
        system_out(out, s);
    }
    out.extend_from_slice(SUITE_END);
    sum
}

/// Write the JUnit document for the given runs (all of a report's runs, in
/// order).
pub fn write_junit<'t, W, I>(w: &mut W, runs: I, opts: &JunitOptions) -> io::Result<()>
where
    W: Write + ?Sized,
    I: IntoIterator<Item = &'t Test>,
{
    let mut stream = JunitStream::new(w, opts)?;
    for (k, run) in runs.into_iter().enumerate() {
        for t in &run.subtests {
            stream.test(k, t);
        }
    }
    stream.finish().map(drop)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use junit_report::{Duration, Report, TestCase, TestSuite};

    use super::super::OffsetDateTime;
    use super::*;

    /// What junit-report writes for a `<testcase>` with these fields.
    fn junit_report_case(f: &CaseFields<'_>) -> String {
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
        let mut suite = TestSuite::new("s");
        suite.add_testcase(tc);
        let mut report = Report::new();
        report.add_testsuite(suite);
        let mut buf = Vec::new();
        report.write_xml(&mut buf).expect("junit-report");
        let xml = String::from_utf8(buf).expect("UTF-8");
        let from = xml.find("<testcase").expect("a test case");
        let to = xml.rfind("</testsuite>").expect("a suite");
        xml[from..to].to_owned()
    }

    /// Every element shape, with values that need every kind of escaping,
    /// gives junit-report's bytes.
    #[test]
    fn test_cases_are_written_as_junit_report_writes_them() {
        let el = Elements::new(&JunitOptions::default()).expect("elements");
        let names = [
            "plain",
            "a<b>&c'd\"e",
            "esc\u{1b}[31m nul\u{0} del\u{7f} \u{fffe}",
            "ünïcode ✓",
            "",
        ];
        let times = [
            0,
            1,
            999,
            1000,
            1234,
            TIMES_CACHED - 1,
            TIMES_CACHED,
            86_400_000,
            u64::MAX,
        ];
        for outcome in [
            Outcome::Pass,
            Outcome::Failure,
            Outcome::Error,
            Outcome::Skipped,
        ] {
            for (i, name) in names.iter().enumerate() {
                for out in [None, Some("log ]]> \u{1b} <x/> & end".to_owned())] {
                    let f = CaseFields {
                        outcome,
                        name: Cow::Borrowed(name),
                        time_ms: times[i % times.len()].saturating_add(u64::from(out.is_some())),
                        classname: Cow::Borrowed(names[(i + 1) % names.len()]),
                        type_: "failure",
                        message: Cow::Borrowed(names[(i + 2) % names.len()]),
                        out,
                    };
                    let mut ours = Vec::new();
                    el.case(&mut ours, &f);
                    assert_eq!(
                        String::from_utf8_lossy(&ours),
                        junit_report_case(&f),
                        "{outcome:?} {name:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn times_are_junit_reports() {
        let el = Elements::new(&JunitOptions::default()).expect("elements");
        let mut ms = 0u64;
        while ms < u64::MAX / 3 {
            for m in [ms, ms + 1, ms + 999] {
                let mut ours = Vec::new();
                el.time(&mut ours, m);
                let theirs = Duration::milliseconds(i64::try_from(m).unwrap_or(i64::MAX))
                    .as_seconds_f64()
                    .to_string();
                assert_eq!(String::from_utf8_lossy(&ours), theirs, "{m} ms");
            }
            ms = ms * 3 + 7;
        }
    }

    #[test]
    fn timestamps_are_junit_reports() {
        for secs in [0, 1, 1_795_608_000, 253_402_300_799, -62_167_219_200] {
            let opts = JunitOptions {
                timestamp: OffsetDateTime::from_unix_timestamp(secs).expect("in range"),
                ..JunitOptions::default()
            };
            let el = Elements::new(&opts).expect("elements");
            let mut suite = TestSuite::new("s");
            suite.set_timestamp(opts.timestamp);
            let mut report = Report::new();
            report.add_testsuite(suite);
            let mut buf = Vec::new();
            report.write_xml(&mut buf).expect("junit-report");
            let xml = String::from_utf8(buf).expect("UTF-8");
            assert!(
                xml.contains(&format!(" timestamp=\"{}\"", el.timestamp)),
                "{xml}"
            );
        }
        // Years junit-report cannot write either: an error, not a panic.
        let opts = JunitOptions {
            timestamp: OffsetDateTime::from_unix_timestamp(-62_167_219_201).expect("in range"),
            ..JunitOptions::default()
        };
        assert!(Elements::new(&opts).is_err());
    }
}
