// SPDX-License-Identifier: GPL-2.0
//! The short human summary printed on stderr (like kunit.py's last line).

use std::io::{self, Write};

use super::xml;
use crate::ktap::{Report, Status, Test};

/// Names listed after `Failures:` at most.
const SHOWN: usize = 10;

/// The dotted names of the first failed or crashed tests (leaf tests, and
/// suites whose own result failed), collected in input order.
#[derive(Debug, Default)]
pub struct Failures {
    /// At most `SHOWN + 1` names (one more tells that there are more).
    names: Vec<String>,
}

impl Failures {
    /// No failures yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A top-level test (a subtest of a run), in input order.
    pub fn add(&mut self, t: &Test) {
        collect(t, "", &mut self.names, SHOWN + 1);
    }
}

/// Add the dotted name of `s` (below `path`) if it failed, then those of its
/// subtests, while fewer than `max` are known.
fn collect(s: &Test, path: &str, out: &mut Vec<String>, max: usize) {
    if out.len() >= max {
        return;
    }
    // Named as its JUnit test case is.
    let name = super::junit::case_name(s);
    let full = if path.is_empty() {
        name.into_owned()
    } else {
        format!("{path}.{name}")
    };
    if (s.subtests.is_empty() || s.own_failure || s.own_crash)
        && !s.status.is_ok()
        && s.status != Status::NoTests
    {
        out.push(full.clone());
    }
    for c in &s.subtests {
        collect(c, &full, out, max);
    }
}

/// Write `Testing complete. Ran N tests: passed: X, ...` plus the names of
/// up to ten failed or crashed tests.
pub fn write_summary<W: Write + ?Sized>(
    w: &mut W,
    report: &Report,
    failures: &Failures,
) -> io::Result<()> {
    for (name, parsed) in &report.inputs {
        if parsed
            .runs
            .iter()
            .any(|r| r.status == Status::FailureToParse)
        {
            writeln!(
                w,
                "{}: could not find any KTAP output. Did any KUnit tests run?",
                xml::text(name)
            )?;
        }
    }
    let counts = report.counts();
    writeln!(w, "Testing complete. {counts}")?;
    let names = &failures.names;
    if !names.is_empty() {
        let more = if names.len() > SHOWN { ", ..." } else { "" };
        let shown = &names[..names.len().min(SHOWN)];
        // Names come from the log: escape control characters (ESC...).
        writeln!(w, "Failures: {}{more}", xml::text(&shown.join(", ")))?;
    }
    Ok(())
}
