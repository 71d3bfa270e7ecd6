// SPDX-License-Identifier: GPL-2.0
//! The results of all inputs, and the overall status and exit code.

use super::test::{Counts, Parsed, Status, Test};

/// Results of all inputs.
#[derive(Debug, Default)]
pub struct Report {
    /// (input name, parsed result) per input, in order.
    pub inputs: Vec<(String, Parsed)>,
}

impl Report {
    /// All runs of all inputs, in order.
    pub fn runs(&self) -> impl Iterator<Item = &Test> {
        self.inputs.iter().flat_map(|(_, p)| p.runs.iter())
    }

    /// Counts summed over all runs.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in self.runs() {
            c.add(&r.counts);
        }
        c
    }

    /// Overall status: the worst status of any run; a run whose tests were
    /// all skipped only counts when every run was (kunit.py decides so for
    /// its single run).  A boot log with a fully skipped suite printed by a
    /// driver next to KUnit's passing run is a success.
    pub fn status(&self) -> Status {
        let mut any = false;
        let mut all_skipped = true;
        let mut worst: Option<Status> = None;
        for r in self.runs() {
            any = true;
            match r.status {
                Status::Success => all_skipped = false,
                Status::Skipped => {}
                status => {
                    all_skipped = false;
                    worst = Some(match (worst, status) {
                        (_, Status::Crashed) | (Some(Status::Crashed), _) => Status::Crashed,
                        (_, Status::Failure) | (Some(Status::Failure), _) => Status::Failure,
                        (_, Status::FailureToParse) | (Some(Status::FailureToParse), _) => {
                            Status::FailureToParse
                        }
                        (_, Status::NoTests) | (Some(Status::NoTests), _) => Status::NoTests,
                        (_, s) => s,
                    });
                }
            }
        }
        match (any, worst) {
            (false, _) => Status::FailureToParse,
            (true, Some(s)) => s,
            (true, None) if all_skipped => Status::Skipped,
            (true, None) => Status::Success,
        }
    }

    /// Exit code for the results: 0 if the status is SUCCESS, else 1.
    pub fn exit_code(&self) -> i32 {
        if self.status() == Status::Success {
            0
        } else {
            1
        }
    }
}
