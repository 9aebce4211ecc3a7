//! The run's capture clock and what each member of a pool did with its slots.
//!
//! Every speaker of a run stamps its packets from one paced clock: slot `k` is the 20 ms of audio
//! that starts at `t0 + 20 ms · k` (µs of unix time), whatever moment the packet was sent. The
//! server stamps each frame with the earliest `captured_at` of the packets mixed into it, so a
//! real frame names the slot it carries. Each member keeps a bitmap over the run's slots: for a
//! speaker, the slots it sent; for a listener, the slots that reached it as a real frame. A
//! listener's coverage is then its bitmap against the union of its speakers' bitmaps, counted
//! over a window of slots fixed on the speakers' timeline (`coverage`).
//!
//! A frame names only the earliest of the slots mixed into it. When two speakers overlap and the
//! server's queue of one holds its packets a tick longer, each frame mixes slot `k` of one with
//! `k + 1` of the other and names `k`; when the one behind stops, the next tick names `k + 2`, and
//! slot `k + 1`, played in the tick before, is named by no frame. So a listener also keeps the
//! slots "bridged": unnamed between two consecutive ticks (`seq` n and n + 1) that named the slots
//! on either side. A bridged slot counts as heard only right after a slot that two speakers
//! produced; elsewhere the same pattern is the server skipping a packet (its queue trimming a
//! standing delay), which the listener did not hear.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The length of one slot (one Opus packet), µs.
pub const SLOT_US: u64 = 20_000;

/// The slot `captured_at` stands for on the clock started at `t0_us`, if it is exactly on a slot
/// boundary inside `0..slots`.
pub fn slot_of(captured_at: u64, t0_us: u64, slots: u64) -> Option<u64> {
    let offset = captured_at.checked_sub(t0_us)?;
    (offset % SLOT_US == 0 && offset / SLOT_US < slots).then_some(offset / SLOT_US)
}

/// One member's slots: a bitmap with one writer (the pool thread) and any number of readers.
pub(crate) struct SlotMap {
    words: Box<[AtomicU64]>,
}

impl SlotMap {
    pub fn new(slots: u64) -> Self {
        Self { words: (0..slots.div_ceil(64)).map(|_| AtomicU64::new(0)).collect() }
    }

    /// Marks `slot` (inside the map: the caller checked it with `slot_of`). One writer: a plain
    /// load and store, no locked instruction.
    pub fn set(&self, slot: u64) {
        let word = &self.words[(slot / 64) as usize];
        word.store(word.load(Relaxed) | 1 << (slot % 64), Relaxed);
    }

    pub fn words(&self) -> Vec<u64> {
        self.words.iter().map(|w| w.load(Relaxed)).collect()
    }
}

/// How many slots of `window` (start inclusive, end exclusive) are set in both `mine` and
/// `produced`. Words missing from either side count as empty.
pub fn covered(mine: &[u64], produced: &[u64], window: (u64, u64)) -> u64 {
    let (start, end) = window;
    let mut count = 0;
    let last = (end.div_ceil(64) as usize).min(mine.len()).min(produced.len());
    for index in (start / 64) as usize..last {
        let base = index as u64 * 64;
        let mut both = mine[index] & produced[index];
        if start > base {
            both &= u64::MAX << (start - base);
        }
        if end < base + 64 {
            both &= (1u64 << (end - base)) - 1;
        }
        count += u64::from(both.count_ones());
    }
    count
}

/// The slots `[start, end)` over which frames are measured (latency); the whole clock until set.
pub(crate) struct Window {
    start: AtomicU64,
    end: AtomicU64,
}

impl Default for Window {
    fn default() -> Self {
        Self { start: AtomicU64::new(0), end: AtomicU64::new(u64::MAX) }
    }
}

impl Window {
    pub fn set(&self, start: u64, end: u64) {
        self.start.store(start, Relaxed);
        self.end.store(end, Relaxed);
    }

    pub fn contains(&self, slot: u64) -> bool {
        (self.start.load(Relaxed)..self.end.load(Relaxed)).contains(&slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_time_names_its_slot_only_on_the_clock() {
        let t0 = 1_700_000_000_000_000;
        assert_eq!(slot_of(t0, t0, 10), Some(0));
        assert_eq!(slot_of(t0 + 9 * SLOT_US, t0, 10), Some(9));
        assert_eq!(slot_of(t0 + 10 * SLOT_US, t0, 10), None, "past the clock's slots");
        assert_eq!(slot_of(t0 + SLOT_US + 1, t0, 10), None, "between two slots");
        assert_eq!(slot_of(t0 - SLOT_US, t0, 10), None, "before the clock started");
    }

    #[test]
    fn covered_counts_slots_set_on_both_sides_inside_the_window() {
        let mine = SlotMap::new(200);
        let produced = SlotMap::new(200);
        for slot in (0..200).step_by(2) {
            produced.set(slot);
        }
        for slot in [0, 1, 2, 63, 64, 66, 130, 198, 199] {
            mine.set(slot);
        }
        let (mine, produced) = (mine.words(), produced.words());
        assert_eq!(covered(&mine, &produced, (0, 200)), 6, "0 2 64 66 130 198");
        assert_eq!(covered(&mine, &produced, (1, 66)), 2, "2 64");
        assert_eq!(covered(&mine, &produced, (64, 65)), 1);
        assert_eq!(covered(&mine, &produced, (65, 64)), 0, "an empty window");
        assert_eq!(covered(&mine, &produced, (0, 1_000)), 6, "a window past the map");
        assert_eq!(covered(&[], &produced, (0, 200)), 0, "a listener with no map heard nothing");
    }
}
