// SPDX-License-Identifier: GPL-2.0
//! Lexing ahead: a chunk's lines lexed by a worker, before the tree
//! builder gets to them.
//!
//! The worker has its own [`Lexer`] and cannot know one thing the tree
//! builder knows: whether the builder will be idle at a line (between
//! runs), which decides whether a version line with a new prefix starts a
//! run.  It lexes as if the builder will not be, which is right except for
//! lines with `VERSION_MARKER` while the builder is idle; the tree side
//! (`super::Sink::build`) lexes those itself.  A lexed line borrows its
//! line, so it crosses threads as a [`Token`] (byte ranges of the line);
//! the commonest line, a plain log line, as a smaller [`PlainLog`].
//!
//! The state-independent part of lexing ([`prelex`]) reads printk's own
//! timestamp layout first ([`super::printk`]) and is told by the line scan
//! whether the line can hold an end marker at all ([`END_MARKER_BYTES`]).

use crate::ktap::{
    self, Directive, END_MARKERS, Lexed, Lexer, Line, Prelexed, ResultLine, VersionKind,
    is_ascii_py_space, py_rstrip,
};

use super::printk::{fast_printk_time, printk_time_fixed};
use super::{Chunk, ChunkLine, LineAhead, lines::Lines};

/// Every one of the [`END_MARKERS`] contains one of these bytes: their
/// distinctive capitals `L`, `K` and the `S` of `System`.
pub(super) const END_MARKER_BYTES: [u8; 3] = [b'L', b'K', b'S'];

/// Whether `raw` contains one of the [`END_MARKERS`]: one `memchr3` pass
/// finds the candidate positions ([`END_MARKER_BYTES`]; the `S` of
/// `System` is 8 bytes into its marker).
#[inline]
pub(super) fn has_end_marker(raw: &str) -> bool {
    let b = raw.as_bytes();
    let [list, panic, halted] = END_MARKERS.map(str::as_bytes);
    let [l, k, s] = END_MARKER_BYTES;
    memchr::memchr3_iter(l, k, s, b).any(|i| match b[i] {
        b'L' => b[i..].starts_with(list),
        b'K' => b[i..].starts_with(panic),
        _ => i >= 8 && b[i - 8..].starts_with(halted),
    })
}

/// `ktap::prelex(raw)` for a line of which the caller knows whether it
/// contains an end marker, printk's own timestamp layout read first.
#[inline]
pub(super) fn prelex(raw: &str, end_marker: bool) -> Prelexed {
    let stripped = py_rstrip(raw);
    // A timestamp in printk's layout ends with its `]` (no whitespace), so
    // it is the same with or without the line's trailing whitespace.
    let tokens = printk_time_fixed(raw.as_bytes()).or_else(|| {
        if stripped.starts_with(['[', '<']) {
            fast_printk_time(stripped.as_bytes()).or_else(|| ktap::scan_kernel_tokens(stripped))
        } else {
            None
        }
    });
    Prelexed {
        len: stripped.len(),
        tokens,
        end_marker,
    }
}

/// Byte range of `inner` within `outer` (`inner` must be a slice of `outer`,
/// or empty).
fn span(outer: &str, inner: &str) -> (u32, u32) {
    if inner.is_empty() {
        return (0, 0);
    }
    let start = (inner.as_ptr() as usize).wrapping_sub(outer.as_ptr() as usize);
    debug_assert!(
        start + inner.len() <= outer.len(),
        "not a slice of the line"
    );
    // A line is shorter than a chunk, far shorter than 4 GiB.
    (start as u32, (start + inner.len()) as u32)
}

/// `outer[range]` (see [`span`]).
#[inline]
fn unspan(outer: &str, (start, end): (u32, u32)) -> &str {
    &outer[start as usize..end as usize]
}

/// What a [`Token`] is: [`Line`] with byte ranges instead of slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Version {
        kind: VersionKind,
        version: u64,
    },
    Subtest((u32, u32)),
    Plan(u64),
    Result {
        ok: bool,
        number: u64,
        plain_name: (u32, u32),
        name: (u32, u32),
        directive: Option<Directive>,
        reason: (u32, u32),
        kunit_skip: bool,
    },
    Diagnostic,
    ExecutorError,
    End,
    Outside,
}

/// A [`Lexed`] line that does not borrow the line (byte ranges into it), so
/// that lines can be lexed ahead in another thread and handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token {
    kind: TokenKind,
    text: (u32, u32),
    indent: usize,
    timestamp: Option<u64>,
    malformed_result: bool,
}

