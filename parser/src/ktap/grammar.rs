// SPDX-License-Identifier: GPL-2.0
//! The line grammar: what one KTAP line is, written with `nom` after the
//! regular expressions of the kernel's `tools/testing/kunit/kunit_parser.py`
//! (quoted with each production).
//!
//! Every production works on a line whose kernel prefix the lexer has
//! already stripped, except [`find_version_start`] and the kernel prefix
//! tokens at the end, which the lexer uses to find that prefix.
//! Whitespace is Python's (`\s`, `str.isspace()`), which also counts the
//! ASCII separators 0x1c-0x1f.

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take_while, take_while1},
    character::complete::{char, digit1},
    combinator::{all_consuming, map, opt, recognize, rest, value},
    multi::fold_many1,
    sequence::{delimited, preceded, terminated},
};

// ---------------------------------------------------------------------------
// What a line can be.

/// Which protocol a version line announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionKind {
    /// `KTAP version N`
    Ktap,
    /// `TAP version N`
    Tap,
}

/// A directive after ` # ` on a result line (case-insensitive keyword).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Directive {
    /// `SKIP`: the test was skipped.
    Skip,
    /// `TODO`: not expected to pass yet.
    Todo,
    /// `XFAIL`: expected to fail.
    Xfail,
    /// `TIMEOUT`: the test timed out.
    Timeout,
    /// `ERROR`: the test could not be executed.
    Error,
}

impl Directive {
    /// The directive keyword in upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Directive::Skip => "SKIP",
            Directive::Todo => "TODO",
            Directive::Xfail => "XFAIL",
            Directive::Timeout => "TIMEOUT",
            Directive::Error => "ERROR",
        }
    }
}

/// A test result line: `ok|not ok <number> [- ]<description>[ # <directive> <reason>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultLine<'a> {
    /// `ok` (true) or `not ok` (false).
    pub ok: bool,
    /// The test number (saturated at `u64::MAX`).
    pub number: u64,
    /// The name as kunit_parser.py's `TEST_RESULT` regex captures it
    /// (used to match a `# Subtest:` header with its result line).
    pub plain_name: &'a str,
    /// The name kunit_parser.py assigns to the test (differs from
    /// `plain_name` only when a ` # SKIP` directive is present).
    pub name: &'a str,
    /// The directive, if any.
    pub directive: Option<Directive>,
    /// The skip reason / diagnostic data after the directive (or after ` # `
    /// when there is no known directive).
    pub reason: &'a str,
    /// Whether kunit_parser.py itself would report this line as skipped
    /// (exactly ` # SKIP`).  Used to document deviations only.
    pub kunit_skip: bool,
}

