//! Stoa's recordings: a space's recording mix written as Ogg Opus (RFC 7845)
//! page by page while the space runs, and the repair of a file cut off by a
//! crash. Pure Rust, with no codec: it takes the Opus packets the mixer made.
//!
//! Modules: `ogg` (pages, their CRC, reading them back), `head` (the Opus
//! headers and the format's constants), `recorder` (the tick side: packets
//! into pages), `writer` (the thread that appends and syncs), `stats`,
//! `repair`.
//!
//! The file: page 0 holds `OpusHead` (mono, 48 kHz, pre-skip 312), page 1
//! `OpusTags`, then a page per second of audio, 50 packets of 20 ms each;
//! each page's granule position is the samples up to its last packet, so the
//! last page's, less the pre-skip, is the recording's length. Silence is
//! recorded as 3-byte packets, so time in the file is the space's time.

#![forbid(unsafe_code)]

pub mod head;
pub mod ogg;
mod recorder;
mod repair;
mod stats;
mod writer;

pub use recorder::{PAGE_FRAMES, Recorder, Source};
pub use repair::repair;
pub use stats::{RecordingStats, StatsReader};
pub use writer::SYNC_FRAMES;
