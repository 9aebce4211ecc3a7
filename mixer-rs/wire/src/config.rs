//! A wire's settings (`WireConfig`), and how its reader thread is scheduled (`Scheduling`) and parks
//! speakers (`Parking`).

use std::time::Duration;

use crate::handshakes::{MAX_HANDSHAKES, MAX_HANDSHAKES_PER_ADDRESS};
use crate::pace::PaceLimits;

/// A wire's settings, fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireConfig {
    /// A client message over this many bytes closes the connection (1009).
    pub max_message_bytes: usize,
    /// Messages of one connection handed to the owner and not yet `taken`:
    /// at this many the reader stops reading that socket (TCP pushes back).
    pub max_pending_messages: u32,
    /// From accept until the upgrade request has been read.
    pub handshake_timeout: Duration,
    /// Handshakes in progress from one client address (an IPv6 client by its /64): one more is closed at
    /// accept (`handshakes.rs`).
    pub max_handshakes_per_address: u32,
    /// Handshakes in progress in all: one more, whose request has not come whole by its first read, ends
    /// the oldest (`handshakes.rs`).
    pub max_handshakes: u32,
    /// TCP_DEFER_ACCEPT of the listening sockets: a connection that has sent nothing waits in the kernel,
    /// unaccepted, about this long (whole seconds, rounded up; zero: off). Linux counts it in SYN-ACK
    /// retransmissions (1 s, then 2, 4...): 1 s is one, 2 to 3 s two, 4 to 7 s three. Past a full SYN queue
    /// the kernel's SYN cookies skip it (docs/security.md).
    pub defer_accept: Duration,
    /// A connection silent both ways this long is pinged...
    pub keepalive_interval: Duration,
    /// ... and closed with 4001 if nothing comes back within this.
    pub keepalive_timeout: Duration,
    /// After the server's close frame, how long the client has to answer.
    pub close_timeout: Duration,
    /// SO_SNDBUF of client sockets; `None` leaves the kernel's autotuning.
    pub sndbuf: Option<i32>,
    /// TCP_USER_TIMEOUT of client sockets: data unacknowledged this long fails the writes.
    pub user_timeout_ms: u32,
    /// Ask for the reader thread to run as soon as it wakes (`Scheduling`).
    pub realtime: bool,
    /// The pace of each connection's audio messages (`pace.rs`).
    pub audio_pace: PaceLimits,
    /// Whether speakers of a ticking space are parked and read together before its ticks (`reader.rs`).
    pub parking: Parking,
    /// Speakers' packets a second (over a sweep of 250 ms) above which no one is parked, and those parked go
    /// back to epoll at their next read. At that rate the reader takes several packets a wake-up anyway: at
    /// 10,000 a second (200 spaces of 3 speakers taking turns, on 2 cores) it spent 7.4 to 7.6 µs a packet
    /// reading them as they arrived and 9.1 with parking, which lost frames there in 1 of 2 runs (README,
    /// Ingress; `bench/results/spaces-parked.json`), for a cause not found.
    pub park_max_rate: u32,
}

/// When the reader parks speakers (`WireConfig::parking`). A parked speaker's packet has `READ_AHEAD` (2 ms)
/// to be read before its tick, so by default only a reader that runs as soon as it wakes parks: one that
/// waits for a core (a few milliseconds, at times tens, on a busy machine) reads every packet as it arrives,
/// with the margin its arrival gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parking {
    /// Only if the reader got real-time scheduling (`Scheduling::Realtime`).
    WhenRealtime,
    Always,
    Never,
}

/// How the reader thread is scheduled (`WireConfig::realtime`, `Wire::scheduling`).
///
/// Why it asks to run first: a speaker's packet that waits in the socket for the reader to get a core
/// misses its tick when it waits longer than its margin (about half a frame): the mixer conceals it, a
/// glitch, and plays it a frame late from then on, until its queue is trimmed (a packet not heard). On a
/// machine whose cores are all busy that happens several times a minute per hundred talking spaces. The
/// reader needs little (about 0.1 core for 200 spaces of 3 speakers taking turns) and never waits for
/// Python, so running it first takes little from anyone. A client flooding the server with bytes can keep
/// it busy: on SCHED_FIFO it then holds up to 95% of one core (`kernel.sched_rt_runtime_us`), and the other
/// threads run on the other cores (docs/operations.md says to turn it off on a 1-core machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduling {
    /// SCHED_FIFO at the lowest real-time priority: it runs as soon as it wakes.
    Realtime,
    /// Not allowed real-time: nice -10.
    Nice,
    /// As any thread (not asked, or not allowed either).
    Normal,
}

impl Scheduling {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Realtime => "realtime",
            Self::Nice => "nice",
            Self::Normal => "normal",
        }
    }
}

impl Default for WireConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 64 * 1024,
            max_pending_messages: 8,
            handshake_timeout: Duration::from_secs(10),
            max_handshakes_per_address: MAX_HANDSHAKES_PER_ADDRESS,
            max_handshakes: MAX_HANDSHAKES,
            defer_accept: Duration::from_secs(1),
            keepalive_interval: Duration::from_secs(5),
            keepalive_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(2),
            sndbuf: None,
            user_timeout_ms: 10_000,
            realtime: false,
            audio_pace: PaceLimits::default(),
            parking: Parking::WhenRealtime,
            park_max_rate: 2_000,
        }
    }
}
