//! Stoa's load-test listener pool: thousands of WebSocket listeners (of one space, or each of its
//! own) on one thread (epoll), each costing a `recv` and a few dozen instructions per message; or a
//! pool of speakers that send Opus packets on the run's capture clock. Pure Rust with no Python;
//! `mixer-rs/src/loadpool.rs` is its binding (`mixer.ListenerPool`).
//!
//! Modules, from the bottom up: `ws` (RFC 6455 framing and the upgrade, sans-IO), `inbox` (a
//! connection's read buffer, sans-IO), `msg` (the zero-copy msgpack walker and the two requests),
//! `histogram` (latency), `clock` (the run's capture clock and each member's bitmap of slots),
//! `speech` (speakers' scripts and their pace), `stats` (the counters shared with readers), `sys`
//! (the Linux calls, the crate's only `unsafe`), `conn` (one member's connection; `conn/read` its
//! read path), `pool` (the thread and its handle; `pool/maps` the members' bitmaps and coverage).

// `sys` alone may use `unsafe`, each block with its `// SAFETY:` reason.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod clock;
mod conn;
pub mod histogram;
pub mod inbox;
pub mod msg;
mod pool;
pub mod speech;
mod stats;
mod sys;
pub mod ws;

pub use histogram::{BadPercentile, LatencyHistogram, Percentiles};
pub use pool::{LATE_SEND_US, Pool, PoolConfig, PoolError};
pub use speech::{Script, Speaker};
pub use stats::{ListenerState, ListenerStats, PoolStats};