impl Token {
    /// `lexed`, a lexed form of the line `raw`, as a token.
    pub(super) fn of(raw: &str, lexed: &Lexed<'_>) -> Token {
        let kind = match &lexed.line {
            Line::Version { kind, version } => TokenKind::Version {
                kind: *kind,
                version: *version,
            },
            Line::Subtest(name) => TokenKind::Subtest(span(raw, name)),
            Line::Plan(n) => TokenKind::Plan(*n),
            Line::Result(r) => TokenKind::Result {
                ok: r.ok,
                number: r.number,
                plain_name: span(raw, r.plain_name),
                name: span(raw, r.name),
                directive: r.directive,
                reason: span(raw, r.reason),
                kunit_skip: r.kunit_skip,
            },
            Line::Diagnostic => TokenKind::Diagnostic,
            Line::ExecutorError => TokenKind::ExecutorError,
            Line::End => TokenKind::End,
            Line::Outside => TokenKind::Outside,
        };
        Token {
            kind,
            text: span(raw, lexed.text),
            indent: lexed.indent,
            timestamp: lexed.timestamp,
            malformed_result: lexed.malformed_result,
        }
    }

    /// The lexed line again (`raw` must be the line the token was made of).
    #[inline]
    pub(super) fn lexed<'a>(&self, raw: &'a str) -> Lexed<'a> {
        let line = match self.kind {
            TokenKind::Version { kind, version } => Line::Version { kind, version },
            TokenKind::Subtest(name) => Line::Subtest(unspan(raw, name)),
            TokenKind::Plan(n) => Line::Plan(n),
            TokenKind::Result {
                ok,
                number,
                plain_name,
                name,
                directive,
                reason,
                kunit_skip,
            } => Line::Result(ResultLine {
                ok,
                number,
                plain_name: unspan(raw, plain_name),
                name: unspan(raw, name),
                directive,
                reason: unspan(raw, reason),
                kunit_skip,
            }),
            TokenKind::Diagnostic => Line::Diagnostic,
            TokenKind::ExecutorError => Line::ExecutorError,
            TokenKind::End => Line::End,
            TokenKind::Outside => Line::Outside,
        };
        Lexed {
            line,
            text: unspan(raw, self.text),
            indent: self.indent,
            timestamp: self.timestamp,
            malformed_result: self.malformed_result,
        }
    }
}

/// A plain log line lexed ahead: a [`Line::Diagnostic`] whose first
/// character after the prefix and the indentation is ASCII and cannot
/// start a KTAP line (so it is no KTAP attribute either), in a run whose
/// prefix is kernel tokens (a boot log or dmesg).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PlainLog {
    /// Byte range of the text (the line without its prefix) in the line.
    pub(super) text: (u32, u32),
    /// printk timestamp of the line in microseconds, if it had one.
    pub(super) timestamp: Option<u64>,
}

impl PlainLog {
    /// The line, if it is a plain log line for `lexer` (whose state is the
    /// run's): the same as `Lexer::lex_prelexed(raw, pre, false)` gives,
    /// without the general path (tested).
    #[inline]
    fn of(lexer: &Lexer, raw: &str, pre: Prelexed) -> Option<PlainLog> {
        let token_prefix_ws = lexer.token_prefix()?;
        let (tokens, timestamp) = pre.tokens?;
        if pre.end_marker {
            return None;
        }
        let line = raw.as_bytes().get(..pre.len)?;
        let rest = line.get(tokens..)?;
        // The prefix's whitespace (at most `token_prefix_ws` characters).
        let mut cut = 0;
        while cut < token_prefix_ws && rest.get(cut).copied().is_some_and(is_ascii_py_space) {
            cut += 1;
        }
        let text = &rest[cut..];
        let mut ws = 0;
        while text.get(ws).copied().is_some_and(is_ascii_py_space) {
            ws += 1;
        }
        // A non-ASCII byte may be Unicode whitespace: the general path.
        match text.get(ws) {
            None | Some(b'K' | b'T' | b'#' | b'1' | b'o' | b'n' | 0x80..) => return None,
            Some(_) => {}
        }
        // Lines are shorter than a chunk, far shorter than 4 GiB.
        Some(PlainLog {
            text: ((tokens + cut) as u32, pre.len as u32),
            timestamp,
        })
    }

    /// The lexed line (`raw` must be the line it was made of).
    #[inline]
    pub(super) fn lexed<'a>(&self, raw: &'a str) -> Lexed<'a> {
        let text = unspan(raw, self.text);
        Lexed {
            line: Line::Diagnostic,
            text,
            // Its indentation is ASCII whitespace.
            indent: text.bytes().take_while(|&b| is_ascii_py_space(b)).count(),
            timestamp: self.timestamp,
            malformed_result: false,
        }
    }
}

/// A line lexed ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ahead {
    /// A plain log line.
    Log(PlainLog),
    /// Any line.
    Token(Token),
}

/// Lex `raw` ahead: `end_marker` tells whether it contains an end marker.
#[inline]
pub(super) fn lex_line(lexer: &mut Lexer, raw: &str, end_marker: bool) -> Ahead {
    let pre = prelex(raw, end_marker);
    match PlainLog::of(lexer, raw, pre) {
        Some(log) => Ahead::Log(log),
        None => Ahead::Token(Token::of(raw, &lexer.lex_prelexed(raw, pre, false))),
    }
}

