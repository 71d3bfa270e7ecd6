// SPDX-License-Identifier: GPL-2.0
//! Line lexer: kernel prefix stripping and the KTAP/TAP line grammar.
//!
//! The lexer turns one raw input line into a [`Lexed`] line.  It mirrors
//! `extract_tap_lines()` and the regular expressions of the kernel's
//! `tools/testing/kunit/kunit_parser.py`:
//!
//! * Before a run has started, only a line *containing* `KTAP version N` or
//!   `TAP version N` (at its end) starts a run; the text in front of it is
//!   the *prefix* (printk timestamp, `<6>` level, caller id, ...) that is
//!   stripped from all following lines.  Lines containing
//!   `kunit executor: ...` are passed through as well.  Everything else is
//!   boot noise.
//! * Inside a run, a line containing one of kunit's end markers
//!   (`List of all partitions:`, `Kernel panic - not syncing: VFS:`,
//!   `reboot: System halted`) ends the run.
//! * Prefix stripping: a line that starts with exactly the prefix loses it;
//!   otherwise, if the prefix consisted of kernel prefix tokens only
//!   (`<N>`, `[ seconds.micros]`, `[ Tn]`/`[ Cn]`), the line's own tokens
//!   are stripped (so differing timestamps or caller ids do not matter);
//!   otherwise as many characters as the prefix had are cut off, like
//!   kunit_parser.py does.
//!
//! The grammar of the stripped line is written with `nom`.

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take_while, take_while1},
    character::complete::{char, digit1},
    combinator::{all_consuming, map, opt, recognize, value},
    multi::fold_many1,
    sequence::{delimited, preceded, terminated},
};

/// Whitespace as Python's `str.isspace()` / `re` `\s` understand it.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// [`is_py_space`] for an ASCII byte.
#[inline]
fn is_ascii_py_space(b: u8) -> bool {
    // Bit n is set for the byte n: ' ', '\t'..='\r' and 0x1c..=0x1f.
    const SPACES: u64 = 1 << b' ' | 0b1_1111 << b'\t' | 0b1111 << 0x1c;
    b <= b' ' && (SPACES >> b) & 1 == 1
}

/// `str.rstrip()` with Python's notion of whitespace.
#[inline]
pub fn py_rstrip(s: &str) -> &str {
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

/// Byte length of the leading whitespace of `s` (Python's notion).
#[inline]
fn py_space_len(s: &str) -> usize {
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

#[inline]
fn py_lstrip(s: &str) -> &str {
    &s[py_space_len(s)..]
}

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

/// Streaming line lexer (keeps the prefix state between lines).
#[derive(Debug, Default)]
pub struct Lexer {
    prefix: Option<Prefix>,
    /// Bumped whenever `prefix` changes (a run starts or ends), so that a
    /// caller can notice a state change without comparing prefixes.
    generation: u64,
}

/// A snapshot of a [`Lexer`]'s state (the prefix of the run in progress),
/// to hand a lexer's state to another one or to compare two lexers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LexerState(Option<Prefix>);

/// kunit_parser.py's `KTAP_END` markers.
pub const END_MARKERS: [&str; 3] = [
    "List of all partitions:",
    "Kernel panic - not syncing: VFS:",
    "reboot: System halted",
];

/// Every one of the [`END_MARKERS`] contains one of these bytes: their
/// distinctive capitals `L`, `K` and the `S` of `System`.
pub const END_MARKER_BYTES: [u8; 3] = [b'L', b'K', b'S'];

/// Whether `raw` contains one of the [`END_MARKERS`].  One `memchr3` pass
/// finds the candidate positions ([`END_MARKER_BYTES`]; the `S` of
/// `System` is 8 bytes into its marker).
#[inline]
pub fn has_end_marker(raw: &str) -> bool {
    let b = raw.as_bytes();
    let [list, panic, halted] = END_MARKERS.map(str::as_bytes);
    let [l, k, s] = END_MARKER_BYTES;
    memchr::memchr3_iter(l, k, s, b).any(|i| match b[i] {
        b'L' => b[i..].starts_with(list),
        b'K' => b[i..].starts_with(panic),
        _ => i >= 8 && b[i - 8..].starts_with(halted),
    })
}

// ---------------------------------------------------------------------------
// Kernel prefix tokens.

fn saturating_u64(digits: &str) -> u64 {
    digits.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10)
            .saturating_add(u64::from(b.wrapping_sub(b'0')))
    })
}

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

