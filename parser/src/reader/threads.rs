// SPDX-License-Identifier: GPL-2.0
//! Parsing with several threads: lexing workers and a tree-building thread.
//!
//! Each chunk is read, decoded and lexed ahead by a worker thread, while
//! the calling thread builds the tree from the chunks in input order (and,
//! when streaming, writes each finished top-level test).  With more than
//! two CPUs there are several workers: they take turns reading, then lex
//! their chunks at the same time.
//!
//! Lexing is not quite state-free: the lexer remembers the prefix of the
//! run in progress.  Its state changes only at lines that contain an end
//! marker or [`VERSION_MARKER`], which a worker finds in its whole chunk
//! with a fast substring search.  So each worker first waits for the state
//! after the previous chunk, replays only those few lines to get the state
//! after its own chunk and publishes it, and only then lexes all its lines,
//! while the next worker can already go on.  The tree-building thread
//! checks the workers' lexer state against its own before it uses their
//! tokens (see `Sink::build`): the result is exactly that of one thread.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};

use crate::ktap::{END_MARKERS, Lexer, LexerState, Options, Parsed, Test, VERSION_MARKER};

use super::chunks::Input;
use super::{Chunk, Config, Sink, ahead, one_thread};

/// Most lexing threads.
const MAX_WORKERS: usize = 4;

/// Lexing threads to use: one CPU is left for building the tree.  On two
/// CPUs one worker is faster than two: three busy threads on two CPUs
/// spend more on switching and on the shared caches than they gain.
pub(super) fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .clamp(1, MAX_WORKERS)
}

/// Chunk buffers in use at most with `workers` workers (being read and
/// lexed, waiting, being built from); they are reused, so no fresh memory
/// is touched after the start.
fn chunks(workers: usize) -> usize {
    2 * workers + 2
}

/// What the workers send to the tree-building thread.
enum Msg {
    /// The chunk numbered `seq`.
    Chunk(Chunk),
    /// The input ended after chunk `seq - 1`, with an error if reading failed
    /// (the incomplete last line is dropped then).
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

/// State shared by the workers.
struct Shared<R> {
    cfg: Config,
    /// The input, read by one worker at a time.
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
/// [`VERSION_MARKER`] in a chunk, searched for in the whole chunk at once
/// (a search per line costs a setup per line), to replay the lines that
/// change the lexer's state.
struct Markers {
    end: [memchr::memmem::Finder<'static>; 3],
    version: memchr::memmem::Finder<'static>,
    end_at: Vec<usize>,
    version_at: Vec<usize>,
}

impl Markers {
    fn new() -> Self {
        Markers {
            end: END_MARKERS.map(memchr::memmem::Finder::new),
            version: memchr::memmem::Finder::new(VERSION_MARKER),
            end_at: Vec::new(),
            version_at: Vec::new(),
        }
    }

    /// Find the markers in `text`.
    fn find(&mut self, text: &[u8]) {
        self.end_at.clear();
        for f in &self.end {
            self.end_at.extend(f.find_iter(text));
        }
        self.end_at.sort_unstable();
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

/// Parse with `cfg.workers` lexing threads and this thread building the
/// tree; in this thread alone if no thread can be started.
pub(super) fn parse<R: Read + Send + 'static>(
    r: R,
    opts: &Options,
    on_test: &mut dyn FnMut(usize, &Test),
    cfg: &Config,
) -> (Parsed, Option<io::Error>) {
    let workers = cfg.workers.max(1);
    let chunks = chunks(workers);
    let (tx, rx) = mpsc::sync_channel::<Msg>(chunks);
    let (free_tx, free_rx) = mpsc::sync_channel::<Chunk>(chunks);
    for _ in 0..chunks {
        // Cannot fail: the channel has room for all of them.
        let _ = free_tx.try_send(Chunk::default());
    }
    let shared = Arc::new(Shared {
        cfg: Config {
            workers,
            ..cfg.clone()
        },
        input: Mutex::new(Input::new(r)),
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
            Err(_) => break,
        }
    }
    drop(tx);
    if started == 0 {
        // No thread: the input has not been touched.
        return match Arc::try_unwrap(shared) {
            Ok(shared) => {
                let input = shared
                    .input
                    .into_inner()
                    .unwrap_or_else(PoisonError::into_inner);
                one_thread(Input::new(input.into_inner()), opts, on_test, cfg)
            }
            Err(_) => (
                Parsed::default(),
                Some(io::Error::other("no lexing thread could be started")),
            ),
        };
    }
    drop(shared);

    let mut sink = Sink::new(opts, cfg);
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
                sink.build(&chunk);
                sink.tree.hand_over(on_test);
                // Hand the buffers back (never blocks: there are at most
                // `chunks` of them).
                let _ = free_tx.try_send(chunk);
                next += 1;
            }
            Msg::End(_, e) => break e,
        }
    };
    sink.finish(error, on_test)
}

/// A worker: read the next chunk, lex it, send it; until the input ends.
fn work<R: Read>(shared: &Shared<R>, tx: &mpsc::SyncSender<Msg>) {
    let cfg = &shared.cfg;
    let mut markers = Markers::new();
    let mut lexer = Lexer::new();
    loop {
        // The tree-building thread is gone if the channel is closed.
        let Ok(mut chunk) = lock(&shared.free).recv() else {
            return;
        };
        let (buf, truncated, end) = {
            let mut input = lock(&shared.input);
            if input.done {
                return;
            }
            chunk.seq = input.seq;
            let mut buf = chunk.take_buffer();
            let (truncated, end) = input.read(&mut buf, cfg);
            (buf, truncated, end)
        };
        chunk.decode(buf, truncated, cfg);
        if cfg.workers > 1 && !start_from_known(shared, &mut lexer, &mut markers, &chunk) {
            return;
        }
        // With one worker, the previous chunk was this worker's: its lexer
        // is in the state after it.
        ahead::lex_lines(&mut lexer, &mut chunk);
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

/// With several workers: wait for the lexer state after the previous chunk,
/// publish the state after this chunk, and leave `lexer` in the state
/// before it.  `false` if another worker died.
fn start_from_known<R>(
    shared: &Shared<R>,
    lexer: &mut Lexer,
    markers: &mut Markers,
    chunk: &Chunk,
) -> bool {
    let text = chunk.text.as_str();
    markers.find(text.as_bytes());
    let mut guard = PublishGuard {
        known: &shared.known,
        advanced: &shared.advanced,
        armed: true,
    };
    let start = {
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
        known.1.clone()
    };
    replay_markers(lexer, text, markers);
    {
        let mut known = lock(&shared.known);
        *known = (chunk.seq + 1, lexer.state());
        shared.advanced.notify_all();
    }
    guard.armed = false;
    lexer.set_state(&start);
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
        lexer.lex_prelexed(raw, ahead::prelex(raw, end_marker), false);
    }
}