/// The kind of a lexed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// `KTAP version N` / `TAP version N`.
    Version {
        /// KTAP or TAP.
        kind: VersionKind,
        /// The version number (saturated).
        version: u64,
    },
    /// `# Subtest: <name>`.
    Subtest(&'a str),
    /// `1..N` (a test plan).
    Plan(u64),
    /// A test result line.
    Result(ResultLine<'a>),
    /// Any other line: diagnostic or unknown ("noise") line.
    Diagnostic,
    /// A `kunit executor: ...` line seen before any KTAP output.
    ExecutorError,
    /// A kernel line that ends the KTAP output (kunit's `KTAP_END`).
    End,
    /// A line outside of any KTAP output (boot noise before a run).
    Outside,
}

/// Classify a prefix-stripped line (kunit's `parse_diagnostic()` takes
/// every line that none of `TEST_RESULT`, `TEST_HEADER`, `KTAP_START`,
/// `TAP_START`, `TEST_PLAN` matches).  The flag is true for a line that
/// starts like a result line but does not follow the grammar (`ok 1
/// name#x`): a diagnostic, worth a warning.
pub(crate) fn classify(text: &str) -> (Line<'_>, bool) {
    classify_at(text, py_space_len(text))
}

/// [`classify`] given the byte length `ws` of the leading whitespace (the
/// first byte after it tells which production can match).
#[inline]
pub(crate) fn classify_at(text: &str, ws: usize) -> (Line<'_>, bool) {
    let first = text.as_bytes().get(ws).copied();
    let parsed = match first {
        Some(b'K' | b'T') => version_line(text).ok().map(|(_, l)| l),
        Some(b'#') => subtest_line(text).ok().map(|(_, l)| l),
        Some(b'1') => plan_line(text).ok().map(|(_, l)| l),
        Some(b'o' | b'n') => {
            if let Some(r) = parse_result(text) {
                Some(Line::Result(r))
            } else {
                let malformed = result_head(text).is_ok();
                return (Line::Diagnostic, malformed);
            }
        }
        _ => None,
    };
    (parsed.unwrap_or(Line::Diagnostic), false)
}

// ---------------------------------------------------------------------------
// Python's whitespace.

/// Whitespace as Python's `str.isspace()` / `re` `\s` understand it.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// [`is_py_space`] for an ASCII byte.
#[inline]
pub(crate) fn is_ascii_py_space(b: u8) -> bool {
    // Bit n is set for the byte n: ' ', '\t'..='\r' and 0x1c..=0x1f.
    const SPACES: u64 = 1 << b' ' | 0b1_1111 << b'\t' | 0b1111 << 0x1c;
    b <= b' ' && (SPACES >> b) & 1 == 1
}

/// `str.rstrip()`: kunit strips every line so.
#[inline]
pub(crate) fn py_rstrip(s: &str) -> &str {
    let b = s.as_bytes();
    let mut end = b.len();
    while let Some(&c) = b[..end].last() {
        if c >= 0x80 {
            // A non-ASCII character: the general path.
            return s[..end].trim_end_matches(is_py_space);
        }
        if !is_ascii_py_space(c) {
            break;
        }
        end -= 1;
    }
    &s[..end]
}

/// Byte length of the leading whitespace of `s`.
#[inline]
pub(crate) fn py_space_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c >= 0x80 {
            return s.len() - s[i..].trim_start_matches(is_py_space).len();
        }
        if !is_ascii_py_space(c) {
            break;
        }
        i += 1;
    }
    i
}

/// `str.lstrip()`.
fn py_lstrip(s: &str) -> &str {
    &s[py_space_len(s)..]
}

fn py_space0(input: &str) -> IResult<&str, &str> {
    take_while(is_py_space).parse(input)
}

/// `[0-9]+`, saturated at `u64::MAX`.
fn number(input: &str) -> IResult<&str, u64> {
    map(take_while1(|c: char| c.is_ascii_digit()), saturating_u64).parse(input)
}

pub(super) fn saturating_u64(digits: &str) -> u64 {
    digits.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10)
            .saturating_add(u64::from(b.wrapping_sub(b'0')))
    })
}

// ---------------------------------------------------------------------------
// Version lines: `KTAP_START = r'\s*KTAP version ([0-9]+)$'`,
// `TAP_START = r'\s*TAP version ([0-9]+)$'`.

/// A version line, as `parse_ktap_header()` matches it.
fn version_line(input: &str) -> IResult<&str, Line<'_>> {
    all_consuming(preceded(
        py_space0,
        map(
            (
                alt((
                    value(VersionKind::Ktap, tag("KTAP version ")),
                    value(VersionKind::Tap, tag("TAP version ")),
                )),
                number,
            ),
            |(kind, version)| Line::Version { kind, version },
        ),
    ))
    .parse(input)
}

