// SPDX-License-Identifier: GPL-2.0
//! The reader layer: the input, read fast, fed to the semantic core.
//!
//! Everything here is speed: the result is what the core makes of the
//! input's lines fed one at a time (`Lexer::lex`, then
//! `TreeBuilder::feed`), which the tests hold it to (`oracle`).  The
//! seam to the rest of the crate is [`parse_reader`] and [`parse_threaded`]
//! (with their `_with` forms, which hand over finished tests).
//!
//! * `chunks` cuts the input into chunks of complete lines:
//!   the one line-splitting path, with the line cap ([`MAX_LINE_BYTES`])
//!   and the UTF-8 decoding;
//! * `lines` finds the lines of a chunk, 64 bytes at a time
//!   (SSE2/AVX2), and which of them can hold an end marker;
//! * `ahead` lexes a chunk's lines ahead of the tree
//!   builder (with printk timestamps read by `printk`);
//! * `threads` runs that in worker threads while the
//!   calling thread builds the tree;
//! * [`Sink`] builds the tree from a lexed chunk.
//!
//! [`parse_reader`] does the same in one thread: read a chunk, lex it
//! ahead, build from it.

mod ahead;
mod chunks;
mod lines;
#[cfg(test)]
mod oracle;
mod printk;
mod threads;

use std::io::{self, Read};
use std::sync::Arc;

use crate::ktap::{
    Lexer, LexerState, Line, Options, Parsed, Test, TreeBuilder, VERSION_MARKER, Warning,
};

use ahead::{PlainLog, Token};
use chunks::{End, Input};

/// Longest line kept (bytes); the rest of a longer line is dropped.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// How the input is read.
#[derive(Debug, Clone)]
struct Config {
    /// Lexing threads.
    workers: usize,
    /// Bytes read per chunk.
    chunk: usize,
    /// Longest line kept.
    max_line: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            workers: threads::workers(),
            chunk: 1 << 19,
            max_line: MAX_LINE_BYTES,
        }
    }
}

/// Complete lines of the input, and the worker's lexing of them.
#[derive(Debug, Default)]
struct Chunk {
    /// Position in the input (0, 1, 2, ...).
    seq: u64,
    /// The lines, each followed by `\n` (invalid UTF-8 already replaced).
    /// Lent to the tree builder while it builds from the chunk.
    text: Arc<String>,
    /// Lines of this chunk that were truncated.
    truncated: u64,
    /// Each line of `text`, lexed ahead.
    lines: Vec<ChunkLine>,
    /// The tokens of the lines that are not plain log lines.
    tokens: Vec<Token>,
    /// The lexer state the worker started this chunk from.
    start: LexerState,
    /// (line index, state after it) for every line after which the
    /// worker's lexer changed state.
    states: Vec<(usize, LexerState)>,
}

/// A line of a [`Chunk`].
#[derive(Debug, Clone, Copy)]
struct ChunkLine {
    /// Byte range of the line in the chunk's text (without its `\n`).
    start: u32,
    end: u32,
    /// How it was lexed ahead.
    ahead: LineAhead,
}

/// A line lexed ahead, in a chunk.
#[derive(Debug, Clone, Copy)]
enum LineAhead {
    /// A plain log line (most lines).
    Log(PlainLog),
    /// The index of its token in [`Chunk::tokens`].
    Token(u32),
}

impl Chunk {
    /// Read the next chunk of `input` into this one's buffer (the tree
    /// builder has given it back; a copy if not), decoded: whether the
    /// input ended with it.
    fn fill<R: Read>(&mut self, input: &mut Input<R>, cfg: &Config) -> End {
        self.seq = input.seq;
        let mut buf = self.take_buffer();
        let (truncated, end) = input.read(&mut buf, cfg);
        self.decode(buf, truncated, cfg);
        end
    }

    /// The bytes of the text, to be reused.
    fn take_buffer(&mut self) -> Vec<u8> {
        let text = std::mem::take(&mut self.text);
        Arc::try_unwrap(text)
            .unwrap_or_else(|shared| String::clone(&shared))
            .into_bytes()
    }

