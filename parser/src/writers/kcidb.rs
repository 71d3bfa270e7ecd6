// SPDX-License-Identifier: GPL-2.0
//! KCIDB writer: the document KernelCI's KCIDB takes (its I/O schema 5.3,
//! validated by the tests with the `kcidb-io` package from PyPI).
//!
//! The document has one checkout, one build and a test object for every
//! test of the tree (suites and their cases, at every level):
//!
//! * ids are `ORIGIN:...`; the build is `ORIGIN:BUILD` (`BUILD` given, or
//!   `log-` and a [`Fingerprint`] of the input bytes), the checkout
//!   `ORIGIN:CHECKOUT` (default the build's `BUILD`), a test
//!   `ORIGIN:BUILD:RUN:PATH` with the run's number in the whole input
//!   (from 1) and the test's path: the same input and options give the
//!   same ids, and tests of different builds never share one (a path and
//!   a run number hold no `:`, so the id splits back into its parts);
//! * `path` is the dot-separated names from the top-level suite, each
//!   name made of `[a-zA-Z0-9_-]` ([`component`]) and made unique among
//!   its siblings by `_2`, `_3`, ... in input order;
//! * `status` and `misc` as [`outcome`] decides; `duration` from printk
//!   timestamps; `log_excerpt` the test's log ([`excerpt`]); `start_time`
//!   the given time, if any.
//!
//! The build id may be known only when the whole input has been read, so
//! the test objects wait in a [`Spool`] with a hole where the build id
//! goes (a byte a JSON string never holds unescaped), filled in as the
//! document is written at the end.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::json::write_str;
use super::spool::Spool;
use crate::ktap::{Directive, Status, Test};

/// The schema version written (`version.major`, `version.minor`).
pub const SCHEMA_VERSION: (u32, u32) = (5, 3);

/// The schema's limit of a `log_excerpt`, in characters.
pub const MAX_EXCERPT_CHARS: usize = 16_384;

/// Where the build id goes in the spooled test objects.
const HOLE: u8 = 0x01;

/// Writer options.
#[derive(Debug, Clone)]
pub struct KcidbOptions {
    /// The CI system submitting the objects (`[a-z0-9_]+`).
    pub origin: String,
    /// The build id after `ORIGIN:` (default: `log-` and the input's
    /// fingerprint).
    pub build_id: Option<String>,
    /// The checkout id after `ORIGIN:` (default: the build's).
    pub checkout_id: Option<String>,
    /// `start_time` of every test, if known.
    pub start_time: Option<OffsetDateTime>,
    /// Dotted path components put in front of every test's path, as a
    /// fleet names its test jobs (`kunit.exec`, `kselftest.kmod`).
    pub path_prefix: Option<String>,
}

impl Default for KcidbOptions {
    fn default() -> Self {
        KcidbOptions {
            origin: "ktap2junit".to_owned(),
            build_id: None,
            checkout_id: None,
            start_time: None,
            path_prefix: None,
        }
    }
}

/// Check a path prefix: dotted components of `[a-zA-Z0-9_-]` (the
/// schema's path is `[.a-zA-Z0-9_-]*`; an empty component would leave
/// two dots).
pub fn check_path_prefix(prefix: &str) -> Result<(), String> {
    let ok = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if prefix.split('.').all(ok) {
        Ok(())
    } else {
        Err(format!(
            "path prefix {prefix:?}: must be dot-separated names of a-z, A-Z, 0-9, _ and - \
             (such as kunit.exec)"
        ))
    }
}

/// Check an origin: the schema's `[a-z0-9_]+`.
pub fn check_origin(origin: &str) -> Result<(), String> {
    if !origin.is_empty()
        && origin
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        Ok(())
    } else {
        Err(format!(
            "origin {origin:?}: must be one or more of a-z, 0-9 and _ (KCIDB's [a-z0-9_]+)"
        ))
    }
}

/// Check the part of an id after `ORIGIN:`: not empty, no control
/// characters (the schema's `.*` does not match a line break).
pub fn check_id(what: &str, id: &str) -> Result<(), String> {
    if id.is_empty() || id.chars().any(char::is_control) {
        Err(format!(
            "{what} {id:?}: must be non-empty, without control characters"
        ))
    } else {
        Ok(())
    }
}