/// A version line anywhere in a raw line, as `extract_tap_lines()` searches
/// for it (`KTAP_START.search`, then `TAP_START.search`): the byte length
/// of the text in front of it (`line.split('KTAP version')[0]`), which is
/// the prefix of the run it starts.
pub(crate) fn find_version_start(raw: &str) -> Option<usize> {
    for needle in ["KTAP version ", "TAP version "] {
        // The regex anchors at the end: digits must run to the end of the line.
        if let Some(pos) = raw.rfind(needle) {
            let digits = &raw[pos + needle.len()..];
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                // kunit uses the *first* occurrence of the marker for the prefix.
                let marker = needle.trim_end();
                return Some(raw.find(marker).unwrap_or(pos));
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Lines around the KTAP output: `KTAP_END = r'\s*(List of all partitions:|'
// 'Kernel panic - not syncing: VFS:|reboot: System halted)'`,
// `EXECUTOR_ERROR = r'\s*kunit executor: (.*)$'` (both searched for
// anywhere in the line).

/// kunit_parser.py's `KTAP_END` markers.
pub(crate) const END_MARKERS: [&str; 3] = [
    "List of all partitions:",
    "Kernel panic - not syncing: VFS:",
    "reboot: System halted",
];

/// Whether `raw` contains one of the [`END_MARKERS`].
pub(crate) fn has_end_marker(raw: &str) -> bool {
    END_MARKERS.iter().any(|m| raw.contains(m))
}

/// Whether `raw` is a `kunit executor:` line.
pub(crate) fn is_executor_error(raw: &str) -> bool {
    raw.contains("kunit executor: ")
}

// ---------------------------------------------------------------------------
// `TEST_HEADER = r'^\s*# Subtest: (.*)$'`

fn subtest_line(input: &str) -> IResult<&str, Line<'_>> {
    map(
        preceded((py_space0, tag("# Subtest: ")), rest),
        Line::Subtest,
    )
    .parse(input)
}

// ---------------------------------------------------------------------------
// `TEST_PLAN = r'^\s*1\.\.([0-9]+)'` (anything may follow).

fn plan_line(input: &str) -> IResult<&str, Line<'_>> {
    map(preceded((py_space0, tag("1..")), number), Line::Plan).parse(input)
}

// ---------------------------------------------------------------------------
// Result lines:
// `TEST_RESULT = r'^\s*(ok|not ok) ([0-9]+) ?(:?- )?([^#]*)( # .*)?$'`,
// `TEST_RESULT_SKIP = r'^\s*(ok|not ok) ([0-9]+) ?(:?- )?(.*) # SKIP ?(.*)$'`.

/// Parse a result line.  `None` if the line is not a result line.  The
/// commonest shape takes a byte-level shortcut
/// ([`super::shortcut::result`]) that gives what the grammar gives.
#[inline]
pub(crate) fn parse_result(text: &str) -> Option<ResultLine<'_>> {
    super::shortcut::result(text).or_else(|| parse_result_grammar(text))
}

/// [`parse_result`] by the grammar alone: the name is the one of
/// `TEST_RESULT_SKIP` if it matches, else of `TEST_RESULT`; the text after
/// ` # ` is a directive as the KTAP spec defines it (kunit only knows
/// ` # SKIP`).
pub(crate) fn parse_result_grammar(text: &str) -> Option<ResultLine<'_>> {
    let (rest, (ok, number)) = result_head(text).ok()?;
    let starts = name_starts(rest);
    // TEST_RESULT: first start (in regex preference order) that matches.
    let (plain_name, after_hash) = starts
        .iter()
        .flatten()
        .find_map(|&s| plain_name_at(&rest[s..]))?;
    // TEST_RESULT_SKIP: first start for which a " # SKIP" follows.
    let kunit_skip = starts
        .iter()
        .flatten()
        .find_map(|&s| kunit_skip_at(&rest[s..]));
    let (name, directive, reason) = match (kunit_skip, after_hash) {
        (Some((name, reason)), _) => (name, Some(Directive::Skip), reason),
        (None, Some(after)) => {
            let (directive, reason) = parse_directive(after);
            (plain_name, directive, reason)
        }
        (None, None) => (plain_name, None, ""),
    };
    Some(ResultLine {
        ok,
        number,
        plain_name,
        name,
        directive,
        reason,
        kunit_skip: kunit_skip.is_some(),
    })
}

/// `^\s*(ok|not ok) ([0-9]+)` -> (ok, number; the rest after the number).
fn result_head(input: &str) -> IResult<&str, (bool, u64)> {
    preceded(
        py_space0,
        (
            terminated(
                alt((value(true, tag("ok")), value(false, tag("not ok")))),
                char(' '),
            ),
            number,
        ),
    )
    .parse(input)
}

/// The candidate name starts that ` ?(:?- )?` allows, in the order Python's
/// backtracking tries them (greedy first).
fn name_starts(rest: &str) -> [Option<usize>; 4] {
    let sep = |s: &str| -> Option<usize> {
        let r: IResult<&str, &str> = recognize((opt(char(':')), tag("- "))).parse(s);
        r.ok().map(|(_, m)| m.len())
    };
    let with_space = rest.strip_prefix(' ');
    [
        with_space.and_then(|r| sep(r).map(|n| 1 + n)),
        with_space.map(|_| 1),
        sep(rest),
        Some(0),
    ]
}

