// SPDX-License-Identifier: GPL-2.0
//! Element templates cut from junit-report's own output.
//!
//! Building a junit-report `TestCase` and having it written costs about
//! 6300 instructions, more than parsing the test.  So junit-report renders
//! one prototype of each element shape, with marker strings in place of
//! the values (and a marker duration as the time), and the prototype is
//! cut at the markers into literal text and slots.  Writing a test case is
//! then copying the text and putting each value, escaped the way quick-xml
//! (junit-report's writer) escapes attribute values, into its slot: the
//! same bytes as junit-report's, at about 1100 instructions (counts,
//! failure messages and the suite's own tags included).
//!
//! The shapes: a test case for each result element (none, `<failure>`,
//! `<error>`, `<skipped>`), with or without `<system-out>`; the start tag
//! of a `<testsuite>`, whose attributes are read one by one (its counts
//! are junit-report's own, so they cannot carry markers); a suite's
//! `<system-out>`.  junit-report output that cannot be cut that way (an
//! unknown `<testsuite>` attribute, a marker missing) is an error, never a
//! silently wrong report.

use std::cell::{OnceCell, RefCell};
use std::io;

use junit_report::{OffsetDateTime, TestSuite};

use super::reference::{duration, invalid, render, test_case};
use super::{CaseFields, Outcome, Totals, fmt_ms};
use crate::xml;

/// What goes into a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    // Test case.
    Name,
    Time,
    Classname,
    Type,
    Message,
    /// CDATA content (of a test case or a suite).
    Out,
    // Suite start tag.
    Id,
    SuiteName,
    Package,
    Tests,
    Errors,
    Failures,
    SuiteTime,
}

#[derive(Debug)]
enum Piece {
    Text(Box<[u8]>),
    Slot(Slot),
}

/// Literal text and slots, in order.
#[derive(Debug, Default)]
struct Template(Vec<Piece>);

impl Template {
    fn text(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(Piece::Text(t)) = self.0.last_mut() {
            let mut v = std::mem::take(t).into_vec();
            v.extend_from_slice(s.as_bytes());
            *t = v.into_boxed_slice();
        } else {
            self.0.push(Piece::Text(s.as_bytes().into()));
        }
    }

    fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        self.0.iter().filter_map(|p| match p {
            Piece::Slot(s) => Some(*s),
            Piece::Text(_) => None,
        })
    }

    /// Cut `text` at every occurrence of the markers.
    fn cut(text: &str, markers: &[(&str, Slot)]) -> Template {
        let mut t = Template::default();
        let mut rest = text;
        loop {
            let next = markers
                .iter()
                .filter_map(|&(m, slot)| rest.find(m).map(|at| (at, m.len(), slot)))
                .min_by_key(|&(at, _, _)| at);
            let Some((at, len, slot)) = next else {
                t.text(rest);
                return t;
            };
            t.text(&rest[..at]);
            t.0.push(Piece::Slot(slot));
            rest = &rest[at + len..];
        }
    }

    /// Write the template, each slot filled by `fill`.
    #[inline]
    fn write(&self, buf: &mut Vec<u8>, mut fill: impl FnMut(&mut Vec<u8>, Slot)) {
        for p in &self.0 {
            match p {
                Piece::Text(t) => buf.extend_from_slice(t),
                Piece::Slot(s) => fill(buf, *s),
            }
        }
    }
}

const NAME: &str = "@ktap2junit:name@";
const CLASSNAME: &str = "@ktap2junit:classname@";
const TYPE: &str = "@ktap2junit:type@";
const MESSAGE: &str = "@ktap2junit:message@";
const OUT: &str = "@ktap2junit:out@";
const SUITE_NAME: &str = "@ktap2junit:suite@";
/// A time no real test gets, found in the prototype by its text.
const TIME_MS: u64 = 4_242_424_242;

/// `time` texts computed in advance (milliseconds below this).
const TIMES_CACHED: u64 = 4096;