    /// Set the text to `buf` decoded.
    fn decode(&mut self, buf: Vec<u8>, truncated: u64, cfg: &Config) {
        self.truncated = truncated;
        self.text = Arc::new(chunks::decode(buf, cfg.max_line, &mut self.truncated));
    }
}

/// The tree-building side: a lexer of its own (for the lines it must lex
/// itself) and the tree builder, fed chunk by chunk.
struct Sink {
    lexer: Lexer,
    tree: TreeBuilder,
    line_no: u64,
    truncated_lines: u64,
    max_line: usize,
}

impl Sink {
    fn new(opts: &Options, cfg: &Config) -> Self {
        Sink {
            lexer: Lexer::new(),
            tree: TreeBuilder::new(opts.clone()),
            line_no: 0,
            truncated_lines: 0,
            max_line: cfg.max_line,
        }
    }

    /// Feed the lines of `chunk` to the tree builder, using the worker's
    /// tokens where its lexer state is known to equal ours.
    fn build(&mut self, chunk: &Chunk) {
        let text = chunk.text.as_str();
        self.tree.lend(Arc::clone(&chunk.text));
        // The worker's lexer state before the current line, and whether ours
        // is the same (then the worker's tokens are ours).
        let mut ahead = chunk.start.clone();
        let mut in_step = self.lexer.is_in(&ahead);
        let mut states = chunk.states.iter().peekable();
        for (i, line) in chunk.lines.iter().enumerate() {
            // Most lines (plain log lines) are needed only in part: the
            // line is sliced only when needed.
            let raw = || &text[line.start as usize..line.end as usize];
            let changed = states.next_if(|(at, _)| *at == i).map(|(_, st)| st);
            if let Some(st) = changed {
                ahead.clone_from(st);
            }
            self.line_no += 1;
            let idle = self.tree.is_idle();
            // Between runs a line with a version marker may start the next
            // run with a new prefix, which the worker could not know: lex
            // it here.
            if in_step && !(idle && raw().contains(VERSION_MARKER)) {
                if changed.is_some() {
                    self.lexer.set_state(&ahead);
                }
                match line.ahead {
                    LineAhead::Log(log) => {
                        let (start, end) = log.text;
                        let range = (line.start + start, line.start + end);
                        if !self.tree.feed_plain_log(range, log.timestamp, self.line_no) {
                            self.tree.feed(&log.lexed(raw()), self.line_no);
                        }
                    }
                    LineAhead::Token(k) => {
                        let token = &chunk.tokens[k as usize];
                        self.tree.feed(&token.lexed(raw()), self.line_no);
                    }
                }
            } else {
                #[cfg(test)]
                if !in_step {
                    tests::OUT_OF_STEP.with(|n| n.set(n.get() + 1));
                }
                let lexed = self.lexer.lex(raw(), idle);
                self.tree.feed(&lexed, self.line_no);
                in_step = self.lexer.is_in(&ahead);
            }
        }
        self.tree.give_back();
        self.truncated_lines += chunk.truncated;
    }

    /// End of input: the parsed runs, with a warning about truncated lines,
    /// and the read error, if any.
    fn finish(
        self,
        error: Option<io::Error>,
        on_test: &mut dyn FnMut(usize, &Test),
    ) -> (Parsed, Option<io::Error>) {
        let mut parsed = self.tree.finish(on_test);
        if self.truncated_lines > 0 {
            parsed.warnings.push(Warning {
                line: self.line_no,
                message: format!(
                    "{} line(s) longer than {} bytes were truncated",
                    self.truncated_lines, self.max_line
                ),
            });
        }
        (parsed, error)
    }
}

/// Parse a whole input stream in this thread.  On a read error the results
/// seen so far are returned together with the error.
pub fn parse_reader<R: Read>(r: R, opts: &Options) -> (Parsed, Option<io::Error>) {
    parse_reader_with(r, opts, &mut |_, _| {})
}

/// [`parse_reader`], handing each finished top-level test to `on_test` as
/// soon as it is complete when [`Options::stream`] is set (with the index
/// of its run in this input).
pub fn parse_reader_with<R: Read>(
    r: R,
    opts: &Options,
    on_test: &mut dyn FnMut(usize, &Test),
) -> (Parsed, Option<io::Error>) {
    one_thread(Input::new(r), opts, on_test, &Config::default())
}