/// One or more kernel prefix tokens; returns the timestamp if one was seen.
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

/// Byte-level fast path of [`kernel_tokens`] for the commonest prefix: a
/// single printk timestamp `[ *\d+\.\d+]` not followed by another token.
/// `None` means "use the grammar".
#[inline]
fn fast_printk_time(b: &[u8]) -> Option<(usize, Option<u64>)> {
    const SCALE: [u64; 7] = [1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
    if b.first() != Some(&b'[') {
        return None;
    }
    if let Some(r) = printk_time_fixed(b) {
        return Some(r);
    }
    let mut i = 1;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let secs_start = i;
    let mut secs: u64 = 0;
    while let Some(&d) = b.get(i).filter(|d| d.is_ascii_digit()) {
        secs = secs.saturating_mul(10).saturating_add(u64::from(d - b'0'));
        i += 1;
    }
    if i == secs_start || b.get(i) != Some(&b'.') {
        return None;
    }
    i += 1;
    let frac_start = i;
    let mut micros: u64 = 0;
    let mut frac_digits = 0;
    while let Some(&d) = b.get(i).filter(|d| d.is_ascii_digit()) {
        if frac_digits < 6 {
            micros = micros * 10 + u64::from(d - b'0');
            frac_digits += 1;
        }
        i += 1;
    }
    if i == frac_start || b.get(i) != Some(&b']') {
        return None;
    }
    i += 1;
    if matches!(b.get(i), Some(b'[' | b'<')) {
        return None;
    }
    micros *= SCALE[frac_digits];
    Some((
        i,
        Some(secs.saturating_mul(1_000_000).saturating_add(micros)),
    ))
}

/// [`fast_printk_time`] for the layout printk itself uses,
/// `[%5lu.%06lu]`: seconds right-aligned in five columns, six fractional
/// digits.  `None` means "some other layout" (or a line shorter than 16
/// bytes).  The 16 bytes are read as two words, and all digits are checked
/// and converted together (see [`swar`]): a byte at a time, this took
/// more than 100 instructions.
#[inline]
fn printk_time_fixed(b: &[u8]) -> Option<(usize, Option<u64>)> {
    let head: &[u8; 16] = b.get(..16)?.try_into().ok()?;
    let (lo, hi) = swar::words(head);
    if lo as u8 != b'[' || (lo >> 48) as u8 != b'.' || (hi >> 40) as u8 != b']' {
        return None;
    }
    if matches!(head[14], b'[' | b'<') {
        return None;
    }
    // Bytes 1..=5: the seconds, spaces first; bytes 7..=12: the fraction.
    let secs = (lo >> 8) & swar::low_bytes(5);
    let frac = (lo >> 56) | ((hi << 8) & swar::low_bytes(6));
    let secs = swar::digits_value(swar::leading_spaces_to_zeros(secs, 5)?, 5)?;
    let micros = swar::digits_value(frac, 6)?;
    Some((14, Some(secs * 1_000_000 + micros)))
}

/// Bytes as the lanes of a `u64` ("SIMD within a register"): byte `i` of
/// a text is lane `i`, bits `8 * i..8 * i + 8`.
mod swar {
    /// Lanes `0..n` all set to 1.
    const fn ones(n: u32) -> u64 {
        0x0101_0101_0101_0101 & low_bytes(n)
    }

    /// The mask of lanes `0..n`.
    pub(super) const fn low_bytes(n: u32) -> u64 {
        if n >= 8 { u64::MAX } else { (1 << (8 * n)) - 1 }
    }

    /// The 16 bytes as two words (lanes 0..8 and 8..16).
    #[inline]
    pub(super) fn words(b: &[u8; 16]) -> (u64, u64) {
        let (lo, hi) = b.split_at(8);
        let word = |s: &[u8]| u64::from_le_bytes(s.try_into().unwrap_or([0; 8]));
        (word(lo), word(hi))
    }

    /// Lanes `0..n` of `x` with their leading spaces (lanes `0..k`)
    /// replaced by `0`; `None` if a space follows a non-space or all `n`
    /// lanes are spaces.
    #[inline]
    pub(super) fn leading_spaces_to_zeros(x: u64, n: u32) -> Option<u64> {
        let high = ones(n) << 7;
        // 0x80 in the lanes that are spaces, i.e. zero in `diff`: the low
        // seven bits plus 0x7f set the high bit unless they are all zero
        // (without carrying into the next lane).
        let diff = x ^ (ones(n) * u64::from(b' '));
        let low7 = ones(n) * 0x7f;
        let spaces = !(((diff & low7) + low7) | diff) & high;
        // Spaces in lanes 0..k make 0xff in those lanes, 2^(8k) - 1.
        let run = (spaces >> 7) * 0xff;
        if run & run.wrapping_add(1) != 0 || spaces >> (8 * (n - 1)) != 0 {
            return None;
        }
        // A space (0x20) plus 0x10 is '0' (0x30).
        Some(x + (spaces >> 7) * 0x10)
    }

    /// The decimal number in lanes `0..n` (`n` <= 8, lane 0 the most
    /// significant digit); `None` unless all `n` lanes are ASCII digits.
    #[inline]
    pub(super) fn digits_value(x: u64, n: u32) -> Option<u64> {
        let (ones, high) = (ones(n), ones(n) << 7);
        // Lane b < 0x80: (b | 0x80) - 0x30 keeps its high bit iff b >= '0';
        // b + 0x46 sets it iff b > '9'.  Neither carries into the next lane.
        let at_least_0 = ((x | high) - ones * 0x30) & high;
        let above_9 = (x + ones * 0x46) & high;
        if x & high != 0 || at_least_0 != high || above_9 != 0 {
            return None;
        }
        // Digit values, padded to eight digits with leading zeros, then
        // combined pairwise: 2 digits per 16-bit lane, 4 per 32-bit lane,
        // then all 8 (each step fits its lane, so nothing carries over).
        let mut v = (x - ones * 0x30) << (8 * (8 - n));
        v = (v * 10 + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
        v = (v * 100 + (v >> 16)) & 0x0000_ffff_0000_ffff;
        v = (v * 10_000 + (v >> 32)) & 0xffff_ffff;
        Some(v)
    }
}

/// Length in bytes of the kernel tokens at the start of `s` and their timestamp.
#[inline]
fn scan_kernel_tokens(s: &str) -> Option<(usize, Option<u64>)> {
    if !s.starts_with(['[', '<']) {
        return None;
    }
    if let Some(r) = fast_printk_time(s.as_bytes()) {
        return Some(r);
    }
    scan_kernel_tokens_grammar(s)
}

/// [`scan_kernel_tokens`] by the `nom` grammar alone.
fn scan_kernel_tokens_grammar(s: &str) -> Option<(usize, Option<u64>)> {
    kernel_tokens(s)
        .ok()
        .map(|(rest, ts)| (s.len() - rest.len(), ts))
}

// ---------------------------------------------------------------------------
// KTAP line grammar (on the prefix-stripped line).

fn py_space0(input: &str) -> IResult<&str, &str> {
    take_while(is_py_space).parse(input)
}

fn number(input: &str) -> IResult<&str, u64> {
    map(take_while1(|c: char| c.is_ascii_digit()), saturating_u64).parse(input)
}

/// `\s*(K)TAP version N$`
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

/// `\s*# Subtest: (.*)$`
fn subtest_line(input: &str) -> IResult<&str, Line<'_>> {
    map(
        preceded((py_space0, tag("# Subtest: ")), nom::combinator::rest),
        Line::Subtest,
    )
    .parse(input)
}

/// `\s*1\.\.([0-9]+)` (anything may follow, like the kernel's regex).
fn plan_line(input: &str) -> IResult<&str, Line<'_>> {
    map(preceded((py_space0, tag("1..")), number), Line::Plan).parse(input)
}