impl KcidbOptions {
    /// Check every option.
    pub fn check(&self) -> Result<(), String> {
        check_origin(&self.origin)?;
        if let Some(b) = &self.build_id {
            check_id("build id", b)?;
        }
        if let Some(c) = &self.checkout_id {
            check_id("checkout id", c)?;
        }
        if let Some(t) = self.start_time {
            t.format(&Rfc3339)
                .map_err(|e| format!("start time {t}: {e}"))?;
        }
        if let Some(p) = &self.path_prefix {
            check_path_prefix(p)?;
        }
        Ok(())
    }
}

/// A 128-bit fingerprint of bytes (not cryptographic: it names an input,
/// it does not authenticate it).  Each input ends with its length, so
/// that moving bytes from one input to the next changes it.
#[derive(Debug, Clone)]
pub struct Fingerprint {
    a: u64,
    b: u64,
    /// Bytes of the current input.
    len: u64,
    /// Bytes not yet making a whole word.
    tail: [u8; 8],
    tail_len: usize,
}

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint {
            a: 0xcbf2_9ce4_8422_2325,
            b: 0x6c62_272e_07bb_0142,
            len: 0,
            tail: [0; 8],
            tail_len: 0,
        }
    }
}

/// splitmix64's finaliser.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Fingerprint {
    /// The fingerprint of one input.
    pub fn of(bytes: &[u8]) -> Self {
        let mut f = Fingerprint::default();
        f.update(bytes);
        f.end_input();
        f
    }

    #[inline]
    fn word(&mut self, w: u64) {
        self.a = (self.a ^ w)
            .wrapping_mul(0x0000_0100_0000_01b3)
            .rotate_left(29);
        self.b = (self.b ^ w.rotate_left(32))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(31)
            .wrapping_add(self.a);
    }

    /// More bytes of the current input.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.len = self.len.wrapping_add(bytes.len() as u64);
        if self.tail_len > 0 {
            let n = bytes.len().min(8 - self.tail_len);
            self.tail[self.tail_len..self.tail_len + n].copy_from_slice(&bytes[..n]);
            self.tail_len += n;
            bytes = &bytes[n..];
            if self.tail_len < 8 {
                return;
            }
            self.word(u64::from_le_bytes(self.tail));
            self.tail_len = 0;
        }
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.word(u64::from_le_bytes([
                w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7],
            ]));
        }
        let rest = words.remainder();
        self.tail[..rest.len()].copy_from_slice(rest);
        self.tail_len = rest.len();
    }

    /// The end of the current input.
    pub fn end_input(&mut self) {
        let mut last = [0u8; 8];
        last[..self.tail_len].copy_from_slice(&self.tail[..self.tail_len]);
        // The tail's length is in the total length.
        self.word(u64::from_le_bytes(last));
        self.word(self.len);
        self.len = 0;
        self.tail_len = 0;
    }

    /// 32 hex digits.
    pub fn hex(&self) -> String {
        let hi = mix(self.a ^ mix(self.b));
        let lo = mix(self.b.wrapping_add(hi));
        format!("{hi:016x}{lo:016x}")
    }
}

/// A reader that adds what it reads to a shared [`Fingerprint`] (the
/// parser reads in a worker thread).  Ends the input at end of file.
#[derive(Debug)]
pub struct FingerprintReader<R> {
    inner: R,
    fingerprint: Arc<Mutex<Fingerprint>>,
    ended: bool,
}

impl<R> FingerprintReader<R> {
    /// Read `inner`, adding to `fingerprint`.
    pub fn new(inner: R, fingerprint: Arc<Mutex<Fingerprint>>) -> Self {
        FingerprintReader {
            inner,
            fingerprint,
            ended: false,
        }
    }
}

impl<R: Read> Read for FingerprintReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut f = self
            .fingerprint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if n > 0 {
            f.update(&buf[..n]);
        } else if !buf.is_empty() && !self.ended {
            f.end_input();
            self.ended = true;
        }
        Ok(n)
    }
}

/// A KCIDB test status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KStatus {
    /// `PASS`.
    Pass,
    /// `FAIL`.
    Fail,
    /// `ERROR`: the test did not complete.
    Error,
    /// `MISS`: the test did not run.
    Miss,
    /// `SKIP`.
    Skip,
}

