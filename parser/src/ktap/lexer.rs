// SPDX-License-Identifier: GPL-2.0
//! The lexer: kunit_parser.py's `extract_tap_lines()`, a line at a time.
//!
//! It turns one raw input line into a [`Lexed`] line: what the line is
//! ([`Line`], by the [`grammar`](super::grammar)), its text without the
//! kernel prefix, its indentation and its printk timestamp.
//!
//! * Before a run has started, only a line *containing* `KTAP version N` or
//!   `TAP version N` (at its end) starts a run; the text in front of it is
//!   the *prefix* (printk timestamp, `<6>` level, caller id, ...) that is
//!   stripped from all following lines.  Lines containing
//!   `kunit executor: ...` are passed through as well.  Everything else is
//!   boot noise ([`Line::Outside`]).
//! * Inside a run, a line containing one of kunit's end markers
//!   (`List of all partitions:`, `Kernel panic - not syncing: VFS:`,
//!   `reboot: System halted`) ends the run ([`Line::End`]).
//! * Prefix stripping: a line that starts with exactly the prefix loses it;
//!   otherwise, if the prefix consisted of kernel prefix tokens only
//!   (`<N>`, `[ seconds.micros]`, `[ Tn]`/`[ Cn]`), the line's own tokens
//!   are stripped (so differing timestamps or caller ids do not matter);
//!   otherwise as many characters as the prefix had are cut off, like
//!   kunit_parser.py does.
//! * Deviation from kunit (which starts once): when the tree builder says
//!   it is idle (the run's plan is complete), a line with a version marker
//!   starts the next run with its own prefix, unless it is a diagnostic
//!   line of the run before (kselftest's nested TAP, wrapped in `# `).

use super::grammar::{
    Line, classify, classify_at, find_version_start, has_end_marker, is_ascii_py_space,
    is_executor_error, is_py_space, py_rstrip, py_space_len, scan_kernel_tokens,
};

/// One lexed input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexed<'a> {
    /// What the line is.
    pub line: Line<'a>,
    /// The line with the kernel prefix stripped (as kunit_parser.py logs it).
    pub text: &'a str,
    /// Number of leading whitespace characters of `text`.
    pub indent: usize,
    /// printk timestamp of the line in microseconds, if it had one.
    pub timestamp: Option<u64>,
    /// True if `text` looks like a result line but does not follow the
    /// grammar (for example `ok 1 name#x`); it is treated as a diagnostic.
    pub malformed_result: bool,
}

/// The prefix found in front of the version line that started the run.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Prefix {
    text: String,
    chars: usize,
    /// `Some(n)`: the prefix is kernel prefix tokens followed by `n`
    /// whitespace characters.
    structural_ws: Option<usize>,
}

/// Streaming line lexer: the prefix of the run in progress is its state.
#[derive(Debug, Clone, Default)]
pub struct Lexer {
    prefix: Option<Prefix>,
    /// Bumped whenever `prefix` changes (a run starts or ends), so that a
    /// caller can notice a state change without comparing prefixes.
    generation: u64,
}

/// A snapshot of a [`Lexer`]'s state (the prefix of the run in progress),
/// to hand a lexer's state to another one or to compare two lexers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LexerState(Option<Prefix>);

/// The part of lexing a raw line that does not depend on the lexer's state
/// (so it can be done ahead of time, in another thread): trailing
/// whitespace, kernel prefix tokens and end markers.  [`prelex`] is its
/// definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prelexed {
    /// Length of the line without trailing whitespace.
    pub(crate) len: usize,
    /// Length and timestamp of its leading kernel prefix tokens.
    pub(crate) tokens: Option<(usize, Option<u64>)>,
    /// Whether it contains one of kunit's end markers.
    pub(crate) end_marker: bool,
}

/// The state-independent part of lexing `raw` (see [`Prelexed`]).
pub(crate) fn prelex(raw: &str) -> Prelexed {
    let stripped = py_rstrip(raw);
    Prelexed {
        len: stripped.len(),
        tokens: scan_kernel_tokens(stripped),
        end_marker: has_end_marker(stripped),
    }
}

/// Text that every line whose lexing depends on whether the tree builder
/// is idle contains: only such a line can start a run with a new prefix.
pub(crate) const VERSION_MARKER: &str = "TAP version ";