/// `\s*(ok|not ok) ([0-9]+)` -> (ok, number, rest after the number).
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

/// The candidate name starts that the regex ` ?(:?- )?` allows, in the order
/// Python's backtracking tries them (greedy first).
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

/// kunit's `TEST_RESULT` regex: `([^#]*)( # .*)?$` after the name start.
/// Returns (name, text after " # " if present).
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

/// kunit's `TEST_RESULT_SKIP` regex: `(.*) # SKIP ?(.*)$` after the name start
/// (greedy: the last ` # SKIP`).  Returns (name, reason).
fn kunit_skip_at(s: &str) -> Option<(&str, &str)> {
    let p = s.rfind(" # SKIP")?;
    let reason = &s[p + " # SKIP".len()..];
    Some((&s[..p], reason.strip_prefix(' ').unwrap_or(reason)))
}

/// Spec directive parsing of the text after ` # `.
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

/// Byte-level fast path of [`parse_result`] for the commonest result line:
/// `\s*(ok|not ok) N name` where the name contains no `#` and does not
/// start with `-` or `:` (so the grammar's name-start alternatives and
/// directive parsing all reduce to "the name is everything after the
/// space").  `None` means "use the grammar".
#[inline]
fn fast_result(text: &str) -> Option<ResultLine<'_>> {
    let b = text.as_bytes();
    let mut i = 0;
    while b.get(i).copied().is_some_and(is_ascii_py_space) {
        i += 1;
    }
    let ok = match b.get(i)? {
        b'o' if b[i..].starts_with(b"ok ") => {
            i += 3;
            true
        }
        b'n' if b[i..].starts_with(b"not ok ") => {
            i += 7;
            false
        }
        _ => return None,
    };
    let digits_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == digits_start
        || b.get(i) != Some(&b' ')
        || matches!(b.get(i + 1), Some(b'-' | b':'))
        || memchr::memchr(b'#', &b[i..]).is_some()
    {
        return None;
    }
    let name = &text[i + 1..];
    Some(ResultLine {
        ok,
        number: saturating_u64(&text[digits_start..i]),
        plain_name: name,
        name,
        directive: None,
        reason: "",
        kunit_skip: false,
    })
}

