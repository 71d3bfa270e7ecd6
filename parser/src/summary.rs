// SPDX-License-Identifier: GPL-2.0
//! The short human summary printed on stderr (like kunit.py's last line).

use std::io::{self, Write};

use crate::Report;
use crate::tree::{Status, Test};
use crate::xml;

/// Dotted names of failed/crashed leaf tests (at most `max`).
fn failures(t: &Test, path: &str, out: &mut Vec<String>, max: usize) {
    for s in &t.subtests {
        if out.len() >= max {
            return;
        }
        let name = if s.missing {
            format!("test {} (missing)", s.number)
        } else {
            s.name.clone()
        };
        let full = if path.is_empty() {
            name
        } else {
            format!("{path}.{name}")
        };
        if (s.subtests.is_empty() || s.own_failure || s.own_crash)
            && !s.status.is_ok()
            && s.status != Status::NoTests
        {
            out.push(full.clone());
        }
        if !s.subtests.is_empty() {
            failures(s, &full, out, max);
        }
    }
}

/// Write `Testing complete. Ran N tests: passed: X, ...` plus the names of
/// up to ten failed or crashed tests.
pub fn write_summary<W: Write + ?Sized>(w: &mut W, report: &Report) -> io::Result<()> {
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
    let mut names = Vec::new();
    for run in report.runs() {
        failures(run, "", &mut names, 11);
    }
    if !names.is_empty() {
        let more = if names.len() > 10 { ", ..." } else { "" };
        names.truncate(10);
        // Names come from the log: escape control characters (ESC...).
        writeln!(w, "Failures: {}{more}", xml::text(&names.join(", ")))?;
    }
    Ok(())
}
