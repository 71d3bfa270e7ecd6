// SPDX-License-Identifier: GPL-2.0
//! Where written text waits for what must come before it and is known
//! only at the end: the JUnit root element's totals, the KCIDB build id.
//!
//! Up to [`IN_MEMORY`] bytes stay in memory (every CI log of ordinary size);
//! beyond that they go to an unlinked temporary file, so that the memory
//! of a report is bounded by its largest suite, not by its size.  When no
//! temporary file can be made or written, everything stays in memory:
//! slower to page in, but nothing is lost.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes kept in memory before the rest goes to a temporary file.
const IN_MEMORY: usize = 4 << 20;
/// Bytes gathered in memory between writes to the temporary file.
const WRITE_AT: usize = 1 << 20;

#[derive(Debug)]
pub(super) struct Spool {
    /// Where the temporary file goes.
    dir: PathBuf,
    /// The latest bytes (all of them while there is no file).
    pub(super) mem: Vec<u8>,
    /// The earlier bytes, once there were more than [`IN_MEMORY`].
    file: Option<File>,
    /// Bytes written to the file completely (a failed write may have left
    /// part of its bytes behind them).
    in_file: u64,
    /// A temporary file could not be made or written: keep all in memory.
    no_file: bool,
}

/// An unlinked file in `dir`.
fn temp_file(dir: &Path) -> io::Result<File> {
    static N: AtomicUsize = AtomicUsize::new(0);
    for _ in 0..16 {
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("ktap2junit-{}-{n}.spool", std::process::id()));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => {
                std::fs::remove_file(&path)?;
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free temporary file name"))
}

impl Default for Spool {
    /// A spool whose file goes to the temporary directory (`$TMPDIR`, else
    /// `/tmp`).
    fn default() -> Self {
        Spool::in_dir(std::env::temp_dir())
    }
}

impl Spool {
    /// A spool whose file goes to `dir`.
    pub(super) fn in_dir(dir: PathBuf) -> Self {
        Spool {
            dir,
            mem: Vec::new(),
            file: None,
            in_file: 0,
            no_file: false,
        }
    }

    /// Call after appending to [`Spool::mem`]: moves the bytes to the
    /// temporary file when there are enough of them.
    pub(super) fn settle(&mut self) {
        if self.no_file {
            return;
        }
        let due = match self.file {
            Some(_) => self.mem.len() >= WRITE_AT,
            None => self.mem.len() >= IN_MEMORY,
        };
        if !due {
            return;
        }
        if self.file.is_none() {
            match temp_file(&self.dir) {
                Ok(f) => self.file = Some(f),
                Err(_) => {
                    self.no_file = true;
                    return;
                }
            }
        }
        if let Some(f) = &mut self.file {
            if f.write_all(&self.mem).is_ok() {
                self.in_file += self.mem.len() as u64;
                self.mem.clear();
                self.mem.shrink_to(WRITE_AT * 2);
            } else {
                // Part of these bytes may be in the file: the file counts up
                // to where it was, and the rest stays in memory.
                self.no_file = true;
            }
        }
    }

    /// All bytes, in order, to `w`.
    pub(super) fn write_to<W: Write + ?Sized>(mut self, w: &mut W) -> io::Result<()> {
        if let Some(mut f) = self.file.take() {
            f.seek(SeekFrom::Start(0))?;
            let mut f = f.take(self.in_file);
            let mut buf = vec![0; WRITE_AT];
            loop {
                match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => w.write_all(&buf[..n])?,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        w.write_all(&self.mem)
    }
}

/// A document written now and copied to its destination later (what goes
/// to standard output after kunit.py's report, which is printed while the
/// input is parsed): its bytes wait in a [`Spool`].
#[derive(Debug, Default)]
pub struct Deferred(Spool);

impl Deferred {
    /// An empty one.
    pub fn new() -> Self {
        Self::default()
    }

    /// Copy every byte written, in order, to `w`.
    pub fn write_to<W: Write + ?Sized>(self, w: &mut W) -> io::Result<()> {
        self.0.write_to(w)
    }
}

impl Write for Deferred {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.mem.extend_from_slice(buf);
        self.0.settle();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces of many sizes, more than fit in memory, with a spool in `dir`.
    fn round_trip(dir: PathBuf) -> (Vec<u8>, Vec<u8>, bool) {
        let mut spool = Spool::in_dir(dir);
        let mut want = Vec::new();
        let mut i = 0u64;
        while want.len() < IN_MEMORY * 3 {
            let piece: Vec<u8> = (0..(i * 7919) % 70_000).map(|k| (k ^ i) as u8).collect();
            spool.mem.extend_from_slice(&piece);
            want.extend_from_slice(&piece);
            spool.settle();
            assert!(spool.no_file || spool.mem.len() < IN_MEMORY + 70_000);
            i += 1;
        }
        let spooled = spool.file.is_some();
        let mut got = Vec::new();
        spool.write_to(&mut got).expect("write");
        (got, want, spooled)
    }

    #[test]
    fn bytes_come_back_in_order_through_the_file() {
        let (got, want, spooled) = round_trip(std::env::temp_dir());
        assert!(spooled);
        assert!(got == want);
    }

    #[test]
    fn without_a_temporary_file_everything_stays_in_memory() {
        let (got, want, spooled) = round_trip(PathBuf::from("/nonexistent/ktap2junit"));
        assert!(!spooled);
        assert!(got == want);
    }
}
