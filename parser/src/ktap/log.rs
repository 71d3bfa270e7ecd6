// SPDX-License-Identifier: GPL-2.0
//! A test's log: kunit's `Test.log`, the diagnostic and unknown lines that
//! belong to a test, and the KTAP attributes among them (`# speed: slow`,
//! `# module: name`, `# case.speed: slow`).
//!
//! A log is capped (the lines that would make it longer than the cap are
//! only counted), and most are thrown away: only the logs of tests that
//! did not pass are kept (see [`super::tree::Options`]).  So a line is not
//! necessarily copied when it is added: while the reader has lent the tree
//! builder the text the lines are slices of (see
//! [`super::tree::TreeBuilder::lend`]), a line of that text is noted as
//! its byte range, and copied only if the log is kept or the text is given
//! back.  In a boot log most lines are driver output of passing tests,
//! never copied.

/// The attributes KTAP defines.
const ATTRIBUTES: [&str; 3] = ["speed", "module", "is_init"];

/// The log lines of a test, collected while it runs.
#[derive(Debug, Default)]
pub(crate) struct Log {
    /// Lines joined with `\n`.
    text: String,
    /// Number of lines in `text`.
    text_lines: u64,
    /// The lines after those of `text`: byte ranges of the lent text.
    ranges: Vec<(u32, u32)>,
    /// Number of lines, in `text` and in `ranges`.
    pub(crate) lines: u64,
    /// Length of the text with the lines of `ranges` copied in.
    len: usize,
    /// Lines not kept because of the cap.
    pub(crate) dropped: u64,
    /// Attribute lines: (key, value).
    attrs: Vec<(String, String)>,
}

impl Log {
    /// An empty log using (cleared) buffers of another one
    /// ([`Log::into_buffers`]).
    pub(crate) fn reusing((text, ranges): (String, Vec<(u32, u32)>)) -> Self {
        Log {
            text,
            ranges,
            ..Log::default()
        }
    }

    /// Its buffers, cleared, if they hold memory.
    pub(crate) fn into_buffers(mut self) -> Option<(String, Vec<(u32, u32)>)> {
        if self.text.capacity() == 0 && self.ranges.capacity() == 0 {
            return None;
        }
        self.text.clear();
        self.ranges.clear();
        Some((self.text, self.ranges))
    }

    /// Add a line (`lent`: the text the reader lent, if any).
    pub(crate) fn push(&mut self, line: &str, cap: usize, lent: Option<&str>) {
        if let Some(attr) = parse_attribute(line) {
            self.attrs.push(attr);
        }
        self.push_plain(line, cap, lent);
    }

    /// [`Log::push`] for a line that is no attribute line (its first
    /// character after the indentation is not `#`).
    #[inline]
    fn push_plain(&mut self, line: &str, cap: usize, lent: Option<&str>) {
        match lent.and_then(|lent| range_in(lent, line)) {
            Some((start, end)) => self.push_range(start, end, cap),
            None => self.push_text(line, cap, lent),
        }
    }

    /// Add the line at `start..end` of the lent text: a line that is no
    /// attribute line.
    #[inline]
    pub(crate) fn push_range(&mut self, start: u32, end: u32, cap: usize) {
        if self.admit((end - start) as usize, cap) {
            self.ranges.push((start, end));
        }
    }

    /// Count a line of `len` bytes in, unless it would make the log longer
    /// than `cap`; whether it was.
    #[inline]
    fn admit(&mut self, len: usize, cap: usize) -> bool {
        if self.len + len + 1 > cap {
            self.dropped += 1;
            return false;
        }
        self.len += usize::from(self.lines > 0) + len;
        self.lines += 1;
        true
    }

    /// Add a line as text (after the lines kept as ranges of `lent`).
    fn push_text(&mut self, line: &str, cap: usize, lent: Option<&str>) {
        if self.admit(line.len(), cap) {
            self.copy_ranges(lent);
            self.add_to_text(line);
        }
    }

    fn add_to_text(&mut self, line: &str) {
        if self.text_lines > 0 {
            self.text.push('\n');
        }
        self.text.push_str(line);
        self.text_lines += 1;
    }

    /// Copy the lines kept as byte ranges of the lent text (`lent`) into
    /// the text: before the text is given back, or the log is read.
    pub(crate) fn copy_ranges(&mut self, lent: Option<&str>) {
        if self.ranges.is_empty() {
            return;
        }
        // Ranges are only made while the text is lent, and copied before
        // it is given back.
        let lent = lent.expect("log lines kept as ranges of a text given back");
        let mut ranges = std::mem::take(&mut self.ranges);
        for &(start, end) in &ranges {
            self.add_to_text(&lent[start as usize..end as usize]);
        }
        ranges.clear();
        self.ranges = ranges;
    }

    /// The text of all lines, joined with `\n`.
    pub(crate) fn take_text(&mut self, lent: Option<&str>) -> String {
        self.copy_ranges(lent);
        std::mem::take(&mut self.text)
    }