/// Parse a result line.  `None` if the line is not a result line.
#[inline]
pub fn parse_result(text: &str) -> Option<ResultLine<'_>> {
    fast_result(text).or_else(|| parse_result_grammar(text))
}

/// [`parse_result`] by the `nom` grammar alone.
pub fn parse_result_grammar(text: &str) -> Option<ResultLine<'_>> {
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

/// Classify a prefix-stripped line.
pub fn classify(text: &str) -> (Line<'_>, bool) {
    classify_at(text, py_space_len(text))
}

/// [`classify`] given the byte length `ws` of the leading whitespace.
#[inline]
fn classify_at(text: &str, ws: usize) -> (Line<'_>, bool) {
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

/// The part of lexing a raw line that does not depend on the lexer's state
/// (so it can be done ahead of time, in another thread): trailing
/// whitespace, kernel prefix tokens and end markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prelexed {
    /// Length of the line without trailing whitespace.
    len: usize,
    /// Length and timestamp of its leading kernel prefix tokens.
    tokens: Option<(usize, Option<u64>)>,
    /// Whether it contains one of kunit's end markers.
    end_marker: bool,
}

/// The state-independent part of lexing `raw` (see [`Prelexed`]).
#[inline]
pub fn prelex(raw: &str) -> Prelexed {
    prelex_marked(raw, has_end_marker(py_rstrip(raw)))
}

/// [`prelex`] for a line of which the caller already knows whether it
/// contains one of the [`END_MARKERS`] (found by searching a whole block of
/// lines at once).
#[inline]
pub fn prelex_marked(raw: &str, end_marker: bool) -> Prelexed {
    let stripped = py_rstrip(raw);
    Prelexed {
        len: stripped.len(),
        tokens: scan_kernel_tokens(stripped),
        end_marker,
    }
}