impl KStatus {
    /// The schema's name.
    pub fn as_str(self) -> &'static str {
        match self {
            KStatus::Pass => "PASS",
            KStatus::Fail => "FAIL",
            KStatus::Error => "ERROR",
            KStatus::Miss => "MISS",
            KStatus::Skip => "SKIP",
        }
    }
}

/// A test's status and what `misc` says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<'t> {
    /// `status`.
    pub status: KStatus,
    /// `misc.directive`: the result line's directive, if it decided.
    pub directive: Option<Directive>,
    /// `misc.reason` (empty: none).
    pub reason: Cow<'t, str>,
}

/// The status of a test: ok → PASS, not ok → FAIL, `# SKIP` → SKIP,
/// `# TODO`/`# XFAIL` on a failure → SKIP (as the JUnit writer treats
/// them; on a pass the directive is noted), `# TIMEOUT`/`# ERROR` and
/// crashed → ERROR, promised by a plan but never reported → MISS; a suite
/// that ran none of its subtests → SKIP (JUnit: skipped, "no tests run").
pub fn outcome(t: &Test) -> Outcome<'_> {
    let d = t.details();
    let reason = |s: &'static str| Cow::Borrowed(s);
    if t.missing {
        return Outcome {
            status: KStatus::Miss,
            directive: None,
            reason: Cow::Owned(format!(
                "no result for test {}: the plan promised more tests than were reported \
                 (the log stopped or the run was interrupted)",
                t.number
            )),
        };
    }
    match (t.status, d.directive) {
        (
            Status::Success | Status::Failure,
            Some(dir @ (Directive::Timeout | Directive::Error)),
        ) => Outcome {
            status: KStatus::Error,
            directive: Some(dir),
            reason: Cow::Borrowed(&d.diagnostic),
        },
        (Status::Success, dir) => Outcome {
            status: KStatus::Pass,
            directive: dir.filter(|d| matches!(d, Directive::Todo | Directive::Xfail)),
            reason: Cow::Borrowed(&d.diagnostic),
        },
        (Status::Failure, _) if t.own_failure && !t.subtests.is_empty() => Outcome {
            status: KStatus::Fail,
            directive: None,
            reason: reason("suite reported not ok, but none of its subtests failed"),
        },
        (Status::Failure, _) => Outcome {
            status: KStatus::Fail,
            directive: None,
            reason: Cow::Borrowed(&d.diagnostic),
        },
        (Status::Skipped, dir) => Outcome {
            status: KStatus::Skip,
            directive: dir.filter(|d| matches!(d, Directive::Todo | Directive::Xfail)),
            reason: Cow::Borrowed(&d.skip_reason),
        },
        (Status::NoTests, _) => Outcome {
            status: KStatus::Skip,
            directive: None,
            reason: reason("no tests run"),
        },
        (Status::Crashed | Status::FailureToParse, _) => Outcome {
            status: KStatus::Error,
            directive: None,
            reason: if t.result_line == 0 {
                reason("test crashed: no result line (the log stopped or the run was interrupted)")
            } else {
                reason("a subtest crashed or is missing")
            },
        },
    }
}

/// A test's name as a path component: `[a-zA-Z0-9_-]`, every other
/// character `_`; `test_N` for a test without a name.
pub fn component(t: &Test) -> Cow<'_, str> {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if t.name.is_empty() {
        Cow::Owned(format!("test_{}", t.number))
    } else if t.name.chars().all(ok) {
        Cow::Borrowed(&t.name)
    } else {
        Cow::Owned(
            t.name
                .chars()
                .map(|c| if ok(c) { c } else { '_' })
                .collect(),
        )
    }
}

/// `base`, or `base_2`, `base_3`, ... if the siblings before it took it.
pub fn unique(used: &mut HashSet<String>, base: &str) -> String {
    if used.insert(base.to_owned()) {
        return base.to_owned();
    }
    (2u64..)
        .map(|n| format!("{base}_{n}"))
        .find(|c| used.insert(c.clone()))
        .unwrap_or_default()
}

