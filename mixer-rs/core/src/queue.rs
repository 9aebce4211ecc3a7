//! `Frame`, one Opus packet as a sender sent it, and `JitterQueue`, the small
//! seq-ordered queue an input keeps them in until its tick plays them.

use std::collections::VecDeque;

/// One Opus packet from a sender: the bytes, the sender's packet counter and
/// when it was captured (µs, on the sender's clock; the mixer only compares them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub seq: u64,
    pub captured_at: u64,
    pub packet: Vec<u8>,
}

/// What became of an offered frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offer {
    /// Queued in seq order.
    Queued,
    /// Dropped: its seq was already played, or is already queued.
    Late,
    /// Queued, and the queue overflowed so its oldest frame was dropped
    /// (possibly the offered one itself, if it was the oldest).
    QueuedDroppedOldest,
}

/// At most `capacity` frames in seq order; plays each seq at most once.
#[derive(Debug)]
pub(crate) struct JitterQueue {
    frames: VecDeque<Frame>,
    capacity: usize,
    last_played: Option<u64>,
}

impl JitterQueue {
    /// `capacity` must be at least 1 (the mixer's config checks it).
    pub fn new(capacity: usize) -> Self {
        Self { frames: VecDeque::with_capacity(capacity + 1), capacity: capacity.max(1), last_played: None }
    }

    pub fn offer(&mut self, frame: Frame) -> Offer {
        if self.last_played.is_some_and(|played| frame.seq <= played) {
            return Offer::Late;
        }
        // Senders mostly deliver in order, so the search usually ends at the back.
        match self.frames.binary_search_by_key(&frame.seq, |f| f.seq) {
            Ok(_) => Offer::Late,
            Err(at) => {
                self.frames.insert(at, frame);
                if self.frames.len() > self.capacity {
                    self.frames.pop_front();
                    Offer::QueuedDroppedOldest
                } else {
                    Offer::Queued
                }
            }
        }
    }

    /// Takes the lowest-seq frame; from then on its seq and any lower are late.
    pub fn pop(&mut self) -> Option<Frame> {
        let frame = self.frames.pop_front()?;
        self.last_played = Some(frame.seq);
        Some(frame)
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64) -> Frame {
        Frame { seq, captured_at: seq * 20_000, packet: vec![seq as u8] }
    }

    fn seqs(q: &mut JitterQueue) -> Vec<u64> {
        std::iter::from_fn(|| q.pop()).map(|f| f.seq).collect()
    }

    #[test]
    fn out_of_order_frames_play_in_seq_order() {
        let mut q = JitterQueue::new(6);
        for seq in [3, 1, 2, 5, 4] {
            assert_eq!(q.offer(frame(seq)), Offer::Queued);
        }
        assert_eq!(seqs(&mut q), vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn duplicate_and_already_played_frames_are_late() {
        let mut q = JitterQueue::new(6);
        q.offer(frame(10));
        assert_eq!(q.offer(frame(10)), Offer::Late);
        assert_eq!(q.pop().unwrap().seq, 10);
        assert_eq!(q.offer(frame(10)), Offer::Late);
        assert_eq!(q.offer(frame(9)), Offer::Late);
        assert_eq!(q.offer(frame(11)), Offer::Queued);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn overflow_drops_the_oldest_frame() {
        let mut q = JitterQueue::new(3);
        for seq in 1..=3 {
            q.offer(frame(seq));
        }
        assert_eq!(q.offer(frame(4)), Offer::QueuedDroppedOldest);
        assert_eq!(q.offer(frame(0)), Offer::QueuedDroppedOldest, "an older straggler is itself dropped");
        assert_eq!(seqs(&mut q), vec![2, 3, 4]);
    }
}