/// Templates of every element shape, for one [`super::JunitOptions`]
/// timestamp.
#[derive(Debug)]
pub(super) struct Templates {
    /// Test cases, indexed by [`case_index`].
    cases: Vec<Template>,
    suite: SuiteTemplates,
    /// junit-report's text of the `time` of 0.. milliseconds, made when
    /// first needed.
    times: Vec<OnceCell<Box<str>>>,
    /// The last classname written and its escaped form: the test cases
    /// of a suite share it.
    classname: RefCell<(String, Vec<u8>)>,
}

fn case_index(outcome: Outcome, out: bool) -> usize {
    outcome as usize * 2 + usize::from(out)
}

/// junit-report's text of a test case's `time` (`f64` seconds).
fn junit_time(ms: u64) -> String {
    duration(ms).as_seconds_f64().to_string()
}

/// The part of `xml` from `start` up to the last `</testsuite>`.
fn between<'x>(xml: &'x str, start: &str) -> io::Result<&'x str> {
    let from = xml
        .find(start)
        .ok_or_else(|| invalid(format!("no {start} in {xml}")))?;
    let to = xml
        .rfind("</testsuite>")
        .filter(|&to| to >= from)
        .ok_or_else(|| invalid(format!("no </testsuite> in {xml}")))?;
    Ok(&xml[from..to])
}

/// The template of a test case with this result element.
fn case_template(outcome: Outcome, with_out: bool) -> io::Result<Template> {
    let proto = CaseFields {
        outcome,
        name: NAME.into(),
        time_ms: TIME_MS,
        classname: CLASSNAME,
        type_: TYPE,
        message: MESSAGE.into(),
        out: with_out.then(|| OUT.to_owned()),
    };
    let mut suite = TestSuite::new("prototype");
    suite.add_testcase(test_case(&proto));
    let xml = render(suite)?;
    let time = junit_time(TIME_MS);
    let t = Template::cut(
        between(&xml, "<testcase")?,
        &[
            (NAME, Slot::Name),
            (&time, Slot::Time),
            (CLASSNAME, Slot::Classname),
            (TYPE, Slot::Type),
            (MESSAGE, Slot::Message),
            (OUT, Slot::Out),
        ],
    );
    let mut want = vec![Slot::Name, Slot::Time, Slot::Classname];
    if outcome != Outcome::Pass {
        want.extend([Slot::Type, Slot::Message]);
    }
    if with_out {
        want.push(Slot::Out);
    }
    let mut got: Vec<Slot> = t.slots().collect();
    got.sort_by_key(|s| *s as usize);
    if got != want {
        return Err(invalid(format!("test case slots {got:?} in {xml}")));
    }
    Ok(t)
}

/// The templates of a `<testsuite>`.
#[derive(Debug)]
struct SuiteTemplates {
    /// The start tag, indented by two spaces.
    start: Template,
    /// The `package` of a suite that has no `# module:` (junit-report's
    /// default, made of the name).
    default_package: Template,
    /// Its `<system-out>`.
    out: Template,
}