/// Number of characters in the first `ws` bytes of `s`.
#[inline]
fn chars_in(s: &str, ws: usize) -> usize {
    if s.as_bytes()[..ws].is_ascii() {
        ws
    } else {
        s[..ws].chars().count()
    }
}

impl Lexer {
    /// A lexer in its initial state (no KTAP output seen yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a run's prefix is active (KTAP output started and not ended).
    pub fn started(&self) -> bool {
        self.prefix.is_some()
    }

    /// Start a run whose version line starts `prefix_len` bytes into `raw`.
    fn start(&mut self, raw: &str, prefix_len: usize) {
        let text = raw[..prefix_len].to_owned();
        let structural_ws = match scan_kernel_tokens(&text) {
            Some((n, _)) if text[n..].chars().all(is_py_space) => Some(text[n..].chars().count()),
            _ => None,
        };
        self.prefix = Some(Prefix {
            chars: text.chars().count(),
            text,
            structural_ws,
        });
        self.generation += 1;
    }

    /// Counts the state changes so far (runs started and ended).
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// A snapshot of the state.
    pub(crate) fn state(&self) -> LexerState {
        LexerState(self.prefix.clone())
    }

    /// Whether the state equals `state`.
    #[inline]
    pub(crate) fn is_in(&self, state: &LexerState) -> bool {
        self.prefix == state.0
    }

    /// Take over another lexer's state (see [`Lexer::state`]).
    pub(crate) fn set_state(&mut self, state: &LexerState) {
        if self.prefix != state.0 {
            self.prefix = state.0.clone();
            self.generation += 1;
        }
    }

    /// `Some(n)` while the run's prefix is kernel prefix tokens followed by
    /// `n` whitespace characters: a line's own tokens and up to `n`
    /// whitespace characters are then its prefix.
    #[inline]
    pub(crate) fn token_prefix(&self) -> Option<usize> {
        self.prefix.as_ref()?.structural_ws
    }

    fn lexed<'a>(line: Line<'a>, text: &'a str, timestamp: Option<u64>) -> Lexed<'a> {
        Self::lexed_ws(line, text, py_space_len(text), timestamp)
    }

    /// [`Lexer::lexed`] given the byte length `ws` of the leading whitespace.
    #[inline]
    fn lexed_ws<'a>(line: Line<'a>, text: &'a str, ws: usize, timestamp: Option<u64>) -> Lexed<'a> {
        Lexed {
            line,
            text,
            indent: chars_in(text, ws),
            timestamp,
            malformed_result: false,
        }
    }

