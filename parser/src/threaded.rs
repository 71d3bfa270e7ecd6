// SPDX-License-Identifier: GPL-2.0
//! Parsing with several threads: lexing workers and a tree-building thread.
//!
//! The input is cut into chunks of complete lines.  Each chunk is read,
//! checked as UTF-8 and lexed by a worker thread, while the calling thread
//! builds the tree from the chunks in input order (and, when streaming,
//! writes each finished top-level test).  With more than two CPUs there are
//! several workers: they take turns reading, then lex their chunks at the
//! same time.
//!
//! Lexing is not quite state-free: the [`Lexer`] remembers the prefix of the
//! run in progress.  Its state changes only at lines that contain an end
//! marker or `TAP version `, which a worker finds in its whole chunk with a
//! fast substring search.  So each worker first waits for the state after
//! the previous chunk, replays only those few lines to get the state after
//! its own chunk and publishes it, and only then lexes all its lines, while
//! the next worker can already go on.  The tree-building thread still
//! checks the workers' lexer state against its own before it uses their
//! tokens, and lexes a line itself for the rare lines whose lexing depends
//! on the tree (see [`Lexer::lex_ahead`]): the result is exactly that of
//! [`crate::parse_reader`].

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};

use crate::lexer::{self, Ahead, Lexer, LexerState, PlainLog, Token, prelex_marked};
use crate::newlines::Lines;
use crate::tree::{Options, Parsed, Test};
use crate::{LineSink, MAX_LINE_BYTES, lines_to_string};

/// Bytes read per chunk.
pub(crate) const CHUNK: usize = 1 << 19;

/// Most lexing threads.
const MAX_WORKERS: usize = 4;

/// Lexing threads to use: one CPU is left for building the tree.  On two
/// CPUs one worker is faster than two: three busy threads on two CPUs
/// spend more on switching and on the shared caches than they gain.
fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .clamp(1, MAX_WORKERS)
}

/// Chunk buffers in use at most with `workers` workers (being read and
/// lexed, waiting, being parsed); they are reused, so no fresh memory is
/// touched after the start.
fn chunks(workers: usize) -> usize {
    2 * workers + 2
}

/// Complete lines of the input, lexed ahead by a worker.
#[derive(Debug, Default)]
struct Chunk {
    /// Position in the input (0, 1, 2, ...).
    seq: u64,
    /// The lines, each followed by `\n` (invalid UTF-8 already replaced).
    /// Shared with the tree builder while it builds from the chunk (it
    /// keeps log lines as ranges of it, see [`crate::tree::TreeBuilder::log_span`]).
    text: Arc<String>,
    /// Each line of `text`, lexed ahead.
    lines: Vec<ChunkLine>,
    /// The tokens of the lines that are not plain log lines.
    tokens: Vec<Token>,
    /// The lexer state the worker started this chunk from.
    start: LexerState,
    /// (line index, state after it) for every line after which the
    /// worker's lexer changed state.
    states: Vec<(usize, LexerState)>,
    /// Lines of this chunk that were truncated.
    truncated: u64,
}

/// A line of a [`Chunk`].
#[derive(Debug, Clone, Copy)]
struct ChunkLine {
    /// Byte range of the line in the chunk's text (without its `\n`; a
    /// chunk is at most CHUNK + MAX_LINE_BYTES + 1 bytes long).
    start: u32,
    end: u32,
    /// How it was lexed ahead.
    ahead: LineAhead,
}

/// A line lexed ahead ([`lexer::Ahead`]), in a chunk.
#[derive(Debug, Clone, Copy)]
enum LineAhead {
    /// A plain log line (most lines).
    Log(PlainLog),
    /// The index of its token in [`Chunk::tokens`].
    Token(u32),
}

/// What the workers send to the tree-building thread.
enum Msg {
    /// The chunk numbered `seq`.
    Chunk(Chunk),
    /// The input ended after chunk `seq - 1`, with an error if reading failed
    /// (the incomplete last line is dropped then, as `parse_reader` does).
    End(u64, Option<io::Error>),
}

impl Msg {
    fn seq(&self) -> u64 {
        match self {
            Msg::Chunk(c) => c.seq,
            Msg::End(seq, _) => *seq,
        }
    }
}

