//! The pool's counters, shared between the pool thread (their one writer) and whoever reads them.
//!
//! Every counter is an atomic that only the pool thread writes, so it updates them with a plain
//! load and store (`bump`), no locked instruction; readers load them without any lock, and a
//! snapshot is consistent per counter, not across counters. Only the latency histogram is also
//! written by readers (reset), so it uses atomic adds.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};

use crate::clock::{SlotMap, Window};
use crate::histogram::LatencyHistogram;
use crate::speech::Pace;

/// How the scheduler treats a thread that asked to be preferred (`prefer_this_thread`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Scheduling {
    /// Nobody asked (a pool of listeners), or not yet.
    Unset = 0,
    /// Neither was allowed: the thread shares the CPU as any other.
    Normal = 1,
    /// nice -10: a larger share of a busy CPU, but it may still wait behind others when it wakes.
    Nice = 2,
    /// SCHED_FIFO, at the lowest real-time priority: it runs as soon as it wakes.
    Realtime = 3,
}

impl Scheduling {
    pub fn from_u8(value: u8) -> Self {
        match value {
            3 => Self::Realtime,
            2 => Self::Nice,
            1 => Self::Normal,
            _ => Self::Unset,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Realtime => "realtime",
            Self::Nice => "nice",
            Self::Normal => "normal",
            Self::Unset => "",
        }
    }
}

/// Where one listener is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ListenerState {
    /// Not yet joined: waiting for its turn in the ramp-up, connecting, upgrading, or joining.
    Connecting = 0,
    Joined = 1,
    /// Ended before it joined (`error` says why).
    Failed = 2,
    /// Ended after it joined (by the server, or by `stop`), or stopped before it joined.
    Closed = 3,
}

impl ListenerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Joined => "joined",
            Self::Failed => "failed",
            Self::Closed => "closed",
        }
    }

    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Joined,
            2 => Self::Failed,
            3 => Self::Closed,
            _ => Self::Connecting,
        }
    }
}

/// The whole pool at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Listeners not yet joined and not ended (those still waiting for the ramp-up included).
    pub connecting: u64,
    /// WebSocket connections open now (upgraded, not yet closed), joined or not.
    pub connected: u64,
    pub joined: u64,
    pub failed: u64,
    /// Listeners whose connection ended after they joined, or that `stop` ended before.
    pub closed: u64,
    /// Connections the server ended: a close frame it started, or the TCP connection dropped.
    pub closed_by_server: u64,
    /// Complete WebSocket data messages received, of every type.
    pub messages: u64,
    /// Messages that were space events.
    pub events: u64,
    /// Messages that could not be read (not msgpack, a text message, a frame without `seq`...).
    pub malformed: u64,
    pub frames: u64,
    /// Frames missing from a listener's run of `seq` (gaps between consecutive frames).
    pub lost: u64,
    /// Frames whose latency exceeded `late_after`.
    pub late: u64,
    /// Frames whose `seq` was not above the listener's previous one (duplicate or backward).
    pub reordered: u64,
    /// Real frames whose `captured_at` is not a slot of the run's capture clock (with a clock).
    pub off_clock: u64,
    /// Real frames measured at the harness's read for want of a usable kernel arrival stamp (none,
    /// or one before the frame's capture): their latency counts the harness's own delay.
    pub unstamped: u64,
    /// Data messages that one read took together with a later one of the same connection: the
    /// kernel stamps a read with its last segment's arrival, so these may carry a later stamp than
    /// their own (not if the server wrote both in one send: they arrived together). An upper bound
    /// on the messages whose latency is overstated (by at most the time to the later arrival).
    pub restamped: u64,
    /// Speakers: audio packets sent.
    pub sent: u64,
    /// Speakers: packets of the window sent more than `LATE_SEND_US` after their slot was due (the
    /// harness fell behind its own clock: a fault of the harness, not of the server).
    pub late_sends: u64,
    /// Bytes received (WebSocket framing and the HTTP upgrade response included).
    pub bytes: u64,
    /// CPU time of the pool thread (CLOCK_THREAD_CPUTIME_ID), sampled at least every 100 ms.
    pub cpu_us: u64,
}

/// One listener at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerStats {
    pub user: String,
    pub state: ListenerState,
    pub frames: u64,
    pub lost: u64,
    pub late: u64,
    pub reordered: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub max_latency_us: u64,
    /// The close code the server sent (or echoed); 1006 if the connection dropped without one; 0
    /// while open or if it never opened.
    pub close_code: u16,
    pub error: String,
}

/// A counter with one writer: load, add, store.
pub(crate) fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
}

pub(crate) fn drop_one(counter: &AtomicU64) {
    counter.store(counter.load(Relaxed).wrapping_sub(1), Relaxed);
}

#[derive(Default)]
pub(crate) struct Counters {
    pub connecting: AtomicU64,
    pub connected: AtomicU64,
    pub joined: AtomicU64,
    pub failed: AtomicU64,
    pub closed: AtomicU64,
    pub closed_by_server: AtomicU64,
    pub messages: AtomicU64,
    pub events: AtomicU64,
    pub malformed: AtomicU64,
    pub frames: AtomicU64,
    pub lost: AtomicU64,
    pub late: AtomicU64,
    pub reordered: AtomicU64,
    pub off_clock: AtomicU64,
    pub unstamped: AtomicU64,
    pub restamped: AtomicU64,
    pub sent: AtomicU64,
    pub late_sends: AtomicU64,
    pub bytes: AtomicU64,
    pub cpu_us: AtomicU64,
}

const NO_SEQ: u64 = u64::MAX;