/// Cut the templates of a `<testsuite>` from junit-report's prototype.
fn suite_templates(timestamp: OffsetDateTime) -> io::Result<SuiteTemplates> {
    // The package is left at junit-report's default, which is made of the
    // name: the template of that default is cut from it.
    let mut suite = TestSuite::new(SUITE_NAME);
    suite.set_timestamp(timestamp);
    suite.set_system_out(OUT);
    let xml = render(suite)?;
    let element = between(&xml, "<testsuite ")?;
    let end = element
        .find('>')
        .ok_or_else(|| invalid(format!("unterminated <testsuite> in {xml}")))?;
    let (tag, out) = (&element[..end], &element[end + 1..]);

    let mut start = Template::default();
    start.text("  <testsuite");
    let mut rest = &tag["<testsuite".len()..];
    let mut seen = Vec::new();
    let mut default_package = Template::default();
    while !rest.is_empty() {
        let attr = rest
            .strip_prefix(' ')
            .and_then(|r| r.split_once("=\""))
            .and_then(|(key, r)| r.split_once('"').map(|(value, r)| (key, value, r)));
        let Some((key, value, r)) = attr else {
            return Err(invalid(format!("<testsuite> attributes in {xml}")));
        };
        rest = r;
        start.text(&format!(" {key}=\""));
        let slot = match key {
            "id" => Slot::Id,
            "name" if value == SUITE_NAME => Slot::SuiteName,
            "package" => {
                default_package = Template::cut(value, &[(SUITE_NAME, Slot::SuiteName)]);
                Slot::Package
            }
            "tests" => Slot::Tests,
            "errors" => Slot::Errors,
            "failures" => Slot::Failures,
            "time" => Slot::SuiteTime,
            // The same for every suite.
            "hostname" | "timestamp" => {
                start.text(value);
                start.text("\"");
                continue;
            }
            _ => return Err(invalid(format!("<testsuite> attribute {key} in {xml}"))),
        };
        seen.push(slot);
        start.0.push(Piece::Slot(slot));
        start.text("\"");
    }
    start.text(">");
    for slot in [
        Slot::Id,
        Slot::SuiteName,
        Slot::Package,
        Slot::Tests,
        Slot::SuiteTime,
    ] {
        if !seen.contains(&slot) {
            return Err(invalid(format!("no <testsuite> {slot:?} in {xml}")));
        }
    }
    let out = Template::cut(out, &[(OUT, Slot::Out)]);
    if out.slots().count() != 1 {
        return Err(invalid(format!("suite <system-out> in {xml}")));
    }
    Ok(SuiteTemplates {
        start,
        default_package,
        out,
    })
}

/// An attribute value the way quick-xml writes it (after [`xml::text`]).
#[inline]
fn attr(buf: &mut Vec<u8>, s: &str) {
    if xml::is_plain_attr(s.as_bytes()) {
        buf.extend_from_slice(s.as_bytes());
    } else {
        buf.extend_from_slice(quick_xml::escape::escape(xml::text(s)).as_bytes());
    }
}

fn number(buf: &mut Vec<u8>, n: impl std::fmt::Display) {
    use std::io::Write as _;
    let _ = write!(buf, "{n}");
}

impl Templates {
    /// Have junit-report render the prototypes and cut them.
    pub(super) fn new(timestamp: OffsetDateTime) -> io::Result<Self> {
        let mut cases = Vec::new();
        for outcome in Outcome::ALL {
            for with_out in [false, true] {
                debug_assert_eq!(cases.len(), case_index(outcome, with_out));
                cases.push(case_template(outcome, with_out)?);
            }
        }
        Ok(Templates {
            cases,
            suite: suite_templates(timestamp)?,
            times: (0..TIMES_CACHED).map(|_| OnceCell::new()).collect(),
            classname: RefCell::default(),
        })
    }

    fn time(&self, buf: &mut Vec<u8>, ms: u64) {
        match usize::try_from(ms).ok().and_then(|i| self.times.get(i)) {
            Some(t) => buf.extend_from_slice(t.get_or_init(|| junit_time(ms).into()).as_bytes()),
            None => buf.extend_from_slice(junit_time(ms).as_bytes()),
        }
    }

    /// Write a `<testcase>` element.
    pub(super) fn case(&self, buf: &mut Vec<u8>, f: &CaseFields<'_>) {
        let t = &self.cases[case_index(f.outcome, f.out.is_some())];
        t.write(buf, |buf, slot| match slot {
            Slot::Name => attr(buf, &f.name),
            Slot::Time => self.time(buf, f.time_ms),
            Slot::Classname => {
                let mut last = self.classname.borrow_mut();
                let (raw, escaped) = &mut *last;
                if raw != f.classname {
                    raw.clear();
                    raw.push_str(f.classname);
                    escaped.clear();
                    attr(escaped, f.classname);
                }
                buf.extend_from_slice(escaped);
            }
            Slot::Type => attr(buf, f.type_),
            Slot::Message => attr(buf, &f.message),
            Slot::Out => buf.extend_from_slice(f.out.as_deref().unwrap_or("").as_bytes()),
            _ => {}
        });
    }