/// A `log_excerpt`: at most [`MAX_EXCERPT_CHARS`] characters (the end of
/// the log, where a failure shows, after a line saying how much was cut),
/// NUL made U+FFFD (the schema allows none).  The text is UTF-8 already
/// (the reader made invalid bytes U+FFFD).
pub fn excerpt(log: &str) -> Cow<'_, str> {
    let chars = log.chars().count();
    let mut out: Cow<'_, str> = if chars <= MAX_EXCERPT_CHARS {
        Cow::Borrowed(log)
    } else {
        let note = |cut: usize| format!("[ktap2junit: {cut} characters cut]\n");
        // The note's length depends on the number it holds.
        let mut cut = chars - MAX_EXCERPT_CHARS;
        while chars - cut + note(cut).len() > MAX_EXCERPT_CHARS {
            cut += 1;
        }
        let start = log.char_indices().nth(cut).map_or(log.len(), |(i, _)| i);
        Cow::Owned(note(cut) + &log[start..])
    };
    if out.contains('\0') {
        out = Cow::Owned(out.replace('\0', "\u{fffd}"));
    }
    out
}

/// The log excerpt of a test: its log, and how many lines were not kept.
fn test_log(t: &Test) -> Option<String> {
    let d = t.details();
    if d.log.is_empty() && d.log_dropped == 0 {
        return None;
    }
    let mut s = d.log.clone();
    if d.log_dropped > 0 {
        if !s.is_empty() {
            s.push('\n');
        }
        let _ = write!(s, "[ktap2junit: {} more log lines not kept]", d.log_dropped);
    }
    Some(s)
}

/// Seconds with six decimals (a JSON number).
fn seconds(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// Writes a KCIDB document while the input is being parsed: each
/// top-level test (and every test in it) is turned into test objects as
/// soon as it is complete; they wait in a [`Spool`] for the build id,
/// known at [`KcidbStream::finish`].
pub struct KcidbStream<'w, W: Write + ?Sized> {
    sink: &'w mut W,
    opts: KcidbOptions,
    /// `"origin": "...", ` after the ids.
    origin_field: Vec<u8>,
    /// `"start_time": "..."`, if there is one.
    start_field: Vec<u8>,
    spool: Spool,
    /// The run the top-level tests in `used` belong to.
    run: usize,
    /// Path components of the top-level tests of `run`.
    used: HashSet<String>,
    /// Test objects written.
    tests: u64,
}

impl<'w, W: Write + ?Sized> KcidbStream<'w, W> {
    /// Start the document on `w` (nothing is written before
    /// [`KcidbStream::finish`]).
    pub fn new(w: &'w mut W, opts: &KcidbOptions) -> io::Result<Self> {
        opts.check().map_err(io::Error::other)?;
        let mut origin_field = b"\"origin\": ".to_vec();
        write_str(&mut origin_field, &opts.origin)?;
        origin_field.extend_from_slice(b", ");
        let mut start_field = Vec::new();
        if let Some(t) = opts.start_time {
            let t = t.format(&Rfc3339).map_err(io::Error::other)?;
            start_field.extend_from_slice(b"\"start_time\": ");
            write_str(&mut start_field, &t)?;
        }
        Ok(KcidbStream {
            sink: w,
            opts: opts.clone(),
            origin_field,
            start_field,
            spool: Spool::default(),
            run: 0,
            used: HashSet::new(),
            tests: 0,
        })
    }

    /// The next top-level test (a run's subtest), in input order, with
    /// the index of its run in the whole input (from 0).
    pub fn test(&mut self, run: usize, t: &Test) -> io::Result<()> {
        if run != self.run {
            self.run = run;
            self.used.clear();
        }
        let name = unique(&mut self.used, &component(t));
        let mut path = match &self.opts.path_prefix {
            Some(p) => format!("{p}.{name}"),
            None => name,
        };
        self.node(t, &mut path)?;
        self.spool.settle();
        Ok(())
    }

    /// The object of `t` at `path`, then those of its subtests.
    fn node(&mut self, t: &Test, path: &mut String) -> io::Result<()> {
        self.object(t, path)?;
        let mut used = HashSet::new();
        for s in &t.subtests {
            let len = path.len();
            path.push('.');
            path.push_str(&unique(&mut used, &component(s)));
            self.node(s, path)?;
            path.truncate(len);
        }
        Ok(())
    }