/// Find `KTAP version N` / `TAP version N` at the end of a raw line (kunit's
/// `KTAP_START.search`/`TAP_START.search`); returns the prefix length in bytes.
fn find_version_start(raw: &str) -> Option<usize> {
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

/// Number of characters in the first `ws` bytes of `s`.
#[inline]
fn chars_in(s: &str, ws: usize) -> usize {
    if s.as_bytes()[..ws].is_ascii() {
        ws
    } else {
        s[..ws].chars().count()
    }
}

/// Number of leading whitespace characters.
#[cfg(test)]
fn leading_ws(s: &str) -> usize {
    chars_in(s, py_space_len(s))
}

/// Text that every line whose lexing depends on whether the tree builder
/// is idle contains (see [`Lexer::lex_ahead`]).
pub const VERSION_MARKER: &str = "TAP version ";

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
    // Lines are at most MAX_LINE_BYTES (1 MiB) long.
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
pub struct Token {
    kind: TokenKind,
    text: (u32, u32),
    indent: usize,
    timestamp: Option<u64>,
    malformed_result: bool,
}

impl Token {
    /// `lexed`, a lexed form of the line `raw`, as a token.
    pub fn of(raw: &str, lexed: &Lexed<'_>) -> Token {
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
    pub fn lexed<'a>(&self, raw: &'a str) -> Lexed<'a> {
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

/// The end of [`Lexer::log_line_ahead`]: whether the line of `len` bytes
/// (without trailing whitespace) is a plain log line after `tokens` bytes
/// of kernel tokens and the run's `structural_ws` whitespace characters.
#[inline]
fn plain_log_after(
    raw: &[u8],
    len: usize,
    tokens: usize,
    timestamp: Option<u64>,
    structural_ws: usize,
) -> Option<PlainLog> {
    let line = raw.get(..len)?;
    let rest = line.get(tokens..)?;
    // The prefix's whitespace (at most `structural_ws` characters).
    let mut cut = 0;
    while cut < structural_ws && rest.get(cut).copied().is_some_and(is_ascii_py_space) {
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
    // Lines are at most MAX_LINE_BYTES (1 MiB) long.
    Some(PlainLog {
        text: ((tokens + cut) as u32, len as u32),
        timestamp,
    })
}

/// A plain log line lexed ahead: a [`Line::Diagnostic`] whose first
/// character after the indentation is ASCII and not `#` (so it is no KTAP
/// attribute either), after a prefix of kernel tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainLog {
    /// Byte range of the text (the line without its prefix) in the line.
    pub text: (u32, u32),
    /// printk timestamp of the line in microseconds, if it had one.
    pub timestamp: Option<u64>,
}

impl PlainLog {
    /// The lexed line (`raw` must be the line it was made of).
    #[inline]
    pub fn lexed<'a>(&self, raw: &'a str) -> Lexed<'a> {
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

/// A line lexed ahead ([`Lexer::lex_ahead_log`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ahead {
    /// A plain log line.
    Log(PlainLog),
    /// Any line.
    Token(Token),
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
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A lexer in the same state (for tests: the state changes as lines
    /// are lexed).
    #[cfg(test)]
    fn clone_state(&self) -> Lexer {
        Lexer {
            prefix: self.prefix.clone(),
            generation: self.generation,
        }
    }

    /// A snapshot of the state.
    pub fn state(&self) -> LexerState {
        LexerState(self.prefix.clone())
    }

    /// Whether the state equals `state`.
    #[inline]
    pub fn is_in(&self, state: &LexerState) -> bool {
        self.prefix == state.0
    }

    /// Take over another lexer's state (see [`Lexer::state`]).
    pub fn set_state(&mut self, state: &LexerState) {
        if self.prefix != state.0 {
            self.prefix = state.0.clone();
            self.generation += 1;
        }
    }

    /// [`Lexer::lex_prelexed`] for a lexer running ahead of the tree
    /// builder, which cannot know whether the builder will be idle: lexes
    /// as if it will not be, which gives the same result unless the builder
    /// is idle and the line contains `TAP version ` (see
    /// [`VERSION_MARKER`]).  The result does not borrow the line.
    pub fn lex_ahead(&mut self, raw: &str, pre: Prelexed) -> Token {
        match self.lex_ahead_log(raw, pre) {
            Ahead::Log(log) => Token::of(raw, &log.lexed(raw)),
            Ahead::Token(token) => token,
        }
    }

    /// [`Lexer::lex_ahead`], with a plain log line (the commonest line)
    /// told apart, in a smaller form.
    #[inline]
    pub fn lex_ahead_log(&mut self, raw: &str, pre: Prelexed) -> Ahead {
        match self.log_line_ahead(raw, pre) {
            Some(log) => Ahead::Log(log),
            None => Ahead::Token(Token::of(raw, &self.lex_prelexed(raw, pre, false))),
        }
    }

    /// [`Lexer::lex_ahead_log`] of a raw line, of which the caller knows
    /// whether it contains one of the [`END_MARKERS`] (`end_marker`): what
    /// [`prelex_marked`] does, with printk's own timestamp layout (the
    /// commonest prefix) read first, in line.
    #[inline]
    pub fn lex_ahead_line(&mut self, raw: &str, end_marker: bool) -> Ahead {
        // A timestamp in this layout ends with its `]` (no whitespace), so
        // it is the same with or without the line's trailing whitespace.
        let stripped = py_rstrip(raw);
        let pre = Prelexed {
            len: stripped.len(),
            tokens: printk_time_fixed(raw.as_bytes()).or_else(|| scan_kernel_tokens(stripped)),
            end_marker,
        };
        self.lex_ahead_log(raw, pre)
    }

    /// The commonest line, lexed ahead without the general path: a log
    /// line of a run whose prefix is kernel tokens (a boot log or dmesg),
    /// whose first character after the prefix and the indentation cannot
    /// start a KTAP line.  `None` for every other line.  Its lexed form is
    /// exactly `self.lex_prelexed(raw, pre, false)` (tested).
    #[inline]
    fn log_line_ahead(&self, raw: &str, pre: Prelexed) -> Option<PlainLog> {
        let structural_ws = self.prefix.as_ref()?.structural_ws?;
        let (tokens, timestamp) = pre.tokens?;
        if pre.end_marker {
            return None;
        }
        plain_log_after(raw.as_bytes(), pre.len, tokens, timestamp, structural_ws)
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

    /// [`Lexer::lex`] with the state-independent part already done by
    /// [`prelex`] (`pre` must be `prelex(raw)`).
    pub fn lex_prelexed<'a>(&mut self, raw: &'a str, pre: Prelexed, idle: bool) -> Lexed<'a> {
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
            if raw.contains("kunit executor: ") {
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

    /// Lines exercising the fast paths and their borders.
    const FAST_PATH_LINES: &[&str] = &[
        "ok 1 name",
        "    ok 12 kmod_test_0001_driver",
        "\tnot ok 3 a b c",
        "ok 1 ",
        "ok 1",
        "ok 1 - name",
        "ok 1 :- name",
        "ok 1 -name",
        "ok 1 :name",
        "ok 1  two spaces",
        "ok 1 name # SKIP why",
        "ok 1 name#x",
        "ok 99999999999999999999999 huge",
        "ok x name",
        "okay 1 x",
        "not ok 2 \u{e9}t\u{e9} caf\u{e9}",
        "\u{a0}ok 1 nbsp",
        "\u{2028}not ok 1 sep",
        "[    1.234567] ok 1 x",
        "[12345.123456] x",
        "[    0.000000]",
        "[ 1 2.345678] space after a digit",
        "[     .234567] no seconds",
        "[    a.234567] letter",
        "[    1.23456a] letter",
        "[    1.234567][    T1] x",
        "[    1.234567]<6>x",
        "[    1.234567]x",
        "[123456.123456] wider",
        "[1.5] x",
        "[ 12.1234567] x",
        "[   1.000000][    T1] x",
        "[   1.000000]<6>x",
        "[   1.000000]",
        "[   1.] x",
        "[.5] x",
        "[ 99999999999999999999.000001] big",
        "<6>[ 1.000000] x",
        "[ T1] x",
        "reboot: System halted",
        "x Kernel panic - not syncing: VFS: y",
        "List of all partitions:",
        "System halted",
        "eboot: System halted",
        "SKIP KTAP List Kernel",
        "",
        " \t\r",
        "trailing \u{a0}\u{2000} ",
        "\u{1c}\u{1f} x",
    ];

    fn check_fast_paths(line: &str) {
        if let Some(fast) = fast_result(line) {
            assert_eq!(Some(fast), parse_result_grammar(line), "{line:?}");
        }
        assert_eq!(parse_result(line), parse_result_grammar(line), "{line:?}");
        if let Some(fast) = fast_printk_time(line.as_bytes()) {
            assert_eq!(Some(fast), scan_kernel_tokens_grammar(line), "{line:?}");
        }
        assert_eq!(
            has_end_marker(line),
            END_MARKERS.iter().any(|m| line.contains(m)),
            "{line:?}"
        );
        assert_eq!(py_rstrip(line), line.trim_end_matches(is_py_space));
        assert_eq!(py_lstrip(line), line.trim_start_matches(is_py_space));
        assert_eq!(
            leading_ws(line),
            line.chars().take_while(|&c| is_py_space(c)).count()
        );
    }

    /// `printk_time_fixed` a byte at a time (as it was before it read
    /// words).
    fn printk_time_fixed_bytewise(b: &[u8]) -> Option<(usize, Option<u64>)> {
        let stamp = b.get(..16)?;
        if stamp[0] != b'[' || stamp[6] != b'.' || stamp[13] != b']' {
            return None;
        }
        let mut secs: u64 = 0;
        let mut digits = 0;
        for &c in &stamp[1..6] {
            if c.is_ascii_digit() {
                secs = secs * 10 + u64::from(c - b'0');
                digits += 1;
            } else if c != b' ' || digits > 0 {
                return None;
            }
        }
        let mut micros: u64 = 0;
        for &c in &stamp[7..13] {
            if !c.is_ascii_digit() {
                return None;
            }
            micros = micros * 10 + u64::from(c - b'0');
        }
        if digits == 0 || matches!(stamp[14], b'[' | b'<') {
            return None;
        }
        Some((14, Some(secs * 1_000_000 + micros)))
    }

    #[test]
    fn printk_time_words_agree_with_bytes() {
        // Every seconds field made of bytes near the digits and the space
        // (and high ones), and every fraction position likewise.
        let near = [
            b' ', b'!', b'/', b'0', b'1', b'5', b'9', b':', b'\t', 0xb0, 0xa0, b'.',
        ];
        let mut checked = 0;
        let check = |stamp: &[u8; 16], checked: &mut u32| {
            assert_eq!(
                printk_time_fixed(stamp),
                printk_time_fixed_bytewise(stamp),
                "{:?}",
                String::from_utf8_lossy(stamp)
            );
            *checked += 1;
        };
        let mut stamp = *b"[12345.678901] x";
        for a in near {
            for b in near {
                for c in near {
                    for d in near {
                        for e in near {
                            stamp[1..6].copy_from_slice(&[a, b, c, d, e]);
                            check(&stamp, &mut checked);
                        }
                    }
                }
            }
        }
        let stamp = *b"[    1.000000] x";
        for pos in 7..13 {
            for v in near {
                let mut s = stamp;
                s[pos] = v;
                check(&s, &mut checked);
            }
        }
        for (pos, v) in [
            (0, b'<'),
            (6, b','),
            (13, b')'),
            (14, b'['),
            (14, b'<'),
            (14, b']'),
        ] {
            let mut s = stamp;
            s[pos] = v;
            check(&s, &mut checked);
        }
        check(b"[99999.999999] x", &mut checked);
        assert_eq!(
            printk_time_fixed(b"[    1.000000] x"),
            Some((14, Some(1_000_000)))
        );
        assert_eq!(
            printk_time_fixed(b"[12345.678901]]x"),
            Some((14, Some(12_345_678_901)))
        );
        assert!(checked > 200_000);
    }

    #[test]
    fn ascii_space_is_python_space() {
        for b in 0..=0x7fu8 {
            assert_eq!(is_ascii_py_space(b), is_py_space(char::from(b)), "{b:#x}");
        }
    }

    #[test]
    fn fast_paths_agree_with_the_grammar() {
        for line in FAST_PATH_LINES {
            check_fast_paths(line);
            for prefix in ["", "  ", "\u{a0}"] {
                check_fast_paths(&format!("{prefix}{line}"));
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_paths_agree_on_line_soup(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "ok", "not ok", " ", "1", "42", "-", ":", "#", " # ", "SKIP", "skip",
                    "name", "[", "]", ".", "<6>", "T1", "\t", "\u{a0}", "\u{e9}",
                    "List of all partitions:", "reboot: System halted", "K", "S",
                ]),
                0..12,
            )
        ) {
            check_fast_paths(&parts.concat());
        }
    }

    /// Lex `lines` ahead after `start`, with and without the log-line fast
    /// path: the same tokens.
    fn check_log_line_fast_path(start: &str, lines: &[&str]) {
        let mut lx = Lexer::new();
        lx.lex(start, true);
        for line in lines {
            let pre = prelex(line);
            let in_one_go = lx.clone_state().lex_ahead_line(line, has_end_marker(line));
            assert_eq!(
                in_one_go,
                lx.clone_state().lex_ahead_log(line, pre),
                "{line:?}"
            );
            let in_line = lx.clone_state().lex_ahead_line(line, has_end_marker(line));
            assert_eq!(
                in_line,
                lx.clone_state().lex_ahead_log(line, pre),
                "{line:?}"
            );
            let general = Token::of(line, &lx.clone_state().lex_prelexed(line, pre, false));
            assert_eq!(lx.lex_ahead(line, pre), general, "{start:?} then {line:?}");
        }
    }

    #[test]
    fn log_line_fast_path_agrees_with_the_general_path() {
        let lines = [
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
            "[    1.000000] 1..2",
            "[    1.000000] KTAP version 1",
            "[    1.000000] TAP version 14",
            "[    1.000000] x reboot: System halted",
            "[    2.5] x",
            "[    1.000000][  T1] x",
            "<6>[    1.000000] x",
            "x",
            "",
        ];
        for start in [
            "[    0.500000] KTAP version 1",
            "[    0.500000]   KTAP version 1",
            "[    0.500000]KTAP version 1",
            "<6>[    0.500000] KTAP version 1",
            "prefix: KTAP version 1",
            "KTAP version 1",
        ] {
            check_log_line_fast_path(start, &lines);
        }
    }

    proptest::proptest! {
        #[test]
        fn log_line_fast_path_agrees_on_line_soup(
            start in proptest::sample::select(vec![
                "[    0.500000] KTAP version 1",
                "[    0.500000]  KTAP version 1",
                "<6>[    0.500000] KTAP version 1",
                "[    0.500000][  T1] KTAP version 1",
            ]),
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "ok", "not ok", " ", "1", "-", ":", "#", " # ", "x", "K", "T", "o",
                    "n", "[    1.000000]", "[    1.000000] ", "[  T1]", "<6>", "\t",
                    "\u{a0}", "\u{e9}", "reboot: System halted", "TAP version 1",
                ]),
                0..8,
            )
        ) {
            check_log_line_fast_path(start, &[&parts.concat()]);
        }
    }

    #[test]
    fn non_kernel_prefix_is_cut_by_length() {
        let mut lx = Lexer::new();
        lx.lex("foo: TAP version 14", true);
        assert_eq!(lx.lex("bar: 1..2", false).line, Line::Plan(2));
        assert_eq!(lx.lex("xy", false).text, "");
    }
}
