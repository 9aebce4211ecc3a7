//! What each member of a pool heard or sent, as bitmaps of the capture clock's slots, and a
//! listener's coverage: the slots of a window it heard among those its space's speakers produced.

use super::Pool;
use crate::clock::covered;
use crate::stats::Cell;

impl Pool {
    /// Each member's bitmap of slots (64 a word, slot 0 the lowest bit of the first word): slots
    /// heard by a listener, slots sent by a speaker.
    pub fn slot_maps(&self) -> Vec<Vec<u64>> {
        self.shared.cells.iter().map(|cell| cell.slots.words()).collect()
    }

    /// For each member, how many slots of `window` (start inclusive, end exclusive) it heard that
    /// `produced` holds too: a listener's coverage of what its speakers said, before dividing. A
    /// slot no frame named counts as heard if the listener's consecutive ticks named the slots on
    /// either side and `after_overlap` holds it (a slot after one that two speakers produced).
    pub fn coverage(&self, window: (u64, u64), produced: &[u64], after_overlap: &[u64]) -> Vec<u64> {
        let members = self.shared.cells.len();
        self.coverage_each(window, &vec![produced; members], &vec![after_overlap; members])
    }

    /// `coverage` with each member's own `produced` and `after_overlap` (its space's), in the
    /// members' order; a member past the end of either list has none.
    pub fn coverage_each(
        &self,
        window: (u64, u64),
        produced: &[&[u64]],
        after_overlap: &[&[u64]],
    ) -> Vec<u64> {
        let heard = self.heard_maps_each(after_overlap);
        heard
            .iter()
            .enumerate()
            .map(|(i, heard)| covered(heard, produced.get(i).copied().unwrap_or(&[]), window))
            .collect()
    }

    /// For each member, the slots `coverage` counts as heard: those a frame named, and those bridged
    /// right after an overlap (`after_overlap`).
    pub fn heard_maps(&self, after_overlap: &[u64]) -> Vec<Vec<u64>> {
        self.heard_maps_each(&vec![after_overlap; self.shared.cells.len()])
    }

    /// `heard_maps` with each member's own `after_overlap`, as `coverage_each`.
    pub fn heard_maps_each(&self, after_overlap: &[&[u64]]) -> Vec<Vec<u64>> {
        let heard = |(member, cell): (usize, &Cell)| -> Vec<u64> {
            let after_overlap = after_overlap.get(member).copied().unwrap_or(&[]);
            let bridged = cell.bridged.words();
            let mut words = cell.slots.words();
            for (i, word) in words.iter_mut().enumerate() {
                *word |= bridged[i] & after_overlap.get(i).copied().unwrap_or(0);
            }
            words
        };
        self.shared.cells.iter().enumerate().map(heard).collect()
    }
}