/// The input, read by one worker at a time.
struct Input<R> {
    r: R,
    /// The start of a line that continues in the next chunk.
    carry: Vec<u8>,
    /// The current line was already reported truncated: drop its bytes up
    /// to the next newline.
    discarding: bool,
    /// Number of the next chunk.
    seq: u64,
    /// End of input or a read error was reached (and reported).
    done: bool,
}

/// State shared by the workers.
struct Shared<R> {
    /// Number of workers.
    workers: usize,
    input: Mutex<Input<R>>,
    /// Empty chunk buffers, handed back by the tree-building thread.
    free: Mutex<mpsc::Receiver<Chunk>>,
    /// (number of chunks whose end state is known, the lexer state after
    /// them); [`FAILED`] chunks if a worker died.
    known: Mutex<(u64, LexerState)>,
    /// Signalled when `known` advances.
    advanced: Condvar,
}

/// `Shared::known` after a worker panicked: the others stop waiting.
const FAILED: u64 = u64::MAX;

/// With several workers: positions of the end markers and of
/// [`lexer::VERSION_MARKER`] in a chunk, searched for in the whole chunk at
/// once (a search per line costs a setup per line), to replay the lines
/// that change the lexer's state.
struct Markers {
    end: [memchr::memmem::Finder<'static>; 3],
    version: memchr::memmem::Finder<'static>,
    end_at: Vec<usize>,
    version_at: Vec<usize>,
}

impl Markers {
    fn new() -> Self {
        Markers {
            end: lexer::END_MARKERS.map(memchr::memmem::Finder::new),
            version: memchr::memmem::Finder::new(lexer::VERSION_MARKER),
            end_at: Vec::new(),
            version_at: Vec::new(),
        }
    }

    /// Find the end markers in `text`.
    fn find_end(&mut self, text: &[u8]) {
        self.end_at.clear();
        for f in &self.end {
            self.end_at.extend(f.find_iter(text));
        }
        self.end_at.sort_unstable();
    }

    /// Find the version markers in `text`.
    fn find_version(&mut self, text: &[u8]) {
        self.version_at.clear();
        self.version_at.extend(self.version.find_iter(text));
    }
}

/// Whether one of `positions[*next..]` lies before `end` (consuming all
/// that do).
#[inline]
fn any_before(positions: &[usize], next: &mut usize, end: usize) -> bool {
    let mut hit = false;
    while positions.get(*next).is_some_and(|&p| p < end) {
        hit = true;
        *next += 1;
    }
    hit
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A worker that panicked has already lost its chunk; the data behind
    // the lock is still consistent (every update is a single assignment).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Parse a whole input stream with lexing worker threads and this thread
/// building the tree (see the module documentation).  The result is exactly
/// that of [`crate::parse_reader`].  `Err` only if no worker could be
/// started.
pub fn parse_threaded<R: Read + Send + 'static>(
    r: R,
    opts: &Options,
) -> io::Result<(Parsed, Option<io::Error>)> {
    parse_threaded_with(r, opts, &mut |_, _| {})
}

/// [`parse_threaded`], handing each finished top-level test to `on_test`
/// (in this thread) as soon as it is complete when [`Options::stream`] is
/// set, with the index of its run in this input.
pub fn parse_threaded_with<R: Read + Send + 'static>(
    r: R,
    opts: &Options,
    on_test: &mut dyn FnMut(usize, &Test),
) -> io::Result<(Parsed, Option<io::Error>)> {
    parse_with_workers(r, opts, on_test, workers())
}