    /// One test object, on a line of its own.
    fn object(&mut self, t: &Test, path: &str) -> io::Result<()> {
        let w = &mut self.spool.mem;
        w.extend_from_slice(if self.tests == 0 { b"\n  " } else { b",\n  " });
        self.tests += 1;
        // The id's parts hold no character JSON escapes.
        write!(
            w,
            "{{\"id\": \"{}:{}:{path}\", ",
            HOLE as char,
            self.run + 1
        )?;
        write!(w, "\"build_id\": \"{}\", ", HOLE as char)?;
        w.extend_from_slice(&self.origin_field);
        write!(w, "\"path\": \"{path}\", ")?;
        let o = outcome(t);
        write!(w, "\"status\": \"{}\"", o.status.as_str())?;
        if !self.start_field.is_empty() {
            w.extend_from_slice(b", ");
            w.extend_from_slice(&self.start_field);
        }
        if let Some(us) = t.time_us {
            write!(w, ", \"duration\": {}", seconds(us))?;
        }
        if let Some(log) = test_log(t) {
            w.extend_from_slice(b", \"log_excerpt\": ");
            write_str(w, &excerpt(&log))?;
        }
        let name = component(t);
        let attributes = &t.details().attributes;
        let renamed = !t.name.is_empty() && name != t.name.as_str();
        if o.directive.is_some() || !o.reason.is_empty() || renamed || !attributes.is_empty() {
            w.extend_from_slice(b", \"misc\": {");
            let mut sep: &[u8] = b"";
            if renamed {
                w.extend_from_slice(b"\"name\": ");
                write_str(w, &t.name)?;
                sep = b", ";
            }
            if let Some(d) = o.directive {
                w.extend_from_slice(sep);
                write!(w, "\"directive\": \"{}\"", d.as_str())?;
                sep = b", ";
            }
            if !o.reason.is_empty() {
                w.extend_from_slice(sep);
                w.extend_from_slice(b"\"reason\": ");
                write_str(w, &o.reason.replace('\0', "\u{fffd}"))?;
                sep = b", ";
            }
            if !attributes.is_empty() {
                w.extend_from_slice(sep);
                w.extend_from_slice(b"\"attributes\": {");
                for (i, (k, v)) in attributes.iter().enumerate() {
                    if i > 0 {
                        w.extend_from_slice(b", ");
                    }
                    write_str(w, k)?;
                    w.extend_from_slice(b": ");
                    write_str(w, v)?;
                }
                w.push(b'}');
            }
            w.push(b'}');
        }
        w.push(b'}');
        Ok(())
    }

    /// Write the document and flush the writer; `input` is the
    /// fingerprint of every input, for the default build id.  Returns the
    /// number of test objects.
    pub fn finish(self, input: &Fingerprint) -> io::Result<u64> {
        let build = match &self.opts.build_id {
            Some(b) => b.clone(),
            None => format!("log-{}", input.hex()),
        };
        let checkout = self
            .opts
            .checkout_id
            .clone()
            .unwrap_or_else(|| build.clone());
        let origin = &self.opts.origin;
        let id = |suffix: &str| -> io::Result<Vec<u8>> {
            let mut v = Vec::new();
            write_str(&mut v, &format!("{origin}:{suffix}"))?;
            Ok(v)
        };
        let (build_id, checkout_id) = (id(&build)?, id(&checkout)?);
        let mut head = Vec::new();
        let (major, minor) = SCHEMA_VERSION;
        write!(
            head,
            "{{\"version\": {{\"major\": {major}, \"minor\": {minor}}},\n\"checkouts\": [\n  {{\"id\": "
        )?;
        head.extend_from_slice(&checkout_id);
        head.extend_from_slice(b", ");
        head.extend_from_slice(&self.origin_field[..self.origin_field.len() - 2]);
        head.extend_from_slice(b"}\n],\n\"builds\": [\n  {\"id\": ");
        head.extend_from_slice(&build_id);
        head.extend_from_slice(b", ");
        head.extend_from_slice(&self.origin_field);
        head.extend_from_slice(b"\"checkout_id\": ");
        head.extend_from_slice(&checkout_id);
        head.extend_from_slice(b"}\n],\n\"tests\": [");
        self.sink.write_all(&head)?;
        let tests = self.tests;
        let tail: &[u8] = if tests == 0 { b"]}\n" } else { b"\n]}\n" };
        // The build id without its quotes fills every hole.
        let fill = &build_id[1..build_id.len() - 1];
        self.spool.write_to(&mut Fill {
            sink: &mut *self.sink,
            fill,
        })?;
        self.sink.write_all(tail)?;
        self.sink.flush()?;
        Ok(tests)
    }
}

