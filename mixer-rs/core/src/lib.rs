//! Stoa's audio mixer core: per 20 ms tick it decodes the speakers' Opus
//! packets, mixes them, and encodes one shared packet plus one mix-minus per
//! speaker. Pure Rust with no Python; `mixer-rs/src` is its thin binding.
//!
//! Modules, from the bottom up: `codec` (Opus), `mix` (the arithmetic),
//! `gate` (levels, who talks, who is mixed), `queue` (frames and the jitter
//! queue), `input` (one speaker), `ingress` (what arrives between ticks),
//! `engine` (the tick), `mixer` (the shared, thread-safe `Mixer`), `output`
//! (what a tick returns, and stats).

#![forbid(unsafe_code)]

mod backlog;
mod codec;
mod engine;
mod error;
pub mod gate;
mod ingress;
mod input;
pub mod mix;
mod mixer;
mod output;
mod queue;

pub use codec::{
    BITRATE_RANGE, COMPLEXITY_RANGE, Decoder, Encoder, Pcm, opus_version, pcm_from_le_bytes, pcm_to_le_bytes,
};
pub use error::MixerError;
pub use gate::{DTX_MAX_BYTES, LEVEL_FLOOR_DBFS, MAX_MIXED_LIMIT};
pub use input::PREFILL_WITHIN;
pub use mixer::{MAX_QUEUE_LIMIT, Mixer, MixerConfig};
pub use output::{MixerStats, RecordFrame, TickKind, TickOutput};
pub use queue::Frame;

/// Samples per second: the one rate the mixer runs at.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms mono frame.
pub const FRAME_SAMPLES: usize = 960;
/// Bytes in one frame of s16le PCM.
pub const FRAME_BYTES: usize = FRAME_SAMPLES * 2;
/// Opus packets over this size are refused unread.
pub const MAX_PACKET_BYTES: usize = 1500;
