//! What the fan-out tells its owner: notices about single connections
//! (lagging, overflow, write error) and a snapshot of its counters.

use std::sync::atomic::{AtomicU64, Ordering};

/// What happened to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// Audio was dropped because the client reads too slowly; `value` is how
    /// many messages since the previous "lagging" notice of that connection.
    Lagging,
    /// A control message could not fit; `value` is the bytes queued then. The
    /// connection is closing, as by `Fanout::close_with` with a close frame of
    /// code 4000 (`TOO_SLOW`) after what it had queued.
    Overflow,
    /// A write failed; `value` is the errno. The connection is closed.
    Error,
}

impl NoticeKind {
    /// The stable name the binding hands to Python.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lagging => "lagging",
            Self::Overflow => "overflow",
            Self::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Notice {
    pub conn: u64,
    pub kind: NoticeKind,
    pub value: u64,
}

/// A snapshot of a fan-out's counters (all since it was made, except the first two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FanoutStats {
    /// Registered connections not yet closed by the writer (those still
    /// flushing after `close` included).
    pub connections: u64,
    /// Groups not dropped.
    pub groups: u64,
    /// Writer threads (fixed at creation): the writer figures below are their sums.
    pub writers: u64,
    /// Messages queued, counted once per connection they were queued on.
    pub messages_queued: u64,
    pub bytes_written: u64,
    /// `sendmsg` calls that wrote at least one byte.
    pub write_calls: u64,
    /// Audio messages dropped for slow readers.
    pub audio_dropped: u64,
    /// Audio messages still queued, not begun, when their connection was closed: dropped, so
    /// that the close frame queued after them goes out at once.
    pub audio_dropped_at_close: u64,
    pub overflows: u64,
    pub write_errors: u64,
    /// CPU time used by the writer threads, as each measured it after its last pass.
    pub writer_cpu_ns: u64,
    /// Wall time the writers spent in passes that had connections to write: near all of the time
    /// (`writers` times the wall time), they never catch up, and a message waits up to a pass
    /// (`writer_busy_ns / writer_passes`, the mean pass).
    pub writer_busy_ns: u64,
    /// Passes that had connections to write.
    pub writer_passes: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub messages_queued: AtomicU64,
    pub bytes_written: AtomicU64,
    pub write_calls: AtomicU64,
    pub audio_dropped: AtomicU64,
    pub audio_dropped_at_close: AtomicU64,
    pub overflows: AtomicU64,
    pub write_errors: AtomicU64,
    pub writer_busy_ns: AtomicU64,
    pub writer_passes: AtomicU64,
    pub stream_visits: AtomicU64,
    pub late_visits: AtomicU64,
}

/// `Fanout::writers_load`: totals so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WritersLoad {
    pub writers: usize,
    /// Wall time in passes, summed over the writers (as `FanoutStats::writer_busy_ns`).
    pub busy_ns: u64,
    /// Visits that sent a member its stream's items, and those of them that found it late
    /// (`Follow::late`: not visited since before the publication before the last).
    pub visits: u64,
    pub late_visits: u64,
}

/// A writer's counts since it last published them (`publish`, after each pass and before it sleeps).
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub bytes: u64,
    pub calls: u64,
    /// Wall time in passes with work, and those passes.
    pub busy_ns: u64,
    pub passes: u64,
    /// Stream visits, and those that found the member late (`Follow::late`).
    pub visits: u64,
    pub late_visits: u64,
}

impl Tally {
    pub fn publish(self, counters: &Counters) {
        // Busy first: a caller that sees the bytes of a pass written sees its time too.
        bump(&counters.writer_busy_ns, self.busy_ns);
        bump(&counters.writer_passes, self.passes);
        bump(&counters.stream_visits, self.visits);
        bump(&counters.late_visits, self.late_visits);
        bump(&counters.bytes_written, self.bytes);
        bump(&counters.write_calls, self.calls);
    }
}

/// Adds to a counter; only totals are read, so no ordering is needed.
pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    if by != 0 {
        counter.fetch_add(by, Ordering::Relaxed);
    }
}

impl Counters {
    /// The counters, with what is not kept in them: the registry's sizes and each writer's CPU time.
    pub fn snapshot(&self, connections: u64, groups: u64, writer_cpu: &[&AtomicU64]) -> FanoutStats {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FanoutStats {
            connections,
            groups,
            writers: writer_cpu.len() as u64,
            messages_queued: read(&self.messages_queued),
            bytes_written: read(&self.bytes_written),
            write_calls: read(&self.write_calls),
            audio_dropped: read(&self.audio_dropped),
            audio_dropped_at_close: read(&self.audio_dropped_at_close),
            overflows: read(&self.overflows),
            write_errors: read(&self.write_errors),
            writer_cpu_ns: writer_cpu.iter().map(|&c| read(c)).sum(),
            writer_busy_ns: read(&self.writer_busy_ns),
            writer_passes: read(&self.writer_passes),
        }
    }
}