/// [`parse_threaded_with`] with `workers` lexing threads.
pub(crate) fn parse_with_workers<R: Read + Send + 'static>(
    r: R,
    opts: &Options,
    on_test: &mut dyn FnMut(usize, &Test),
    workers: usize,
) -> io::Result<(Parsed, Option<io::Error>)> {
    let chunks = chunks(workers);
    let (tx, rx) = mpsc::sync_channel::<Msg>(chunks);
    let (free_tx, free_rx) = mpsc::sync_channel::<Chunk>(chunks);
    for _ in 0..chunks {
        // Cannot fail: the channel has room for all of them.
        let _ = free_tx.try_send(Chunk::default());
    }
    let workers = workers.max(1);
    let shared = std::sync::Arc::new(Shared {
        workers,
        input: Mutex::new(Input {
            r,
            carry: Vec::new(),
            discarding: false,
            seq: 0,
            done: false,
        }),
        free: Mutex::new(free_rx),
        known: Mutex::new((0, LexerState::default())),
        advanced: Condvar::new(),
    });
    let mut started = 0;
    for _ in 0..workers {
        let (shared, tx) = (shared.clone(), tx.clone());
        let spawned = std::thread::Builder::new()
            .name("ktap2junit-lex".to_owned())
            .spawn(move || work(&shared, &tx));
        match spawned {
            Ok(_) => started += 1,
            Err(e) if started == 0 => return Err(e),
            Err(_) => break,
        }
    }
    drop(tx);
    drop(shared);

    let mut sink = LineSink::new(opts);
    // Chunks that arrived before their turn.
    let mut early: BTreeMap<u64, Msg> = BTreeMap::new();
    let mut next = 0;
    let error = loop {
        let msg = match early.remove(&next) {
            Some(msg) => msg,
            None => match rx.recv() {
                Ok(msg) if msg.seq() == next => msg,
                Ok(msg) => {
                    early.insert(msg.seq(), msg);
                    continue;
                }
                // Every worker is gone without reporting the end: one
                // panicked (a bug).  Report what was parsed, and the error.
                Err(_) => {
                    break Some(io::Error::other(
                        "a lexing thread stopped unexpectedly: the input was not read to its end",
                    ));
                }
            },
        };
        match msg {
            Msg::Chunk(chunk) => {
                build(&mut sink, &chunk);
                sink.hand_over(on_test);
                // Hand the buffers back (never blocks: there are at most
                // `chunks` of them).
                let _ = free_tx.try_send(chunk);
                next += 1;
            }
            Msg::End(_, e) => break e,
        }
    };
    Ok(sink.finish(error, on_test))
}

/// Feed the lines of `chunk` to the tree builder, using the worker's tokens
/// where its lexer state is known to equal ours.
fn build(sink: &mut LineSink, chunk: &Chunk) {
    let text = chunk.text.as_str();
    sink.builder.enter_chunk(Arc::clone(&chunk.text));
    // The worker's lexer state before the current line, and whether ours is
    // the same (then the worker's tokens are ours).
    let mut ahead = chunk.start.clone();
    let mut in_step = sink.lexer.is_in(&ahead);
    let mut states = chunk.states.iter().peekable();
    for (i, line) in chunk.lines.iter().enumerate() {
        // Most lines (plain log lines) are given to the tree builder as
        // byte ranges: the line is sliced only when needed.
        let raw = || &text[line.start as usize..line.end as usize];
        let changed = states.next_if(|(at, _)| *at == i).map(|(_, st)| st);
        if let Some(st) = changed {
            ahead.clone_from(st);
        }
        sink.line_no += 1;
        let idle = sink.builder.is_idle();
        // Between runs a line with a version marker may start the next run
        // with a new prefix, which the worker could not know (see
        // `Lexer::lex_ahead`): lex it here.
        if in_step && !(idle && raw().contains(lexer::VERSION_MARKER)) {
            if changed.is_some() {
                sink.lexer.set_state(&ahead);
            }
            match line.ahead {
                LineAhead::Log(log) => {
                    let (start, end) = log.text;
                    if !sink.builder.log_span(
                        line.start + start,
                        line.start + end,
                        log.timestamp,
                        sink.line_no,
                    ) {
                        sink.builder.feed(&log.lexed(raw()), sink.line_no);
                    }
                }
                LineAhead::Token(k) => {
                    let token = &chunk.tokens[k as usize];
                    sink.builder.feed(&token.lexed(raw()), sink.line_no);
                }
            }
        } else {
            #[cfg(test)]
            if !in_step {
                tests::OUT_OF_STEP.with(|n| n.set(n.get() + 1));
            }
            let lexed = sink.lexer.lex(raw(), idle);
            sink.builder.feed(&lexed, sink.line_no);
            in_step = sink.lexer.is_in(&ahead);
        }
    }
    sink.builder.leave_chunk();
    sink.truncated_lines += chunk.truncated;
}

