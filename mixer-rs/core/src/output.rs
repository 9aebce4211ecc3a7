//! What the mixer hands back: one `TickOutput` per tick, and `MixerStats`, a
//! snapshot of counters that the network and tick sides bump without locks.

use std::sync::atomic::{AtomicU64, Ordering};

/// How a tick was produced; tells the caller what it costs and what to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickKind {
    /// No input talking: nothing encoded, nothing to send (packets of
    /// silence, if any came, were decoded and measured).
    Silent,
    /// One talker in the mix, with a real packet: its packet is the shared
    /// output, unchanged.
    Passthrough,
    /// Everything else: the shared output and the mix-minus packets were encoded, or stand in for a
    /// talker's concealment (a one-byte packet that a decoder on that talker's stream conceals).
    Mixed,
}

impl TickKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Silent => "silent",
            Self::Passthrough => "passthrough",
            Self::Mixed => "mixed",
        }
    }
}

/// What a tick gives a recording (`Mixer::tick_recording`): the voices mixed
/// for listeners whose input consented (`Mixer::set_consent`), and no other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordFrame {
    /// Nobody mixed had consented (or nobody talked): the recording holds silence.
    Silent,
    /// Everyone mixed had consented: the recording's frame is `shared`, as listeners get it.
    Shared,
    /// Some mixed had consented, some not: the mix of those who had (one
    /// voice's packet as it came, or their sum encoded by the recording's own
    /// encoder).
    Own(Vec<u8>),
}

/// One tick's packets.
///
/// Who gets what: an input listed in `mixed` gets its entry in `minus`, or
/// nothing when it has none (it would only hear itself); everyone else gets
/// `shared`, which holds no voice that is not in `mixed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickOutput {
    /// 0 for a mixer's first tick, then +1 per tick.
    pub seq: u64,
    pub kind: TickKind,
    /// The smallest `captured_at` among real packets in the mix; 0 if none.
    pub captured_at: u64,
    /// The one Opus packet for everyone whose voice is not in the mix.
    pub shared: Option<Vec<u8>>,
    /// (input id, Opus packet of the mix without that input), in id order.
    pub minus: Vec<(u64, Vec<u8>)>,
    /// Inputs whose voice is in this tick's mix, in id order: the talkers,
    /// at most `max_mixed` of them, the loudest.
    pub mixed: Vec<u64>,
    /// (input id, level of its frame in dBFS, -127..=0) for every input that
    /// played audio this tick, mixed or not, in id order.
    pub levels: Vec<(u64, i8)>,
    /// The recording's frame, when the tick was asked for one; else `None`.
    pub recording: Option<RecordFrame>,
}

/// A snapshot of a mixer's counters since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MixerStats {
    pub ticks: u64,
    /// Packets accepted by `push` (the pushes that returned true).
    pub packets_in: u64,
    /// Packets discarded unplayed, for any of the four reasons below (their sum).
    pub packets_dropped: u64,
    /// Pushed to an input that does not exist (not, or no longer, on the mic).
    pub dropped_no_input: u64,
    /// Pushed out, oldest first, by a full queue (ingress or jitter queue).
    pub dropped_overflow: u64,
    /// Still queued when their input was removed.
    pub dropped_removed: u64,
    /// Skipped by a jitter queue that stood too deep for `TRIM_AFTER_TICKS` (`queue.rs`): each one was
    /// never heard, so that the packets after it are not heard late for as long as their sender talks.
    pub dropped_skipped: u64,
    /// Accepted packets discarded because their seq was played or queued already.
    pub packets_late: u64,
    /// Frames of loss concealment played (hangover or undecodable packet),
    /// whether or not the mix took them.
    pub concealed: u64,
    /// Of those, the frames a later packet of the same talk spurt ended: packets missing (lost, late
    /// for their tick, or undecodable) while the talker went on, or the pauses shorter than the
    /// hangover of a sender that sends nothing while silent. The rest are hangovers, after the last
    /// packet of a spurt.
    pub concealed_gaps: u64,
    pub decode_errors: u64,
    /// Opus encodes performed (shared, mix-minus, and the recording's own mix).
    pub encodes: u64,
    /// Opus packets decoded: every packet without a level; one with a level
    /// only when mixed with other voices, and those not decoded just before it.
    pub decodes: u64,
    /// Packets accepted that came with the sender's level (`Frame::level`).
    pub packets_with_level: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) ticks: AtomicU64,
    pub(crate) packets_in: AtomicU64,
    pub(crate) packets_dropped: AtomicU64,
    pub(crate) dropped_no_input: AtomicU64,
    pub(crate) dropped_overflow: AtomicU64,
    pub(crate) dropped_removed: AtomicU64,
    pub(crate) dropped_skipped: AtomicU64,
    pub(crate) packets_late: AtomicU64,
    pub(crate) concealed: AtomicU64,
    pub(crate) concealed_gaps: AtomicU64,
    pub(crate) decode_errors: AtomicU64,
    pub(crate) encodes: AtomicU64,
    pub(crate) decodes: AtomicU64,
    pub(crate) packets_with_level: AtomicU64,
}

/// Bumps a counter; the counters are statistics, ordered with nothing else.
pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    if by > 0 {
        counter.fetch_add(by, Ordering::Relaxed);
    }
}

/// Why a packet was discarded unplayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    NoInput,
    Overflow,
    Removed,
    Skipped,
}

impl Counters {
    /// Counts `n` packets dropped for `why`, in the total and in its reason.
    pub(crate) fn drop(&self, why: DropReason, n: u64) {
        bump(&self.packets_dropped, n);
        bump(
            match why {
                DropReason::NoInput => &self.dropped_no_input,
                DropReason::Overflow => &self.dropped_overflow,
                DropReason::Removed => &self.dropped_removed,
                DropReason::Skipped => &self.dropped_skipped,
            },
            n,
        );
    }

    pub(crate) fn snapshot(&self) -> MixerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MixerStats {
            ticks: get(&self.ticks),
            packets_in: get(&self.packets_in),
            packets_dropped: get(&self.packets_dropped),
            dropped_no_input: get(&self.dropped_no_input),
            dropped_overflow: get(&self.dropped_overflow),
            dropped_removed: get(&self.dropped_removed),
            dropped_skipped: get(&self.dropped_skipped),
            packets_late: get(&self.packets_late),
            concealed: get(&self.concealed),
            concealed_gaps: get(&self.concealed_gaps),
            decode_errors: get(&self.decode_errors),
            encodes: get(&self.encodes),
            decodes: get(&self.decodes),
            packets_with_level: get(&self.packets_with_level),
        }
    }
}
