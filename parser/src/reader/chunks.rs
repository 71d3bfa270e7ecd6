// SPDX-License-Identifier: GPL-2.0
//! Cutting the input into chunks of complete lines: the one place where
//! lines are split off the input, capped and decoded.
//!
//! A chunk is what one `read` loop gets (about [`Config::chunk`] bytes),
//! cut after its last newline; the rest is carried into the next chunk.
//! A line longer than [`Config::max_line`] bytes keeps its first
//! `max_line` bytes and is counted as truncated; the rest of it is
//! dropped.  The last line of the input needs no newline.  On a read error
//! the chunk ends at its last complete line.  The chunk's text is then
//! decoded: invalid UTF-8 becomes U+FFFD, line by line (which is the same
//! as for the whole text, since `\n` never belongs to an invalid sequence).

use std::io::{self, Read};

use super::Config;

/// The input, and what is left of it between chunks.
#[derive(Debug)]
pub(super) struct Input<R> {
    r: R,
    /// The start of a line that continues in the next chunk.
    carry: Vec<u8>,
    /// The current line was already reported truncated: drop its bytes up
    /// to the next newline.
    discarding: bool,
    /// Number of the next chunk.
    pub(super) seq: u64,
    /// End of input or a read error was reached (and reported).
    pub(super) done: bool,
}

/// The end of the input: `Some` with the read error, if any.
pub(super) type End = Option<Option<io::Error>>;

impl<R: Read> Input<R> {
    pub(super) fn new(r: R) -> Self {
        Input {
            r,
            carry: Vec::new(),
            discarding: false,
            seq: 0,
            done: false,
        }
    }

    /// The reader, to read it in another way.
    pub(super) fn into_inner(self) -> R {
        self.r
    }

    /// Read the next chunk of complete lines into `buf` (cleared first),
    /// each line followed by `\n`, not yet decoded; the number of lines
    /// truncated in it, and whether the input ended with it.
    pub(super) fn read(&mut self, buf: &mut Vec<u8>, cfg: &Config) -> (u64, End) {
        let mut truncated = 0;
        buf.clear();
        buf.reserve(cfg.chunk + self.carry.len());
        buf.extend_from_slice(&self.carry);
        self.carry.clear();
        let before = buf.len();
        let res = loop {
            match (&mut self.r).take(cfg.chunk as u64).read_to_end(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        let (eof, error) = match res {
            Ok(n) => (n < cfg.chunk, None),
            Err(e) => (false, Some(e)),
        };
        if self.discarding {
            match memchr::memchr(b'\n', &buf[before..]) {
                Some(nl) => {
                    buf.drain(before..=before + nl);
                    self.discarding = false;
                }
                None => buf.truncate(before),
            }
        }
        let complete = memchr::memrchr(b'\n', buf).map_or(0, |i| i + 1);
        if error.is_none() {
            let tail = buf.len() - complete;
            if tail > cfg.max_line {
                // Report the first max_line bytes now, drop the rest.
                buf.truncate(complete + cfg.max_line);
                buf.push(b'\n');
                truncated += 1;
                self.discarding = true;
            } else if eof && tail > 0 {
                // The last line of the input has no newline.
                buf.push(b'\n');
            } else {
                self.carry.extend_from_slice(&buf[complete..]);
                buf.truncate(complete);
            }
        } else {
            buf.truncate(complete);
        }
        self.seq += 1;
        let end = (eof || error.is_some()).then(|| {
            self.done = true;
            error
        });
        (truncated, end)
    }
}

/// Turn `buf` (complete lines, each ending in `\n`) into a string: lines
/// longer than `max_line` bytes are truncated (counted in `truncated`),
/// invalid UTF-8 becomes U+FFFD.
pub(super) fn decode(buf: Vec<u8>, max_line: usize, truncated: &mut u64) -> String {
    // A block no longer than max_line has no line to truncate.
    let mut too_long = false;
    if buf.len() > max_line {
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', &buf) {
            too_long |= nl - start > max_line;
            start = nl + 1;
        }
    }
    if !too_long {
        return match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
    }
    let mut out = String::with_capacity(buf.len());
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', &buf) {
        let mut line = &buf[start..nl];
        if line.len() > max_line {
            line = &line[..max_line];
            *truncated += 1;
        }
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
        start = nl + 1;
    }
    out
}
