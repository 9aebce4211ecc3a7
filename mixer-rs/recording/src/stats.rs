//! What a recording holds so far: counters the writer thread bumps as each
//! page reaches the file, read at any time without waiting for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::head::{FRAME_SAMPLES, PRE_SKIP, duration_ms};

/// A recording's figures: what is in its file now (a page a second is
/// written, so while it runs the last second is not counted yet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordingStats {
    /// What the file plays: its packets' time less the pre-skip.
    pub duration_ms: u64,
    /// Bytes in the file, headers included.
    pub bytes: u64,
    /// 20 ms packets in the file: the sum of the three below.
    pub frames: u64,
    /// Packets that were the listeners' frame as it was (everyone mixed had consented).
    pub frames_shared: u64,
    /// Packets of the recording's own mix (someone talking had not consented).
    pub frames_own: u64,
    /// Packets of silence (nobody who consented talking, or nobody talking).
    pub frames_silent: u64,
    /// Pages that could not be written: a write failed (the file then ends at its last whole page),
    /// or the disk fell so far behind that pages were held back no longer. 0 for a sound recording.
    pub write_errors: u64,
}

/// One page's packets, by where they came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) shared: u64,
    pub(crate) own: u64,
    pub(crate) silent: u64,
}

impl Counts {
    pub(crate) fn frames(&self) -> u64 {
        self.shared + self.own + self.silent
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    bytes: AtomicU64,
    shared: AtomicU64,
    own: AtomicU64,
    silent: AtomicU64,
    write_errors: AtomicU64,
}

impl Counters {
    /// A page of `bytes` holding `counts` is in the file.
    pub(crate) fn written(&self, bytes: usize, counts: Counts) {
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.shared.fetch_add(counts.shared, Ordering::Relaxed);
        self.own.fetch_add(counts.own, Ordering::Relaxed);
        self.silent.fetch_add(counts.silent, Ordering::Relaxed);
    }

    pub(crate) fn write_error(&self) {
        self.write_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> RecordingStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (shared, own, silent) = (get(&self.shared), get(&self.own), get(&self.silent));
        let frames = shared + own + silent;
        RecordingStats {
            duration_ms: duration_ms(frames * FRAME_SAMPLES, PRE_SKIP),
            bytes: get(&self.bytes),
            frames,
            frames_shared: shared,
            frames_own: own,
            frames_silent: silent,
            write_errors: get(&self.write_errors),
        }
    }
}

/// Reads a recording's figures from any thread, as long as it runs and after.
#[derive(Debug, Clone)]
pub struct StatsReader(pub(crate) Arc<Counters>);

impl StatsReader {
    pub fn get(&self) -> RecordingStats {
        self.0.snapshot()
    }
}
