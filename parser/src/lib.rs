// SPDX-License-Identifier: GPL-2.0
//! ktap2junit: a streaming KTAP / TAP parser compatible with the kernel's
//! `kunit.py parse`, writing JUnit XML (or kunit.py's JSON).
//!
//! Pipeline: raw bytes -> [`lexer`] (prefix stripping, line grammar) ->
//! [`tree`] (streaming state machine building the test tree) -> writers
//! ([`junit`], [`json`], [`summary`]).

pub mod json;
pub mod junit;
pub mod lexer;
pub mod summary;
pub mod tree;
pub mod xml;

use std::io::{self, BufRead};

use lexer::Lexer;
use tree::{Counts, Options, Parsed, Status, Test, TreeBuilder};

/// Longest line kept (bytes); the rest of a longer line is discarded.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Read one line (without `\n`) into `buf`, keeping at most `cap` bytes.
/// Returns `None` at end of input, otherwise whether the line was truncated.
pub fn read_line_capped<R: BufRead + ?Sized>(
    r: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Option<bool>> {
    buf.clear();
    let mut truncated = false;
    let mut any = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(any.then_some(truncated));
        }
        any = true;
        let (chunk, done, used) = match memchr::memchr(b'\n', avail) {
            Some(i) => (&avail[..i], true, i + 1),
            None => (avail, false, avail.len()),
        };
        let room = cap.saturating_sub(buf.len());
        if chunk.len() > room {
            buf.extend_from_slice(&chunk[..room]);
            truncated = true;
        } else {
            buf.extend_from_slice(chunk);
        }
        r.consume(used);
        if done {
            return Ok(Some(truncated));
        }
    }
}

/// Parse a whole input stream.  Lines are lexed and fed to the tree builder
/// as they are read.  On a read error the results seen so far are returned
/// together with the error.
pub fn parse_reader<R: BufRead>(mut r: R, opts: &Options) -> (Parsed, Option<io::Error>) {
    let mut lexer = Lexer::new();
    let mut builder = TreeBuilder::new(opts.clone());
    let mut buf = Vec::with_capacity(256);
    let mut line_no: u64 = 0;
    let mut error = None;
    let mut truncated_lines = 0u64;
    loop {
        match read_line_capped(&mut r, &mut buf, MAX_LINE_BYTES) {
            Ok(None) => break,
            Ok(Some(truncated)) => {
                line_no += 1;
                if truncated {
                    truncated_lines += 1;
                }
                // Valid UTF-8 is borrowed; invalid bytes become U+FFFD.
                let text = match std::str::from_utf8(&buf) {
                    Ok(s) => std::borrow::Cow::Borrowed(s),
                    Err(_) => String::from_utf8_lossy(&buf),
                };
                let lexed = lexer.lex(&text, builder.is_idle());
                builder.feed(&lexed, line_no);
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let mut parsed = builder.finish();
    if truncated_lines > 0 {
        parsed.warnings.push(tree::Warning {
            line: line_no,
            message: format!(
                "{truncated_lines} line(s) longer than {MAX_LINE_BYTES} bytes were truncated"
            ),
        });
    }
    (parsed, error)
}

/// Parse a string (convenience for tests and tools).
pub fn parse_str(s: &str) -> Parsed {
    parse_reader(s.as_bytes(), &Options::default()).0
}

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

    /// Overall status: SUCCESS only if every run succeeded (as kunit.py
    /// decides for its single run).
    pub fn status(&self) -> Status {
        let mut any = false;
        let mut worst: Option<Status> = None;
        for r in self.runs() {
            any = true;
            if r.status != Status::Success {
                worst = Some(match (worst, r.status) {
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
        match (any, worst) {
            (false, _) => Status::FailureToParse,
            (true, None) => Status::Success,
            (true, Some(s)) => s,
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
