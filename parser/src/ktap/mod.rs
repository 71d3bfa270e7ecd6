// SPDX-License-Identifier: GPL-2.0
//! The semantic core: kunit_parser.py's reading of KTAP, a line at a time.
//!
//! Read it in this order:
//!
//! * `grammar` – what one line is: version line,
//!   `# Subtest:` header, plan, result line (with its directive), or a
//!   diagnostic; `nom` productions after kunit's regular expressions;
//! * `lexer` – `extract_tap_lines()`: where the KTAP output
//!   starts and ends in a kernel log, and the prefix stripped from its
//!   lines; gives [`Lexed`] lines;
//! * `tree` – `parse_test()`: the tree of tests built from
//!   the lexed lines, with kunit's statuses, counts and errors;
//! * `test` – what the tree is made of: [`Test`],
//!   [`Status`], [`Counts`];
//! * `report` – the overall status of several inputs.
//!
//! Beside them: `log` (a test's log lines, capped),
//! `recycle` (memory of finished tests, reused) and
//! `shortcut` (a byte-level path through the grammar for
//! the commonest result line) serve speed and memory, not meaning.
//!
//! Nothing here reads input or writes output, and nothing here knows how
//! the input is read: the reader layer (`crate::reader`) splits the input
//! into lines and drives the core through a narrow seam,
//!
//! * [`Lexer::lex`] (or `Lexer::lex_prelexed`, with the state-independent
//!   part of lexing done ahead, and the lexer state snapshots that let
//!   another thread lex ahead),
//! * [`TreeBuilder::feed`] (and `TreeBuilder::feed_plain_log` for the
//!   commonest line, and `TreeBuilder::lend` to keep log lines as ranges
//!   of the reader's text),
//! * [`TreeBuilder::hand_over`] and [`TreeBuilder::finish`];
//!
//! the writers (`crate::writers`) take the finished tests.

mod grammar;
mod lexer;
mod log;
mod recycle;
mod report;
mod shortcut;
mod test;
mod tree;

pub use grammar::{Directive, Line, ResultLine, VersionKind};
pub use lexer::{Lexed, Lexer};
pub use report::Report;
pub use test::{Counts, Details, ErrorAt, ParseError, Parsed, Status, Test, Warning};
pub use tree::{Options, TreeBuilder};

pub(crate) use grammar::{END_MARKERS, is_ascii_py_space, py_rstrip, scan_kernel_tokens};
pub(crate) use lexer::{LexerState, Prelexed, VERSION_MARKER};
#[cfg(test)]
pub(crate) use {grammar::has_end_marker, lexer::prelex};