/// `([^#]*)( # .*)?$` after the name start: (name, text after ` # `).
fn plain_name_at(s: &str) -> Option<(&str, Option<&str>)> {
    match s.find('#') {
        None => Some((s, None)),
        Some(h) => {
            let before = s[..h].strip_suffix(' ')?;
            let after = s[h + 1..].strip_prefix(' ')?;
            Some((before, Some(after)))
        }
    }
}

/// `(.*) # SKIP ?(.*)$` after the name start (greedy: the last ` # SKIP`):
/// (name, reason).
fn kunit_skip_at(s: &str) -> Option<(&str, &str)> {
    let p = s.rfind(" # SKIP")?;
    let reason = &s[p + " # SKIP".len()..];
    Some((&s[..p], reason.strip_prefix(' ').unwrap_or(reason)))
}

/// The KTAP spec's directive: the first word after ` # `, any case
/// (`SKIP...` included, so `SKIPPED` is a skip), then its reason.
fn parse_directive(text: &str) -> (Option<Directive>, &str) {
    let word_end = text.find(is_py_space).unwrap_or(text.len());
    let word = &text[..word_end];
    let upper = word.to_ascii_uppercase();
    let directive =
        if upper.starts_with("SKIP") && upper[4..].chars().all(|c| c.is_ascii_alphabetic()) {
            Some(Directive::Skip)
        } else {
            match upper.as_str() {
                "TODO" => Some(Directive::Todo),
                "XFAIL" => Some(Directive::Xfail),
                "TIMEOUT" => Some(Directive::Timeout),
                "ERROR" => Some(Directive::Error),
                _ => None,
            }
        };
    match directive {
        Some(d) => (Some(d), py_lstrip(&text[word_end..])),
        None => (None, text),
    }
}

// ---------------------------------------------------------------------------
// Kernel prefix tokens (not kunit's: it cuts the prefix's width off every
// line): `<6>` log levels, `[    1.234567]` printk timestamps, `[  T1]` /
// `[  C0]` caller ids.

/// `[    1.234567]` -> microseconds.
fn printk_time(input: &str) -> IResult<&str, u64> {
    map(
        delimited(
            preceded(char('['), take_while(|c| c == ' ')),
            (digit1, char('.'), digit1),
            char(']'),
        ),
        |(secs, _, frac): (&str, char, &str)| {
            let mut micros: u64 = 0;
            let mut scale = 100_000u64;
            for b in frac.bytes().take(6) {
                micros += u64::from(b - b'0') * scale;
                scale /= 10;
            }
            saturating_u64(secs)
                .saturating_mul(1_000_000)
                .saturating_add(micros)
        },
    )
    .parse(input)
}

/// `[    T1]` / `[  C0]` caller ids.
fn caller_id(input: &str) -> IResult<&str, &str> {
    recognize((
        char('['),
        take_while(|c| c == ' '),
        alt((char('T'), char('C'))),
        digit1,
        char(']'),
    ))
    .parse(input)
}

/// `<6>` log levels (also facility-encoded ones like `<14>`).
fn log_level(input: &str) -> IResult<&str, &str> {
    recognize((char('<'), digit1, char('>'))).parse(input)
}

/// One or more kernel prefix tokens; returns the last timestamp seen.
fn kernel_tokens(input: &str) -> IResult<&str, Option<u64>> {
    fold_many1(
        alt((
            map(printk_time, Some),
            value(None, caller_id),
            value(None, log_level),
        )),
        || None,
        |last: Option<u64>, ts| ts.or(last),
    )
    .parse(input)
}

