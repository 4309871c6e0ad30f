//! [`LineFramer`]: a byte stream cut into datagrams of complete lines.

use crate::aggregator::input::Batch;

/// Longest line accepted, in bytes, not counting its newline.
pub const MAX_LINE: usize = 64 * 1024;

/// Splits a byte stream into chunks of complete lines, in a fixed buffer of one maximal line.
pub(super) struct LineFramer {
    /// `buf[..filled]` is the unterminated tail of the stream; reads land after it.
    buf: Box<[u8]>,
    filled: usize,
    /// Inside a line already found too long: skip up to its newline.
    discarding: bool,
}

impl LineFramer {
    pub(super) fn new() -> Self {
        // One maximal line plus its newline.
        Self { buf: vec![0; MAX_LINE + 1].into_boxed_slice(), filled: 0, discarding: false }
    }

    /// Where the next read goes; never empty.
    pub(super) fn spare(&mut self) -> &mut [u8] {
        &mut self.buf[self.filled..]
    }

    /// Takes `n` bytes just read into [`LineFramer::spare`]: pushes the complete lines (without
    /// the final newline) as one datagram and keeps the tail. Returns how many over-long lines
    /// it started discarding.
    pub(super) fn commit(&mut self, n: usize, batch: &mut Batch) -> u64 {
        let start = self.filled;
        self.filled += n;
        // Complete lines begin at `from`; the bytes before `start` hold no newline.
        let mut from = 0;
        if self.discarding {
            let Some(i) = self.buf[start..self.filled].iter().position(|&b| b == b'\n') else {
                self.filled = 0;
                return 0;
            };
            from = start + i + 1;
            self.discarding = false;
        }
        let search = start.max(from);
        if let Some(i) = self.buf[search..self.filled].iter().rposition(|&b| b == b'\n') {
            let end = search + i;
            if end > from {
                batch.push(&self.buf[from..end]);
            }
            from = end + 1;
        }
        self.buf.copy_within(from..self.filled, 0);
        self.filled -= from;
        if self.filled == self.buf.len() {
            // A full buffer without a newline: the line is longer than MAX_LINE.
            self.filled = 0;
            self.discarding = true;
            return 1;
        }
        0
    }

    /// At end of stream: pushes the unterminated last line, if any.
    pub(super) fn finish(&mut self, batch: &mut Batch) {
        if self.filled > 0 && !self.discarding {
            batch.push(&self.buf[..self.filled]);
        }
        self.filled = 0;
        self.discarding = false;
    }
}