/// Parse a whole input stream with lexing worker threads and this thread
/// building the tree (see `threads`); in this thread alone
/// if no thread can be started.  The result is that of [`parse_reader`].
pub fn parse_threaded<R: Read + Send + 'static>(
    r: R,
    opts: &Options,
) -> (Parsed, Option<io::Error>) {
    parse_threaded_with(r, opts, &mut |_, _| {})
}

/// [`parse_threaded`], handing each finished top-level test to `on_test`
/// (in this thread) as soon as it is complete when [`Options::stream`] is
/// set, with the index of its run in this input.
pub fn parse_threaded_with<R: Read + Send + 'static>(
    r: R,
    opts: &Options,
    on_test: &mut dyn FnMut(usize, &Test),
) -> (Parsed, Option<io::Error>) {
    threads::parse(r, opts, on_test, &Config::default())
}

/// What [`raw_output`] gives of the input (kunit.py's `--raw_output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawOutput {
    /// Every line (`--raw_output=all`, `=full`).
    All,
    /// The lines of the KTAP output, the kernel prefix stripped
    /// (`--raw_output=kunit`: kunit's `extract_tap_lines()`).
    Kunit,
}

/// kunit.py's `--raw_output`: hand `out` every line of the input
/// ([`RawOutput::All`]) or the lines of its KTAP output as the core's
/// lexer sees them ([`RawOutput::Kunit`]: the prefix stripped; the
/// version line through the line before an end marker, and, as the parser
/// reads them, the runs after it), each without trailing whitespace.
/// The lines are cut and decoded as the parser's are.  `Err` is `out`'s
/// error; `Ok(Some(_))` a read error, after the lines read before it.
pub fn raw_output<R: Read>(
    r: R,
    what: RawOutput,
    out: &mut dyn FnMut(&str) -> io::Result<()>,
) -> io::Result<Option<io::Error>> {
    let cfg = Config {
        workers: 1,
        ..Config::default()
    };
    let mut input = Input::new(r);
    let mut lexer = Lexer::new();
    // Whether a run is in progress decides how a version line is lexed:
    // the tree builder knows (it keeps no test: each is handed over).
    let mut tree = TreeBuilder::new(Options {
        stream: true,
        ..Options::default()
    });
    let mut line_no = 0;
    let mut buf = Vec::new();
    loop {
        let (_, end) = input.read(&mut buf, &cfg);
        let mut truncated = 0;
        let text = chunks::decode(std::mem::take(&mut buf), cfg.max_line, &mut truncated);
        for raw in text.split_terminator('\n') {
            match what {
                RawOutput::All => out(crate::ktap::py_rstrip(raw))?,
                RawOutput::Kunit => {
                    line_no += 1;
                    let lexed = lexer.lex(raw, tree.is_idle());
                    if !matches!(lexed.line, Line::Outside | Line::End) {
                        out(lexed.text)?;
                    }
                    tree.feed(&lexed, line_no);
                    tree.hand_over(&mut |_, _| {});
                }
            }
        }
        buf = text.into_bytes();
        if let Some(error) = end {
            return Ok(error);
        }
    }
}

/// Read, lex ahead and build, a chunk at a time, in this thread.
fn one_thread<R: Read>(
    mut input: Input<R>,
    opts: &Options,
    on_test: &mut dyn FnMut(usize, &Test),
    cfg: &Config,
) -> (Parsed, Option<io::Error>) {
    let mut sink = Sink::new(opts, cfg);
    let mut lexer = Lexer::new();
    let mut chunk = Chunk::default();
    loop {
        let end = chunk.fill(&mut input, cfg);
        ahead::lex_lines(&mut lexer, &mut chunk);
        sink.build(&chunk);
        sink.tree.hand_over(on_test);
        if let Some(error) = end {
            return sink.finish(error, on_test);
        }
    }
}

#[cfg(test)]
mod tests {
    thread_local! {
        /// Lines the tree-building thread had to lex itself because the
        /// worker's lexer state differed from its own.
        pub(super) static OUT_OF_STEP: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
}