    /// Write a `<testsuite>` start tag; `package` is the suite's module,
    /// if it has one.
    pub(super) fn suite_start(
        &self,
        buf: &mut Vec<u8>,
        id: usize,
        name: &str,
        package: Option<&str>,
        sum: &Totals,
    ) {
        self.suite.start.write(buf, |buf, slot| match slot {
            Slot::Id => number(buf, id),
            Slot::SuiteName => attr(buf, name),
            Slot::Package => match package {
                Some(p) => attr(buf, p),
                None => self.suite.default_package.write(buf, |buf, slot| {
                    if slot == Slot::SuiteName {
                        attr(buf, name);
                    }
                }),
            },
            Slot::Tests => number(buf, sum.tests),
            Slot::Errors => number(buf, sum.errors),
            Slot::Failures => number(buf, sum.failures),
            Slot::SuiteTime => buf.extend_from_slice(fmt_ms(sum.time_ms).as_bytes()),
            _ => {}
        });
    }

    /// Write a suite's `<system-out>` (`out` CDATA-safe).
    pub(super) fn suite_out(&self, buf: &mut Vec<u8>, out: &str) {
        self.suite.out.write(buf, |buf, slot| {
            if slot == Slot::Out {
                buf.extend_from_slice(out.as_bytes());
            }
        });
    }
}

/// The end tag of a `<testsuite>` and the line break after it.
pub(super) const SUITE_END: &[u8] = b"</testsuite>\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutting_finds_every_marker_in_order() {
        let t = Template::cut(
            "<a x=\"@1\" y=\"@2\">@1</a>",
            &[("@1", Slot::Name), ("@2", Slot::Out)],
        );
        let mut buf = Vec::new();
        t.write(&mut buf, |buf, s| {
            buf.extend_from_slice(format!("{s:?}").as_bytes())
        });
        assert_eq!(buf, b"<a x=\"Name\" y=\"Out\">Name</a>");
        assert_eq!(t.slots().count(), 3);
    }

    /// Every shape, with values that need every kind of escaping, gives
    /// junit-report's bytes.
    #[test]
    fn test_cases_are_written_as_junit_report_writes_them() {
        let tpl = Templates::new(OffsetDateTime::UNIX_EPOCH).expect("templates");
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
        ];
        for outcome in Outcome::ALL {
            for (i, name) in names.iter().enumerate() {
                for out in [None, Some(xml::cdata("log ]]> \u{1b} <x/> & end"))] {
                    let f = CaseFields {
                        outcome,
                        name: (*name).into(),
                        time_ms: times[i % times.len()] + u64::from(out.is_some()),
                        classname: names[(i + 1) % names.len()],
                        type_: "failure",
                        message: names[(i + 2) % names.len()].into(),
                        out,
                    };
                    let mut ours = Vec::new();
                    tpl.case(&mut ours, &f);
                    let mut suite = TestSuite::new("s");
                    suite.add_testcase(test_case(&f));
                    let theirs = render(suite).expect("junit-report");
                    let theirs = between(&theirs, "<testcase").expect("test case");
                    assert_eq!(
                        String::from_utf8_lossy(&ours),
                        theirs,
                        "{outcome:?} {name:?}"
                    );
                }
            }
        }
        for ms in times {
            let mut ours = Vec::new();
            tpl.time(&mut ours, ms);
            assert_eq!(String::from_utf8_lossy(&ours), junit_time(ms));
        }
    }
}