/// Byte length and timestamp of the kernel tokens at the start of `s`.
pub(crate) fn scan_kernel_tokens(s: &str) -> Option<(usize, Option<u64>)> {
    kernel_tokens(s)
        .ok()
        .map(|(rest, ts)| (s.len() - rest.len(), ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_follow_kunit_regexes() {
        let r = parse_result("ok 1 - kunit_resource_test").expect("result");
        assert_eq!((r.ok, r.number, r.name), (true, 1, "kunit_resource_test"));
        let r = parse_result("\tnot ok 12 example_simple_test").expect("result");
        assert_eq!((r.ok, r.number, r.name), (false, 12, "example_simple_test"));
        let r = parse_result("ok 3 # SKIP selftests: membarrier").expect("result");
        assert_eq!(
            (r.name, r.directive, r.reason),
            ("", Some(Directive::Skip), "selftests: membarrier")
        );
        let r = parse_result("ok 2 - example # SKIP").expect("result");
        assert_eq!((r.name, r.plain_name, r.reason), ("example", "example", ""));
        let r = parse_result("ok 1 a # b # SKIP r").expect("result");
        assert_eq!((r.plain_name, r.name, r.reason), ("a", "a # b", "r"));
        let r = parse_result("ok 1 x # skip lower case").expect("result");
        assert_eq!(
            (r.directive, r.reason, r.kunit_skip),
            (Some(Directive::Skip), "lower case", false)
        );
        let r = parse_result("not ok 1 selftests: kmod: kmod.sh # TIMEOUT 45 seconds").expect("r");
        assert_eq!(
            (r.name, r.directive, r.reason),
            (
                "selftests: kmod: kmod.sh",
                Some(Directive::Timeout),
                "45 seconds"
            )
        );
        let r = parse_result("ok 5 check return code # rcode=0").expect("r");
        assert_eq!(
            (r.name, r.directive, r.reason),
            ("check return code", None, "rcode=0")
        );
        let r = parse_result("ok 1 :- odd").expect("r");
        assert_eq!(r.name, "odd");
        assert!(parse_result("ok 1 foo#bar").is_none());
        assert!(parse_result("ok 1 foo #SKIP").is_none());
        assert!(parse_result("ok one").is_none());
        assert!(parse_result("okay 1 x").is_none());
    }

    #[test]
    fn structural_lines() {
        assert_eq!(
            classify("  KTAP version 1").0,
            Line::Version {
                kind: VersionKind::Ktap,
                version: 1
            }
        );
        assert_eq!(
            classify("TAP version 14").0,
            Line::Version {
                kind: VersionKind::Tap,
                version: 14
            }
        );
        assert_eq!(classify("# TAP version 13").0, Line::Diagnostic);
        assert_eq!(classify("KTAP version 1 x").0, Line::Diagnostic);
        assert_eq!(classify("\t# Subtest: suite").0, Line::Subtest("suite"));
        assert_eq!(classify("    1..4").0, Line::Plan(4));
        assert_eq!(classify("1..2 # comment").0, Line::Plan(2));
        assert_eq!(classify("2..3").0, Line::Diagnostic);
        assert_eq!(classify("ok 1 foo#bar"), (Line::Diagnostic, true));
    }

    #[test]
    fn version_lines_are_found_where_kunit_searches_them() {
        assert_eq!(find_version_start("[ 1.0] KTAP version 1"), Some(7));
        assert_eq!(find_version_start("x: TAP version 13"), Some(3));
        // The prefix ends at the first marker, the version at the end.
        assert_eq!(
            find_version_start("a KTAP version b KTAP version 1"),
            Some(2)
        );
        assert_eq!(find_version_start("KTAP version 1 x"), None);
        assert_eq!(find_version_start("KTAP version "), None);
    }

    #[test]
    fn kernel_tokens_give_their_length_and_last_timestamp() {
        assert_eq!(
            scan_kernel_tokens("<6>[    1.500000][  T1] x"),
            Some((23, Some(1_500_000)))
        );
        assert_eq!(scan_kernel_tokens("[  C0] x"), Some((6, None)));
        assert_eq!(scan_kernel_tokens("[ 12.3] x"), Some((7, Some(12_300_000))));
        assert_eq!(scan_kernel_tokens("x [ 1.0]"), None);
    }

    #[test]
    fn ascii_space_is_python_space() {
        for b in 0..=0x7fu8 {
            assert_eq!(is_ascii_py_space(b), is_py_space(char::from(b)), "{b:#x}");
        }
    }
}
