// SPDX-License-Identifier: GPL-2.0
//! The writers: what the finished tests become.
//!
//! * [`junit`] – JUnit XML, valid against the Jenkins xUnit junit-10.xsd,
//!   in the bytes junit-report writes;
//! * [`json`] – exactly what `kunit.py parse --json` prints;
//! * [`kcidb`] – the document KernelCI's KCIDB takes (I/O schema 5.3);
//! * [`report`] – kunit.py's human report (`kunit.py parse`'s standard
//!   output): test by test, `--failed`, `--summary`;
//! * [`xml`] – the escaper every XML value goes through.
//!
//! Each takes the top-level tests one at a time as the parser hands them
//! over (see [`crate::ktap::Options::stream`]), or whole runs.

pub mod json;
pub mod junit;
pub mod kcidb;
mod plain;
pub mod report;
mod spool;
pub mod xml;

pub use spool::Deferred;