/// One listener's counters.
pub(crate) struct Cell {
    pub user: String,
    state: AtomicU8,
    pub frames: AtomicU64,
    pub lost: AtomicU64,
    pub late: AtomicU64,
    pub reordered: AtomicU64,
    pub first_seq: AtomicU64,
    pub last_seq: AtomicU64,
    pub max_latency_us: AtomicU64,
    pub close_code: AtomicU64,
    /// Written once, when the listener fails or ends abnormally.
    pub error: Mutex<String>,
    /// The slots of the capture clock this member received (a listener) or sent (a speaker).
    pub slots: SlotMap,
    /// A listener: slots that no frame named, between two consecutive ticks that named the slots
    /// on either side (see `clock`: counted as heard only where two speakers overlapped).
    pub bridged: SlotMap,
}

impl Cell {
    fn new(user: String, slots: u64) -> Self {
        Self {
            slots: SlotMap::new(slots),
            bridged: SlotMap::new(slots),
            user,
            state: AtomicU8::new(ListenerState::Connecting as u8),
            frames: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            late: AtomicU64::new(0),
            reordered: AtomicU64::new(0),
            first_seq: AtomicU64::new(NO_SEQ),
            last_seq: AtomicU64::new(NO_SEQ),
            max_latency_us: AtomicU64::new(0),
            close_code: AtomicU64::new(0),
            error: Mutex::new(String::new()),
        }
    }

    pub fn state(&self) -> ListenerState {
        ListenerState::from_u8(self.state.load(Relaxed))
    }

    pub fn set_error(&self, why: &str) {
        let mut error = self.error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if error.is_empty() {
            error.push_str(why);
        }
    }
}

pub(crate) struct Shared {
    pub counters: Counters,
    pub cells: Box<[Cell]>,
    /// Listeners: arrival at the socket (the kernel's stamp; the read's time without one) minus
    /// `captured_at`, of the real frames whose slot is in `window` (every real frame without a clock).
    pub latency: LatencyHistogram,
    /// The same frames' time as the harness read them minus `captured_at` (`conn/read.rs`).
    pub read_latency: LatencyHistogram,
    /// The capture clock's slot 0 (µs of unix time; 0: no clock) and its length in slots.
    pub clock: (u64, u64),
    pub window: Window,
    /// Speakers: the clock as they run it, and how late each packet left after its slot was due.
    pub pace: Pace,
    pub send_lag: LatencyHistogram,
    /// Speakers: how their thread is scheduled (`sys::Scheduling`, as a u8).
    pub scheduling: AtomicU8,
}

impl Shared {
    pub fn new(users: Vec<String>, clock: (u64, u64)) -> Self {
        let counters = Counters::default();
        counters.connecting.store(users.len() as u64, Relaxed);
        Self {
            counters,
            cells: users.into_iter().map(|user| Cell::new(user, clock.1)).collect(),
            latency: LatencyHistogram::default(),
            read_latency: LatencyHistogram::default(),
            clock,
            window: Window::default(),
            pace: Pace::default(),
            send_lag: LatencyHistogram::default(),
            scheduling: AtomicU8::new(0),
        }
    }

    /// Moves listener `index` to `to`, keeping the per-state counters in step. A listener that
    /// has failed or closed stays so.
    pub fn set_state(&self, index: usize, to: ListenerState) {
        let cell = &self.cells[index];
        let from = cell.state();
        if from == to || matches!(from, ListenerState::Failed | ListenerState::Closed) {
            return;
        }
        let c = &self.counters;
        let gauge = |state| match state {
            ListenerState::Connecting => &c.connecting,
            ListenerState::Joined => &c.joined,
            ListenerState::Failed => &c.failed,
            ListenerState::Closed => &c.closed,
        };
        if matches!(from, ListenerState::Connecting | ListenerState::Joined) {
            drop_one(gauge(from));
        }
        bump(gauge(to), 1);
        cell.state.store(to as u8, Relaxed);
    }

    pub fn pool_stats(&self) -> PoolStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Relaxed);
        PoolStats {
            connecting: get(&c.connecting),
            connected: get(&c.connected),
            joined: get(&c.joined),
            failed: get(&c.failed),
            closed: get(&c.closed),
            closed_by_server: get(&c.closed_by_server),
            messages: get(&c.messages),
            events: get(&c.events),
            malformed: get(&c.malformed),
            frames: get(&c.frames),
            lost: get(&c.lost),
            late: get(&c.late),
            reordered: get(&c.reordered),
            off_clock: get(&c.off_clock),
            unstamped: get(&c.unstamped),
            restamped: get(&c.restamped),
            sent: get(&c.sent),
            late_sends: get(&c.late_sends),
            bytes: get(&c.bytes),
            cpu_us: get(&c.cpu_us),
        }
    }

    pub fn listener_stats(&self) -> Vec<ListenerStats> {
        let seq = |a: &AtomicU64| Some(a.load(Relaxed)).filter(|&s| s != NO_SEQ);
        self.cells
            .iter()
            .map(|cell| ListenerStats {
                user: cell.user.clone(),
                state: cell.state(),
                frames: cell.frames.load(Relaxed),
                lost: cell.lost.load(Relaxed),
                late: cell.late.load(Relaxed),
                reordered: cell.reordered.load(Relaxed),
                first_seq: seq(&cell.first_seq),
                last_seq: seq(&cell.last_seq),
                max_latency_us: cell.max_latency_us.load(Relaxed),
                close_code: cell.close_code.load(Relaxed) as u16,
                error: cell.error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone(),
            })
            .collect()
    }
}