    /// Append another log (its lines after ours).
    pub(crate) fn append(&mut self, mut other: Log, cap: usize, lent: Option<&str>) {
        if other.lines == 0 {
            // Nothing to copy: keep our buffers (they are reused).
            self.dropped += other.dropped;
            self.attrs.append(&mut other.attrs);
            return;
        }
        if self.lines == 0 && self.dropped == 0 {
            other.attrs.splice(0..0, std::mem::take(&mut self.attrs));
            *self = other;
            return;
        }
        if other.text_lines > 0 {
            for l in other.text.split('\n') {
                self.push_text(l, cap, lent);
            }
        }
        for &(start, end) in &other.ranges {
            self.push_range(start, end, cap);
        }
        self.dropped += other.dropped;
        self.attrs.append(&mut other.attrs);
    }

    /// No line, counted or kept, and no attribute.
    pub(crate) fn is_empty(&self) -> bool {
        self.lines == 0 && self.dropped == 0 && self.attrs.is_empty()
    }

    /// The attributes that belong to the test `name`: `# speed: slow`, and
    /// `# name.speed: slow` (as `speed`).
    pub(crate) fn take_attributes(&mut self, name: &str) -> Vec<(String, String)> {
        std::mem::take(&mut self.attrs)
            .into_iter()
            .filter_map(|(k, v)| {
                if ATTRIBUTES.contains(&k.as_str()) {
                    Some((k, v))
                } else {
                    k.strip_prefix(name)
                        .and_then(|a| a.strip_prefix('.'))
                        .filter(|a| ATTRIBUTES.contains(a))
                        .map(|a| (a.to_owned(), v))
                }
            })
            .collect()
    }
}

/// The byte range of `inner` in `outer`, if it is a slice of it.
fn range_in(outer: &str, inner: &str) -> Option<(u32, u32)> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    let end = start.checked_add(inner.len())?;
    // A lent text is far shorter than 4 GiB.
    let range = (u32::try_from(start).ok()?, u32::try_from(end).ok()?);
    (end <= outer.len()).then_some(range)
}

/// `# speed: slow` -> ("speed", "slow"); `# case.speed: slow` -> ("case.speed", "slow").
fn parse_attribute(line: &str) -> Option<(String, String)> {
    // Most log lines are not diagnostics: decide on the first byte that is
    // not ASCII whitespace (a non-ASCII one may be Unicode whitespace).
    let first = line
        .bytes()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'));
    if first.is_some_and(|b| b != b'#' && b.is_ascii()) {
        return None;
    }
    let rest = line.trim_start().strip_prefix("# ")?;
    let (key, value) = rest.split_once(": ")?;
    let attr = key.rsplit('.').next()?;
    if key.contains(char::is_whitespace) || !ATTRIBUTES.contains(&attr) {
        return None;
    }
    Some((key.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of a log, kept as ranges of a lent text or as text, come
    /// out the same, capped the same.
    #[test]
    fn lines_lent_or_copied_give_the_same_log() {
        let lent = "first line\n# speed: slow\nthird, a longer line\nx\n".to_owned();
        let lines: Vec<&str> = lent.lines().collect();
        for cap in [0, 5, 11, 30, 100] {
            let (mut copied, mut ranged) = (Log::default(), Log::default());
            for (i, l) in lines.iter().enumerate() {
                // A copy: not a slice of the lent text.
                let copy = String::from(*l);
                copied.push(&copy, cap, None);
                if i % 2 == 0 {
                    ranged.push(l, cap, Some(&lent));
                } else {
                    ranged.push(&copy, cap, Some(&lent));
                }
            }
            assert_eq!(
                (copied.lines, copied.dropped),
                (ranged.lines, ranged.dropped)
            );
            assert_eq!(copied.take_text(None), ranged.take_text(Some(&lent)));
            assert_eq!(
                copied.take_attributes("t"),
                ranged.take_attributes("t"),
                "cap {cap}"
            );
        }
        let mut log = Log::default();
        log.push(lines[1], 100, Some(&lent));
        log.push("# t.speed: very_slow", 100, Some(&lent));
        log.push("# other.speed: slow", 100, Some(&lent));
        log.push("# speed slow", 100, Some(&lent));
        assert_eq!(
            log.take_attributes("t"),
            [
                ("speed".to_owned(), "slow".to_owned()),
                ("speed".to_owned(), "very_slow".to_owned())
            ]
        );
    }

    #[test]
    fn appended_logs_keep_their_order_and_cap() {
        let mut a = Log::default();
        a.push("a1", 7, None);
        let mut b = Log::default();
        b.push("b1", 7, None);
        b.push("b2", 7, None);
        b.push("b3", 7, None);
        a.append(b, 7, None);
        // "a1\nb1" is 5 bytes, "\nb2" would make 8; b3 was dropped in b.
        assert_eq!((a.lines, a.dropped), (2, 2));
        assert_eq!(a.take_text(None), "a1\nb1");
        let mut empty = Log::default();
        let mut c = Log::default();
        c.push("c", 7, None);
        empty.append(c, 7, None);
        assert_eq!(empty.take_text(None), "c");
    }
}
