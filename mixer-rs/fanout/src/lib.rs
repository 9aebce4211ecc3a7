//! Stoa's fan-out: every byte the server writes to its clients' sockets, sent
//! by writer threads (one by default; each owns a fixed share of the
//! connections) from bounded per-connection queues, so that the per-listener
//! send path costs no Python. Pure Rust (Linux: epoll, eventfd,
//! sendmsg); `mixer-rs/src/fanout.rs` is its thin binding.
//!
//! Modules, from the bottom up: `frame` (WebSocket framing), `queue` (one
//! connection's queue and its drop policy), `sys` (the system calls, all the
//! crate's `unsafe`), `stream` (a group's shared audio, pulled by each
//! member's writer), `conn` (a connection's state), `group` (broadcast
//! members), `report` (notices, stats), `shared` (what the threads share),
//! `writer` (a writer thread), `handle` (the `Fanout` API).

// `sys` holds the system calls, and `writer` its one `sendmsg` over pinned
// queue segments or its own buffer; nothing else may use `unsafe`, and every
// block says why it is sound.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod conn;
mod frame;
mod group;
mod handle;
mod queue;
mod report;
mod shared;
mod stream;
mod sys;
mod writer;

use std::{fmt, io};

pub use frame::{
    MAX_CONTROL_PAYLOAD, NO_STATUS, TOO_SLOW, TOO_SLOW_REASON, binary_header, close_frame, frame_binary,
    server_frame,
};
pub use handle::Fanout;
pub use queue::Kind;
pub use report::{FanoutStats, Notice, NoticeKind, WritersLoad};
pub use shared::{CLOSE_GRACE, IdHasher, IdMap};
pub use stream::Stream;

/// The fan-out's wrappers of epoll and eventfd, for the crates beside it that
/// run their own event loop thread over client sockets (`wire`'s reader).
pub mod os {
    pub use crate::sys::{Epoll, EventFd, thread_cpu_ns};
}

/// The most writer threads a fan-out may have.
pub const MAX_WRITERS: usize = 64;

/// A fan-out's settings, fixed at creation: its queues' bounds (both apply
/// per connection) and its writer threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanoutConfig {
    /// Bytes queued and not yet written.
    pub max_queue_bytes: usize,
    /// Audio messages queued and not yet fully written.
    pub max_audio_messages: usize,
    /// Writer threads, 1 to `MAX_WRITERS`. Connection `id` is written by
    /// writer `id % writers`, so each sends to 1/writers of the connections:
    /// a saturated writer's pass (the wait of a queued message) shrinks by
    /// that much, where cores allow.
    pub writers: usize,
}

impl Default for FanoutConfig {
    fn default() -> Self {
        Self { max_queue_bytes: 256 * 1024, max_audio_messages: 64, writers: 1 }
    }
}

#[derive(Debug)]
pub enum FanoutError {
    /// A setting out of range (zero, or too many writers).
    BadConfig { name: &'static str },
    /// No such group (never made, or dropped).
    UnknownGroup(u64),
    /// The fan-out was shut down.
    Stopped,
    /// A system call failed: creating the writer's epoll, or `register`'s
    /// dup of a descriptor that is not an open stream socket.
    Io(io::Error),
}

impl FanoutError {
    /// Stable and machine-readable; never changes once published.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadConfig { .. } => "bad_argument",
            Self::UnknownGroup(_) => "unknown_group",
            Self::Stopped => "stopped",
            Self::Io(_) => "os_error",
        }
    }
}

impl fmt::Display for FanoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadConfig { name: "writers" } => write!(f, "writers must be 1 to {MAX_WRITERS}"),
            Self::BadConfig { name } => write!(f, "{name} must be at least 1"),
            Self::UnknownGroup(group) => write!(f, "no group {group}"),
            Self::Stopped => f.write_str("the fan-out is shut down"),
            Self::Io(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for FanoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl From<io::Error> for FanoutError {
    fn from(err: io::Error) -> Self {
        Self::Io(err)
    }
}
