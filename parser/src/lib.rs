// SPDX-License-Identifier: GPL-2.0
//! ktap2junit: a streaming KTAP / TAP parser compatible with the kernel's
//! `kunit.py parse`, writing JUnit XML (or kunit.py's JSON), and KCIDB.
//!
//! Three layers, each using only the ones before it:
//!
//! * [`ktap`] – the semantic core: kunit_parser.py's line grammar, prefix
//!   stripping (`extract_tap_lines()`) and tree building (`parse_test()`),
//!   fed a line at a time, with its statuses and counts;
//! * the reader ([`parse_reader`], [`parse_threaded`]) – the input cut
//!   into chunks of lines, scanned with SIMD and lexed ahead in worker
//!   threads, fed to the core;
//! * [`writers`] – JUnit, kunit.py's JSON, KCIDB and the summary, from
//!   the finished tests.
//!
//! The binary (`main.rs`) parses its arguments and connects them.

pub mod ktap;
mod reader;
pub mod writers;

pub use reader::{
    MAX_LINE_BYTES, RawOutput, parse_reader, parse_reader_with, parse_threaded,
    parse_threaded_with, raw_output,
};

/// Parse a string (convenience for tests and tools).
pub fn parse_str(s: &str) -> ktap::Parsed {
    parse_reader(s.as_bytes(), &ktap::Options::default()).0
}