    /// Lex one raw line (without its line terminator).  `idle` tells the
    /// lexer that no run is in progress, so a version line with a new prefix
    /// may start the next run.
    pub fn lex<'a>(&mut self, raw: &'a str, idle: bool) -> Lexed<'a> {
        self.lex_prelexed(raw, prelex(raw), idle)
    }

    /// [`Lexer::lex`] with the state-independent part already done (`pre`
    /// must be [`prelex`]`(raw)`).
    pub(crate) fn lex_prelexed<'a>(
        &mut self,
        raw: &'a str,
        pre: Prelexed,
        idle: bool,
    ) -> Lexed<'a> {
        let raw = &raw[..pre.len];
        let tokens = pre.tokens;
        let timestamp = tokens.and_then(|(_, ts)| ts);

        let Some(prefix) = &self.prefix else {
            if let Some(p) = find_version_start(raw) {
                self.start(raw, p);
                let text = &raw[p..];
                let (line, _) = classify(text);
                return Self::lexed(line, text, timestamp);
            }
            if is_executor_error(raw) {
                return Self::lexed(Line::ExecutorError, raw, timestamp);
            }
            return Self::lexed(Line::Outside, raw, timestamp);
        };

        if pre.end_marker {
            self.prefix = None;
            self.generation += 1;
            return Self::lexed(Line::End, raw, timestamp);
        }

        // A structural prefix is cut by its structure first: for a line that
        // starts with the exact prefix text that gives the same cut (the
        // line's tokens are the prefix's, followed by its whitespace), and
        // it spares comparing the prefix with every line.
        let text = if let (Some(ws), Some((n, _))) = (prefix.structural_ws, tokens) {
            let rest = &raw[n..];
            // Up to `ws` whitespace characters (ASCII fast path).
            let rb = rest.as_bytes();
            let mut cut = 0;
            while cut < ws && rb.get(cut).copied().is_some_and(is_ascii_py_space) {
                cut += 1;
            }
            if cut < ws && rb.get(cut).is_some_and(|&c| c >= 0x80) {
                cut += rest[cut..]
                    .chars()
                    .take(ws - cut)
                    .take_while(|&c| is_py_space(c))
                    .map(char::len_utf8)
                    .sum::<usize>();
            }
            &rest[cut..]
        } else if let Some(rest) = raw.strip_prefix(prefix.text.as_str()) {
            rest
        } else {
            let cut = raw
                .char_indices()
                .nth(prefix.chars)
                .map_or(raw.len(), |(i, _)| i);
            &raw[cut..]
        };
        let ws = py_space_len(text);
        let (line, malformed) = classify_at(text, ws);
        // Between runs, a line with a version marker starts the next run,
        // the text in front of the marker its prefix, unless it is a
        // diagnostic line of the run before: kselftest wraps the TAP of a
        // test in `# `, and nested TAP starts no run.
        if idle
            && !matches!(line, Line::Version { .. })
            && text.as_bytes().get(ws) != Some(&b'#')
            && let Some(p) = find_version_start(raw)
        {
            self.start(raw, p);
            let text = &raw[p..];
            let (line, _) = classify(text);
            return Self::lexed(line, text, timestamp);
        }
        let mut lexed = Self::lexed_ws(line, text, ws, timestamp);
        lexed.malformed_result = malformed;
        lexed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_stripped_and_timestamps_read() {
        let mut lx = Lexer::new();
        assert_eq!(
            lx.lex("[    0.000000] Linux version 7.3", true).line,
            Line::Outside
        );
        let l = lx.lex("<6>[    1.500000][    T1] KTAP version 1", true);
        assert!(matches!(l.line, Line::Version { .. }));
        assert_eq!(l.timestamp, Some(1_500_000));
        let l = lx.lex("<3>[   12.000001][  T123]     ok 1 case\r", false);
        assert_eq!(l.text, "    ok 1 case");
        assert_eq!(l.indent, 4);
        assert_eq!(l.timestamp, Some(12_000_001));
        assert!(matches!(l.line, Line::Result(_)));
        let l = lx.lex("[   13.000000] reboot: System halted", false);
        assert_eq!(l.line, Line::End);
        assert!(!lx.started());
    }

    #[test]
    fn non_kernel_prefix_is_cut_by_length() {
        let mut lx = Lexer::new();
        lx.lex("foo: TAP version 14", true);
        assert_eq!(lx.lex("bar: 1..2", false).line, Line::Plan(2));
        assert_eq!(lx.lex("xy", false).text, "");
    }

    #[test]
    fn between_runs_a_version_line_starts_a_run_but_nested_tap_does_not() {
        let mut lx = Lexer::new();
        lx.lex("[ 1.0] TAP version 13", true);
        // Nested TAP, wrapped in `# `: a diagnostic, even between runs.
        let l = lx.lex("[ 2.0] # TAP version 13", true);
        assert_eq!((l.line, l.text), (Line::Diagnostic, "# TAP version 13"));
        let l = lx.lex("[ 2.0]   # TAP version 13", true);
        assert_eq!(l.line, Line::Diagnostic);
        // A version line with another prefix starts the next run.
        let l = lx.lex("[ 3.0] kunit: KTAP version 1", true);
        assert!(matches!(l.line, Line::Version { .. }));
        assert_eq!(lx.lex("[ 3.1] kunit: 1..1", false).line, Line::Plan(1));
        // Inside a run, it is what the run's prefix makes of it.
        let l = lx.lex("[ 3.2] longer prefix: KTAP version 1", false);
        assert_eq!(l.line, Line::Diagnostic);
        // Before any run, even `# ` is a prefix (as for kunit).
        let mut lx = Lexer::new();
        let l = lx.lex("# TAP version 13", true);
        assert!(matches!(l.line, Line::Version { .. }));
        assert_eq!(lx.lex("# 1..2", false).line, Line::Plan(2));
    }
}