/// Lex the lines of `chunk.text` ahead with `lexer`, whose state is the
/// one after the previous chunk, into `chunk.lines` and `chunk.tokens`,
/// noting the lexer's state changes in `chunk.states`.
pub(super) fn lex_lines(lexer: &mut Lexer, chunk: &mut Chunk) {
    chunk.start = lexer.state();
    let text = chunk.text.as_str();
    chunk.lines.clear();
    chunk.tokens.clear();
    chunk.states.clear();
    let mut start = 0;
    for (nl, flagged) in Lines::new(text.as_bytes(), END_MARKER_BYTES) {
        let raw = &text[start..nl];
        // Only a line with one of these bytes can contain an end marker.
        let end_marker = flagged && has_end_marker(raw);
        let generation = lexer.generation();
        let ahead = match lex_line(lexer, raw, end_marker) {
            Ahead::Log(log) => LineAhead::Log(log),
            Ahead::Token(token) => {
                chunk.tokens.push(token);
                // At most one token per byte of a chunk.
                LineAhead::Token((chunk.tokens.len() - 1) as u32)
            }
        };
        if lexer.generation() != generation {
            chunk.states.push((chunk.lines.len(), lexer.state()));
        }
        // A chunk is far shorter than 4 GiB.
        chunk.lines.push(ChunkLine {
            start: start as u32,
            end: nl as u32,
            ahead,
        });
        start = nl + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktap::prelex as reference_prelex;

    const LINES: &[&str] = &[
        "[    1.000000] foo: bar",
        "[    1.000000]     foo: bar ",
        "[    1.000000]  \t  x",
        "[    1.000000]\u{a0}x",
        "[    1.000000] \u{a0}x",
        "[    1.000000] \u{e9}",
        "[    1.000000]  ",
        "[    1.000000]",
        "[    1.000000] ok 1 a",
        "[    1.000000]     not ok 1 a",
        "[    1.000000] # Subtest: a",
        "[    1.000000] # speed: slow",
        "[    1.000000] 1..2",
        "[    1.000000] KTAP version 1",
        "[    1.000000] TAP version 14",
        "[    1.000000] x reboot: System halted",
        "[    1.000000] List of all partitions: x",
        "[    2.5] x",
        "[    1.000000][  T1] x",
        "<6>[    1.000000] x",
        "x Kernel panic - not syncing: VFS: y",
        "System halted",
        "eboot: System halted",
        "SKIP KTAP List Kernel",
        "trailing \u{a0}\u{2000} ",
        "x",
        "",
    ];

    /// Lex `lines` ahead after `start`: the same as the core lexes them
    /// (with `ktap::prelex` and the general path).
    fn check(start: &str, lines: &[&str]) {
        let mut lexer = Lexer::new();
        lexer.lex(start, true);
        for line in lines {
            assert_eq!(has_end_marker(line), ktap::has_end_marker(line), "{line:?}");
            let marked = has_end_marker(line);
            assert_eq!(prelex(line, marked), reference_prelex(line), "{line:?}");
            let mut reference = lexer.clone();
            let want_lexed = reference.lex(line, false);
            let want = Token::of(line, &want_lexed);
            let got = match lex_line(&mut lexer, line, marked) {
                Ahead::Log(log) => {
                    assert_eq!(log.lexed(line), want_lexed, "{start:?} then {line:?}");
                    Token::of(line, &log.lexed(line))
                }
                Ahead::Token(token) => {
                    assert_eq!(token.lexed(line), want_lexed, "{start:?} then {line:?}");
                    token
                }
            };
            assert_eq!(got, want, "{start:?} then {line:?}");
            assert!(lexer.is_in(&reference.state()), "{start:?} then {line:?}");
        }
    }

    #[test]
    fn lexing_ahead_agrees_with_the_core() {
        for start in [
            "[    0.500000] KTAP version 1",
            "[    0.500000]   KTAP version 1",
            "[    0.500000]KTAP version 1",
            "<6>[    0.500000] KTAP version 1",
            "prefix: KTAP version 1",
            "KTAP version 1",
            "no run yet",
        ] {
            check(start, LINES);
        }
    }

    proptest::proptest! {
        #[test]
        fn lexing_ahead_agrees_on_line_soup(
            start in proptest::sample::select(vec![
                "[    0.500000] KTAP version 1",
                "[    0.500000]  KTAP version 1",
                "<6>[    0.500000] KTAP version 1",
                "[    0.500000][  T1] KTAP version 1",
                "x: KTAP version 1",
            ]),
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "ok", "not ok", " ", "1", "-", ":", "#", " # ", "x", "K", "T", "o",
                    "n", "[    1.000000]", "[    1.000000] ", "[  T1]", "<6>", "\t",
                    "\u{a0}", "\u{e9}", "reboot: System halted", "TAP version 1", "S",
                    "List of all partitions:", "L",
                ]),
                0..8,
            )
        ) {
            check(start, &[&parts.concat()]);
        }
    }
}