/// A worker: read the next chunk, lex it, send it; until the input ends.
fn work<R: Read>(shared: &Shared<R>, tx: &mpsc::SyncSender<Msg>) {
    let mut markers = Markers::new();
    let mut lexer = Lexer::new();
    loop {
        // The tree-building thread is gone if the channel is closed.
        let Ok(mut chunk) = lock(&shared.free).recv() else {
            return;
        };
        let (buf, end) = {
            let mut input = lock(&shared.input);
            if input.done {
                return;
            }
            read_chunk(&mut input, &mut chunk)
        };
        chunk.text = Arc::new(lines_to_string(buf, &mut chunk.truncated));
        if !lex_chunk(shared, &mut lexer, &mut markers, &mut chunk) {
            return;
        }
        let seq = chunk.seq;
        if tx.send(Msg::Chunk(chunk)).is_err() {
            return;
        }
        if let Some(e) = end {
            let _ = tx.send(Msg::End(seq + 1, e));
            return;
        }
    }
}

/// The end of the input: `Some` with the read error, if any.
type End = Option<Option<io::Error>>;

/// Read the next chunk of complete lines (into the buffer of `chunk.text`,
/// which is returned as bytes, not yet checked to be UTF-8), and whether
/// the input ended with it.
fn read_chunk<R: Read>(input: &mut Input<R>, chunk: &mut Chunk) -> (Vec<u8>, End) {
    chunk.seq = input.seq;
    input.seq += 1;
    chunk.truncated = 0;
    // The tree builder has let go of the text (a copy if it had not).
    let text = std::mem::take(&mut chunk.text);
    let mut buf = Arc::try_unwrap(text)
        .unwrap_or_else(|shared| String::clone(&shared))
        .into_bytes();
    buf.clear();
    buf.reserve(CHUNK + input.carry.len());
    buf.extend_from_slice(&input.carry);
    input.carry.clear();
    let before = buf.len();
    let res = loop {
        match (&mut input.r).take(CHUNK as u64).read_to_end(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => break other,
        }
    };
    let (eof, error) = match res {
        Ok(n) => (n < CHUNK, None),
        Err(e) => (false, Some(e)),
    };
    if input.discarding {
        match memchr::memchr(b'\n', &buf[before..]) {
            Some(nl) => {
                buf.drain(before..=before + nl);
                input.discarding = false;
            }
            None => buf.truncate(before),
        }
    }
    let complete = memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1);
    if error.is_none() {
        let tail = buf.len() - complete;
        if tail > MAX_LINE_BYTES {
            // Report the first MAX_LINE_BYTES bytes now, drop the rest.
            buf.truncate(complete + MAX_LINE_BYTES);
            buf.push(b'\n');
            chunk.truncated += 1;
            input.discarding = true;
        } else if eof && tail > 0 {
            // The last line of the input has no newline.
            buf.push(b'\n');
        } else {
            input.carry.extend_from_slice(&buf[complete..]);
            buf.truncate(complete);
        }
    } else {
        buf.truncate(complete);
    }
    let end = (eof || error.is_some()).then(|| {
        input.done = true;
        error
    });
    (buf, end)
}

/// Publishes [`FAILED`] if dropped before the chunk's end state was
/// published (the worker panicked), so that no worker waits forever.
struct PublishGuard<'a> {
    known: &'a Mutex<(u64, LexerState)>,
    advanced: &'a Condvar,
    armed: bool,
}

impl Drop for PublishGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            lock(self.known).0 = FAILED;
            self.advanced.notify_all();
        }
    }
}