/// Copies bytes, writing `fill` for every [`HOLE`].
struct Fill<'a, W: Write + ?Sized> {
    sink: &'a mut W,
    fill: &'a [u8],
}

impl<W: Write + ?Sized> Write for Fill<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut rest = buf;
        while let Some(i) = memchr::memchr(HOLE, rest) {
            self.sink.write_all(&rest[..i])?;
            self.sink.write_all(self.fill)?;
            rest = &rest[i + 1..];
        }
        self.sink.write_all(rest)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

/// Write the KCIDB document for the given runs (of one input, or of
/// several in order); `input` is the fingerprint of the inputs' bytes.
pub fn write_kcidb<'t, W, I>(
    w: &mut W,
    runs: I,
    opts: &KcidbOptions,
    input: &Fingerprint,
) -> io::Result<u64>
where
    W: Write + ?Sized,
    I: IntoIterator<Item = &'t Test>,
{
    let mut stream = KcidbStream::new(w, opts)?;
    for (k, run) in runs.into_iter().enumerate() {
        for t in &run.subtests {
            stream.test(k, t)?;
        }
    }
    stream.finish(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_str;

    /// The KCIDB document `write_kcidb` makes of `runs`, parsed back.
    fn document(runs: &[Test], opts: &KcidbOptions, input: &[u8]) -> serde_json::Value {
        let mut v = Vec::new();
        write_kcidb(&mut v, runs, opts, &Fingerprint::of(input)).expect("write");
        serde_json::from_slice(&v).expect("JSON")
    }

    /// Every test of `log` with its outcome, as `path STATUS directive|reason`.
    fn outcomes(log: &str) -> Vec<String> {
        fn walk(t: &Test, path: &str, out: &mut Vec<String>) {
            let o = outcome(t);
            out.push(format!(
                "{path} {} {}|{}",
                o.status.as_str(),
                o.directive.map_or("", Directive::as_str),
                o.reason
            ));
            for s in &t.subtests {
                walk(s, &format!("{path}.{}", component(s)), out);
            }
        }
        let parsed = parse_str(log);
        let mut out = Vec::new();
        for run in &parsed.runs {
            for t in &run.subtests {
                walk(t, &component(t), &mut out);
            }
        }
        out
    }

    #[test]
    fn every_result_maps_to_its_status() {
        let log = "KTAP version 1\n1..9\n\
                   ok 1 passes\n\
                   not ok 2 fails\n\
                   ok 3 skipped # SKIP no device\n\
                   not ok 4 todo # TODO not yet\n\
                   not ok 5 xfail # XFAIL known bug\n\
                   not ok 6 timeout # TIMEOUT 45 seconds\n\
                   ok 7 error # ERROR could not start\n\
                   ok 8 xpass # xfail passes anyway\n";
        assert_eq!(
            outcomes(log),
            [
                "passes PASS |",
                "fails FAIL |",
                "skipped SKIP |no device",
                "todo SKIP TODO|TODO: not yet",
                "xfail SKIP XFAIL|XFAIL: known bug",
                "timeout ERROR TIMEOUT|45 seconds",
                "error ERROR ERROR|could not start",
                "xpass PASS XFAIL|passes anyway",
                "test_9 MISS |no result for test 9: the plan promised more tests than were \
                 reported (the log stopped or the run was interrupted)",
            ]
        );
    }

    #[test]
    fn crashed_tests_and_suites_are_errors_with_their_reason() {
        let log = "KTAP version 1\n1..2\n    KTAP version 1\n    # Subtest: suite\n    1..2\n\
                   \x20   ok 1 a\n    # Subtest: b\n    not ok... garbage\n";
        let got = outcomes(log);
        let crash = "test crashed: no result line (the log stopped or the run was interrupted)";
        assert_eq!(got[0], format!("suite ERROR |{crash}"), "{got:#?}");
        assert_eq!(got[1], "suite.a PASS |");
        assert_eq!(got[2], format!("suite.b ERROR |{crash}"));
        assert!(got[3].starts_with("test_2 MISS |"), "{got:#?}");

        // A suite whose result line came, with a crashed subtest.
        let log = "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..2\n\
                   \x20   ok 1 a\nnot ok 1 s\n";
        assert_eq!(
            outcomes(log),
            [
                "s ERROR |a subtest crashed or is missing",
                "s.a PASS |",
                "s.test_2 MISS |no result for test 2: the plan promised more tests than \
                 were reported (the log stopped or the run was interrupted)"
            ]
        );
        // A suite that ran none of its subtests.
        assert_eq!(
            outcomes(
                "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..0\nok 1 s\n"
            ),
            ["s SKIP |no tests run"]
        );
    }

    #[test]
    fn names_become_path_components_and_collisions_get_a_number() {
        let log = "KTAP version 1\n1..6\nok 1 a.b\nok 2 a b\nok 3 a_b\nok 4 a_b_2\n\
                   ok 5 caf\u{e9}\u{1b}\nok 6\n";
        let parsed = parse_str(log);
        let doc = document(&parsed.runs, &KcidbOptions::default(), b"x");
        let paths: Vec<&str> = doc["tests"]
            .as_array()
            .expect("tests")
            .iter()
            .map(|t| t["path"].as_str().expect("path"))
            .collect();
        assert_eq!(
            paths,
            ["a_b", "a_b_2", "a_b_3", "a_b_2_2", "caf__", "test_6"]
        );
        assert_eq!(doc["tests"][0]["misc"]["name"], "a.b");
        assert_eq!(doc["tests"][4]["misc"]["name"], "caf\u{e9}\u{1b}");
        assert!(doc["tests"][2].get("misc").is_none());
    }

    #[test]
    fn excerpts_keep_the_end_within_the_limit_without_nul() {
        assert_eq!(excerpt("a\0b"), "a\u{fffd}b");
        let short = "é".repeat(MAX_EXCERPT_CHARS);
        assert!(matches!(excerpt(&short), Cow::Borrowed(_)));
        for len in [MAX_EXCERPT_CHARS + 1, 20_000, 1_000_000] {
            let log: String = (0..len)
                .map(|i| ['é', 'x', '\0', '😀'][i % 4])
                .collect::<String>()
                + "END";
            let e = excerpt(&log);
            let n = e.chars().count();
            assert!(
                (MAX_EXCERPT_CHARS - 1..=MAX_EXCERPT_CHARS).contains(&n),
                "{len}: {n}"
            );
            assert!(e.ends_with("END") && !e.contains('\0'), "{len}");
            let (note, kept) = e.split_once('\n').expect("note");
            let cut = len + 3 - kept.chars().count();
            assert_eq!(note, format!("[ktap2junit: {cut} characters cut]"), "{len}");
            assert!(log.ends_with(&kept.replace('\u{fffd}', "\0")), "{len}");
        }
    }

    #[test]
    fn fingerprints_do_not_depend_on_how_the_bytes_come() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = Fingerprint::of(&bytes).hex();
        assert_eq!(whole.len(), 32);
        for step in [1, 3, 7, 8, 9, 64, 999] {
            let mut f = Fingerprint::default();
            for c in bytes.chunks(step) {
                f.update(c);
            }
            f.end_input();
            assert_eq!(f.hex(), whole, "{step}");
        }
        // Any change, or moving the boundary between inputs, changes it.
        let mut other = bytes.clone();
        other[500] ^= 1;
        assert_ne!(Fingerprint::of(&other).hex(), whole);
        assert_ne!(Fingerprint::of(&bytes[..999]).hex(), whole);
        assert_ne!(Fingerprint::of(b"").hex(), Fingerprint::of(b"\0").hex());
        let mut two = Fingerprint::default();
        two.update(&bytes[..10]);
        two.end_input();
        two.update(&bytes[10..]);
        two.end_input();
        let mut two_b = Fingerprint::default();
        two_b.update(&bytes[..11]);
        two_b.end_input();
        two_b.update(&bytes[11..]);
        two_b.end_input();
        assert_ne!(two.hex(), two_b.hex());
    }

    /// The test ids of a document.
    fn ids(doc: &[u8]) -> Vec<String> {
        let doc: serde_json::Value = serde_json::from_slice(doc).expect("JSON");
        doc["tests"]
            .as_array()
            .expect("tests")
            .iter()
            .map(|t| t["id"].as_str().expect("id").to_owned())
            .collect()
    }

    #[test]
    fn ids_follow_build_run_and_path() {
        // Two runs with the same tests, written twice.
        let log = "KTAP version 1\n1..2\nok 1 a\nok 2 a\nKTAP version 1\n1..1\nok 1 a\n";
        let parsed = parse_str(log);
        let write = |opts: &KcidbOptions, input: &[u8]| {
            let mut v = Vec::new();
            write_kcidb(&mut v, &parsed.runs, opts, &Fingerprint::of(input)).expect("write");
            v
        };
        let opts = KcidbOptions::default();
        let first = write(&opts, log.as_bytes());
        assert_eq!(
            first,
            write(&opts, log.as_bytes()),
            "same input, same document"
        );
        let fp = Fingerprint::of(log.as_bytes()).hex();
        assert_eq!(
            ids(&first),
            [
                format!("ktap2junit:log-{fp}:1:a"),
                format!("ktap2junit:log-{fp}:1:a_2"),
                format!("ktap2junit:log-{fp}:2:a"),
            ]
        );
        // Another input's bytes, another build id: no id in common.
        let other = ids(&write(&opts, b"other bytes"));
        assert!(other.iter().all(|i| !ids(&first).contains(i)), "{other:?}");
        // A build id given: it is used, and the input does not matter.
        let given = KcidbOptions {
            origin: "lab_1".into(),
            build_id: Some("b:1".into()),
            ..KcidbOptions::default()
        };
        let doc = write(&given, b"whatever");
        assert_eq!(doc, write(&given, b"anything else"));
        assert_eq!(ids(&doc)[2], "lab_1:b:1:2:a");
        let v: serde_json::Value = serde_json::from_slice(&doc).expect("JSON");
        assert_eq!(v["builds"][0]["id"], "lab_1:b:1");
        assert_eq!(v["checkouts"][0]["id"], "lab_1:b:1");
        assert_eq!(v["builds"][0]["checkout_id"], "lab_1:b:1");
        assert_eq!(v["tests"][0]["build_id"], "lab_1:b:1");
        let other_build = KcidbOptions {
            build_id: Some("b".into()),
            ..given.clone()
        };
        let other = ids(&write(&other_build, b""));
        assert!(other.iter().all(|i| !ids(&doc).contains(i)), "{other:?}");
    }

    #[test]
    fn options_are_checked() {
        for bad in ["", "Lab", "lab-1", "lab 1", "lab:1", "l\u{e9}b"] {
            assert!(check_origin(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "test_kmod_rust", "lab_42"] {
            assert!(check_origin(good).is_ok(), "{good}");
        }
        assert!(check_id("build id", "").is_err());
        assert!(check_id("build id", "a\nb").is_err());
        assert!(check_id("build id", "a:b \"c\" é").is_ok());
        let opts = KcidbOptions {
            checkout_id: Some("x\0".into()),
            ..KcidbOptions::default()
        };
        assert!(opts.check().is_err());
    }

    #[test]
    fn start_time_duration_and_excerpt_are_written() {
        let log = "[    1.000000] KTAP version 1\n[    1.000000] 1..1\n\
                   [    1.000000] # boom\n[    3.250000] not ok 1 t\n";
        let parsed = parse_str(log);
        let opts = KcidbOptions {
            start_time: Some(OffsetDateTime::from_unix_timestamp(86_400).expect("time")),
            ..KcidbOptions::default()
        };
        let doc = document(&parsed.runs, &opts, b"");
        let t = &doc["tests"][0];
        assert_eq!(t["start_time"], "1970-01-02T00:00:00Z");
        assert_eq!(t["duration"], 2.25);
        assert_eq!(t["log_excerpt"], "# boom");
        assert_eq!(doc["version"], serde_json::json!({"major": 5, "minor": 3}));
        let doc = document(&parsed.runs, &KcidbOptions::default(), b"");
        assert!(doc["tests"][0].get("start_time").is_none());
    }
}
