// SPDX-License-Identifier: GPL-2.0
//! The JUnit writer proper: `<testsuite>`s written as the parser finishes
//! them.
//!
//! The root element carries the totals, so it can only be written at the
//! end: the `<testsuite>`s wait as XML text in a [`Spool`] until then
//! (memory up to a few MiB, then a temporary file), and the tests they
//! were made of are freed by the parser as soon as they are written (see
//! [`crate::tree::Options::stream`]).

use std::io::{self, Write};

use super::spool::Spool;
use super::templates::{SUITE_END, Templates};
use super::{
    Case, JunitOptions, Kind, ROOT_END, Totals, case_fields, root_start, suite_extras, suite_name,
    tally, visit_suite,
};
use crate::tree::Test;

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
/// then call [`JunitStream::finish`].  The bytes are those of
/// [`super::write_junit_reference`] for the same runs.
pub struct JunitStream<'w, W: Write + ?Sized> {
    sink: &'w mut W,
    opts: JunitOptions,
    templates: Templates,
    /// The `<testsuite>`s written so far.
    body: Spool,
    totals: Totals,
    next_id: usize,
    group: Option<Group>,
}

impl<'w, W: Write + ?Sized> JunitStream<'w, W> {
    /// A writer for `w`; nothing is written before [`JunitStream::finish`].
    pub fn new(w: &'w mut W, opts: &JunitOptions) -> io::Result<Self> {
        Ok(JunitStream {
            sink: w,
            templates: Templates::new(opts.timestamp)?,
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
            let sum = write_suite(out, &self.templates, run, t, id);
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
        self.templates.case(&mut g.cases, &case_fields(&c));
    }

    fn close_group(&mut self) {
        let Some(g) = self.group.take() else {
            return;
        };
        let name = suite_name(&self.opts.name, g.run);
        let body = &mut self.body.mem;
        self.templates.suite_start(body, g.id, &name, None, &g.sum);
        body.extend_from_slice(&g.cases);
        body.extend_from_slice(SUITE_END);
        body.extend_from_slice(&g.after);
        self.totals.add(&g.sum);
        self.body.settle();
    }

    /// Write the document; returns its totals.
    pub fn finish(mut self) -> io::Result<Totals> {
        self.close_group();
        self.sink
            .write_all(root_start(&self.opts, &self.totals).as_bytes())?;
        self.body.write_to(self.sink)?;
        self.sink.write_all(ROOT_END.as_bytes())?;
        Ok(self.totals)
    }
}

/// Write the `<testsuite>` (the `id`-th) of suite `t` of run `run`; returns
/// its totals.
fn write_suite(out: &mut Vec<u8>, tpl: &Templates, run: usize, t: &Test, id: usize) -> Totals {
    // The start tag carries the counts: count first, then write.
    let mut sum = Totals::default();
    visit_suite(t, &mut |c| tally(&mut sum, &c));
    let (package, suite_out) = suite_extras(t);
    tpl.suite_start(out, id, &suite_name(&t.name, run), package.as_deref(), &sum);
    visit_suite(t, &mut |c| tpl.case(out, &case_fields(&c)));
    if let Some(s) = suite_out {
        tpl.suite_out(out, &s);
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