/// Lex the lines of `chunk.text` ahead (with several workers, from the
/// state after the previous chunk, see [`start_from_known`]).  `false` if
/// another worker died.
fn lex_chunk<R>(
    shared: &Shared<R>,
    lexer: &mut Lexer,
    markers: &mut Markers,
    chunk: &mut Chunk,
) -> bool {
    if shared.workers == 1 {
        // The previous chunk was this worker's: its lexer is in the state
        // after it.
        chunk.start = lexer.state();
    } else if !start_from_known(shared, lexer, markers, chunk) {
        return false;
    }
    let text = chunk.text.as_str();
    chunk.lines.clear();
    chunk.tokens.clear();
    chunk.states.clear();
    let mut start = 0;
    for (nl, flagged) in Lines::new(text.as_bytes(), lexer::END_MARKER_BYTES) {
        let raw = &text[start..nl];
        // Only a line with one of these bytes can contain an end marker.
        let end_marker = flagged && lexer::has_end_marker(raw);
        let generation = lexer.generation();
        let ahead = match lexer.lex_ahead_line(raw, end_marker) {
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
        chunk.lines.push(ChunkLine {
            start: start as u32,
            end: nl as u32,
            ahead,
        });
        start = nl + 1;
    }
    true
}

/// With several workers: wait for the lexer state after the previous chunk,
/// set `lexer` to it and publish the state after this chunk.  `false` if
/// another worker died.
fn start_from_known<R>(
    shared: &Shared<R>,
    lexer: &mut Lexer,
    markers: &mut Markers,
    chunk: &mut Chunk,
) -> bool {
    let text = chunk.text.as_str();
    markers.find_end(text.as_bytes());
    markers.find_version(text.as_bytes());
    let mut guard = PublishGuard {
        known: &shared.known,
        advanced: &shared.advanced,
        armed: true,
    };
    {
        let mut known = lock(&shared.known);
        while known.0 < chunk.seq {
            known = shared
                .advanced
                .wait(known)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if known.0 == FAILED {
            guard.armed = false;
            return false;
        }
        lexer.set_state(&known.1);
    }
    chunk.start = lexer.state();
    replay_markers(lexer, text, markers);
    {
        let mut known = lock(&shared.known);
        *known = (chunk.seq + 1, lexer.state());
        shared.advanced.notify_all();
    }
    guard.armed = false;
    lexer.set_state(&chunk.start);
    true
}

/// Bring `lexer` to its state after `text` (lexed ahead) by lexing only the
/// lines with a marker: no other line changes a lexer's state.
fn replay_markers(lexer: &mut Lexer, text: &str, markers: &Markers) {
    let bytes = text.as_bytes();
    let (mut e, mut v) = (0, 0);
    loop {
        let at = match (markers.end_at.get(e), markers.version_at.get(v)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => return,
        };
        let start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
        let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i);
        let end_marker = any_before(&markers.end_at, &mut e, end);
        any_before(&markers.version_at, &mut v, end);
        let raw = &text[start..end];
        lexer.lex_ahead(raw, prelex_marked(raw, end_marker));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_reader;

    thread_local! {
        /// Lines the tree-building thread had to lex itself because the
        /// worker's lexer state differed from its own.
        pub(super) static OUT_OF_STEP: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    /// A log of several MB with runs that start and end at random places
    /// (so near chunk boundaries too), prefixes that change between runs,
    /// version lines inside runs and between them, end markers and noise.
    /// With `ended`, every run ends with an end marker.
    fn tricky_log(seed: u64, ended: bool) -> Vec<u8> {
        let mut x = seed;
        let mut rnd = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        let prefixes = ["[  1.000000] ", "<6>[    2.5] ", "kunit: ", "", "[  T1] "];
        let mut out = Vec::new();
        let mut t = 0;
        while out.len() < 8 * CHUNK + 12345 {
            let p = prefixes[rnd(prefixes.len() as u64) as usize];
            let suites = 1 + rnd(30);
            out.extend_from_slice(format!("boot noise {t} TAP version x\n").as_bytes());
            out.extend_from_slice(format!("{p}KTAP version 1\n{p}1..{suites}\n").as_bytes());
            for s in 1..=suites {
                t += 1;
                let cases = rnd(40);
                out.extend_from_slice(
                    format!("{p}    KTAP version 1\n{p}    # Subtest: s{t}\n{p}    1..{cases}\n")
                        .as_bytes(),
                );
                for c in 1..=cases {
                    match rnd(20) {
                        0 => out.extend_from_slice(format!("{p}    # diag of c{c}\n").as_bytes()),
                        1 => out.extend_from_slice(b"[  9.9] TAP version 13\n"),
                        2 => {
                            out.extend_from_slice(format!("{p}noise {c} ").as_bytes());
                            out.extend_from_slice(b"\xff\xfe invalid\n");
                        }
                        3..=8 => {
                            // Driver output: plain log lines.
                            for l in 0..rnd(12) {
                                let pad = "x".repeat(rnd(60) as usize);
                                out.extend_from_slice(
                                    format!("{p}    drv{c}: probing {l} {pad}\n").as_bytes(),
                                );
                            }
                        }
                        _ => {}
                    }
                    let ok = if rnd(10) == 0 { "not ok" } else { "ok" };
                    out.extend_from_slice(format!("{p}    {ok} {c} c{c}\n").as_bytes());
                }
                if rnd(50) == 0 {
                    // The run ends inside a suite.
                    out.extend_from_slice(b"[ 3.0] Kernel panic - not syncing: VFS: no root\n");
                    break;
                }
                out.extend_from_slice(format!("{p}ok {s} s{t}\n").as_bytes());
            }
            if ended || rnd(3) == 0 {
                out.extend_from_slice(b"[ 4.0] reboot: System halted\n");
            }
        }
        out
    }

    #[test]
    fn workers_give_the_result_of_the_single_threaded_parser() {
        check_workers(&Options::default());
    }

    /// The same with every log kept, and capped short (log lines are kept as
    /// ranges of chunks, copied when the test ends or the chunk does).
    #[test]
    fn workers_keep_the_logs_of_the_single_threaded_parser() {
        let opts = Options {
            keep_all_logs: true,
            max_log_bytes: 400,
            ..Options::default()
        };
        check_workers(&opts);
        check_workers(&Options {
            keep_all_logs: true,
            ..Options::default()
        });
    }

    fn check_workers(opts: &Options) {
        for seed in 1..=6 {
            let ended = seed % 2 == 0;
            let log = tricky_log(seed, ended);
            let (want, err) = parse_reader(&log[..], opts);
            assert!(err.is_none());
            assert!(want.runs.len() > 3, "seed {seed}: {} runs", want.runs.len());
            let mut one_worker = 0;
            for workers in 1..=3 {
                OUT_OF_STEP.with(|n| n.set(0));
                let input = io::Cursor::new(log.clone());
                let (got, err) =
                    parse_with_workers(input, opts, &mut |_, _| {}, workers).expect("threads");
                assert!(err.is_none());
                assert_eq!(got.runs, want.runs, "seed {seed}, {workers} workers");
                assert_eq!(
                    got.warnings, want.warnings,
                    "seed {seed}, {workers} workers"
                );
                // Workers start each chunk from the right state: a wrong one
                // would only cost time (the lines are lexed again), so count
                // those lines.  The tree builder's lexer leaves the workers'
                // only when it restarts between runs for a version line with
                // a new prefix (not after an end marker): that costs the
                // same with any number of workers.
                let out_of_step = OUT_OF_STEP.with(std::cell::Cell::get);
                if workers == 1 {
                    one_worker = out_of_step;
                }
                assert_eq!(out_of_step, one_worker, "seed {seed}, {workers} workers");
                if ended {
                    assert_eq!(out_of_step, 0, "seed {seed}, {workers} workers");
                }
            }
        }
    }

    #[test]
    fn streamed_tests_are_the_subtests_of_their_runs() {
        let log = tricky_log(7, false);
        let (whole, _) = parse_reader(&log[..], &Options::default());
        let opts = Options {
            stream: true,
            ..Options::default()
        };
        for workers in [1, 2] {
            let mut streamed: Vec<Vec<Test>> = Vec::new();
            let input = io::Cursor::new(log.clone());
            let (shallow, err) = parse_with_workers(
                input,
                &opts,
                &mut |run, t| {
                    streamed.resize_with(streamed.len().max(run + 1), Vec::new);
                    streamed[run].push(t.clone());
                },
                workers,
            )
            .expect("threads");
            assert!(err.is_none());
            assert_eq!(shallow.runs.len(), whole.runs.len());
            assert_eq!(shallow.warnings, whole.warnings);
            streamed.resize_with(whole.runs.len(), Vec::new);
            for ((run, tests), full) in shallow.runs.iter().zip(streamed).zip(&whole.runs) {
                assert!(run.subtests.is_empty());
                let mut rebuilt = run.clone();
                rebuilt.subtests = tests;
                assert_eq!(&rebuilt, full);
            }
        }
    }
}
