//! `Inbox`: one connection's reusable read buffer, sans-IO. The socket reads into `spare()`;
//! `next_frame()` then hands out each complete frame where it lies, and `compact()` moves only a
//! trailing partial frame to the front, growing the buffer when that frame will not fit.
//!
//! A frame split across reads stays in the buffer until its last byte arrives; several frames in
//! one read come out one by one. Nothing is allocated per frame: the buffer is allocated once and
//! grows only for a larger message (a `joined` snapshot of a crowded space), which it gives back
//! once that message is done.

use std::ops::Range;

use crate::ws::{self, FrameError, FrameHeader};

/// The size a buffer starts at and returns to.
pub const INITIAL_CAPACITY: usize = 4 * 1024;
/// A buffer grown past this for one large message is given back once it is empty.
const KEEP_CAPACITY: usize = 64 * 1024;

/// Why the frames in an inbox cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxError {
    Frame(FrameError),
    /// A frame whose payload exceeds the inbox's limit (the client closes with 1009).
    TooLarge(u64),
}

#[derive(Debug, Default)]
pub struct Inbox {
    buf: Vec<u8>,
    /// Bytes received and not yet handed out start at `start` and end at `filled`.
    start: usize,
    filled: usize,
    max_payload: u64,
}

impl Inbox {
    pub fn new(max_payload: u64) -> Self {
        Self { buf: vec![0; INITIAL_CAPACITY], start: 0, filled: 0, max_payload }
    }

    /// Room to read into; never empty (a full buffer doubles).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.filled == self.buf.len() {
            let grown = (2 * self.buf.len()).max(INITIAL_CAPACITY);
            self.buf.resize(grown, 0);
        }
        &mut self.buf[self.filled..]
    }

    /// `n` bytes were read into `spare()`.
    pub fn commit(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.buf.len());
    }

    /// The bytes received and not yet handed out.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.filled]
    }

    /// Drops `n` bytes from the front of `pending()` (the HTTP response head).
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.filled);
    }

    /// The next complete frame: its header and where its payload lies (for `payload`). `None`
    /// once only part of a frame is left.
    pub fn next_frame(&mut self) -> Result<Option<(FrameHeader, Range<usize>)>, InboxError> {
        let available = self.pending();
        let Some(header) = ws::parse_header(available).map_err(InboxError::Frame)? else { return Ok(None) };
        if header.payload_len > self.max_payload {
            return Err(InboxError::TooLarge(header.payload_len));
        }
        let frame_len = header.frame_len() as usize;
        if frame_len > available.len() {
            return Ok(None);
        }
        let payload = self.start + header.header_len..self.start + frame_len;
        self.start += frame_len;
        Ok(Some((header, payload)))
    }

    pub fn payload(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// After the frames are handled: moves what is left (part of a frame) to the front, and makes
    /// room for the whole of that frame if its header says it is larger than the buffer.
    pub fn compact(&mut self) {
        if self.start == self.filled {
            (self.start, self.filled) = (0, 0);
            if self.buf.len() > KEEP_CAPACITY {
                self.buf = vec![0; INITIAL_CAPACITY];
            }
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.filled, 0);
            (self.start, self.filled) = (0, self.filled - self.start);
        }
        if let Ok(Some(header)) = ws::parse_header(self.pending()) {
            let frame_len = header.frame_len().min(self.max_payload + 14) as usize;
            if frame_len > self.buf.len() {
                self.buf.resize(frame_len, 0);
            }
        }
    }

    /// Bytes of buffer held.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }
}
