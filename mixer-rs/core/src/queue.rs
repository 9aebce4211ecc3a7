//! `Frame`, one Opus packet as a sender sent it, and `JitterQueue`, the small
//! seq-ordered queue an input keeps them in until its tick plays them.

use std::collections::VecDeque;
use std::time::Instant;

/// One Opus packet from a sender: the bytes, the sender's packet counter and
/// when it was captured (µs, on the sender's clock; the mixer only compares them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub seq: u64,
    pub captured_at: u64,
    pub packet: Vec<u8>,
    /// The sender's measure of the packet's loudness, if it gave one: RFC
    /// 6464's audio level, −dBov (0 full scale, 127 for −127 dBov or quieter).
    /// With it the mixer decodes the packet only to mix it with other voices.
    pub level: Option<u8>,
    /// When the mixer took it: `Mixer::push` stamps a frame that has no time yet (a test may give one).
    pub arrived_at: Option<Instant>,
}

impl Frame {
    /// A frame without a level: the mixer decodes it to measure it.
    pub fn new(seq: u64, captured_at: u64, packet: Vec<u8>) -> Self {
        Self { seq, captured_at, packet, level: None, arrived_at: None }
    }
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

/// Frames kept waiting after a tick's pop: one frame of cushion against jitter.
pub const TARGET_DEPTH: usize = 1;
/// Ticks with more than `TARGET_DEPTH` frames left waiting before a quiet frame is skipped.
pub const TRIM_AFTER_TICKS: u32 = 25;
/// Ticks of that standing delay before a frame is skipped even if it is not quiet.
pub const TRIM_LOUD_AFTER_TICKS: u32 = 100;

/// At most `capacity` frames in seq order; plays each seq at most once.
#[derive(Debug)]
pub(crate) struct JitterQueue {
    frames: VecDeque<Frame>,
    capacity: usize,
    last_played: Option<u64>,
    /// Consecutive ticks that left more than `TARGET_DEPTH` frames waiting.
    standing: u32,
}

impl JitterQueue {
    /// `capacity` must be at least 1 (the mixer's config checks it).
    pub fn new(capacity: usize) -> Self {
        Self {
            frames: VecDeque::with_capacity(capacity + 1),
            capacity: capacity.max(1),
            last_played: None,
            standing: 0,
        }
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

    /// The lowest-seq frame, the next to play.
    pub fn front(&self) -> Option<&Frame> {
        self.frames.front()
    }

    /// Takes the lowest-seq frame; from then on its seq and any lower are late.
    pub fn pop(&mut self) -> Option<Frame> {
        let frame = self.frames.pop_front()?;
        self.last_played = Some(frame.seq);
        Some(frame)
    }

    /// Called once a tick, before `pop`: the frame to skip, if the queue has
    /// held more than it needs for `TRIM_AFTER_TICKS` ticks in a row and the
    /// next frame to play is `quiet`, or for `TRIM_LOUD_AFTER_TICKS` whatever it is.
    ///
    /// The sender and the mixer both run at 50 frames a second, so frames that
    /// piled up in a burst (a network hiccup, a busy sender) would otherwise
    /// stay queued, and add their delay to every later frame, for as long as
    /// the speaker talks. Skipping a frame drains the excess. A quiet one (a
    /// pause between words, when the sender sends its silence) costs nothing
    /// heard; a voiced one is a short glitch in a word, so it waits 2 s for a
    /// pause first. A sender that sends nothing while it is silent drains
    /// the queue itself at its next pause, and the wait ends then.
    pub fn trim(&mut self, quiet: impl Fn(&Frame) -> bool) -> Option<Frame> {
        if self.frames.len() > TARGET_DEPTH + 1 {
            self.standing += 1;
        } else {
            self.standing = 0;
        }
        if self.standing < TRIM_AFTER_TICKS {
            return None;
        }
        if self.standing < TRIM_LOUD_AFTER_TICKS && !self.frames.front().is_some_and(quiet) {
            return None;
        }
        self.standing = 0;
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

    /// Ticks `ticks` times on a queue 4 deep whose sender keeps pace (the depth stays where it was);
    /// the frames with a seq in `quiet` are quiet. Returns the ticks at which a frame was skipped, and
    /// the frames skipped.
    fn standing_queue(ticks: u32, quiet: &[u64]) -> (Vec<u32>, Vec<u64>, JitterQueue) {
        let mut q = JitterQueue::new(6);
        for seq in 0..4 {
            q.offer(frame(seq));
        }
        let (mut next, mut at, mut skipped) = (4, Vec::new(), Vec::new());
        for tick in 1..=ticks {
            if let Some(f) = q.trim(|f| quiet.contains(&f.seq)) {
                at.push(tick);
                skipped.push(f.seq);
            }
            q.pop();
            q.offer(frame(next));
            next += 1;
        }
        (at, skipped, q)
    }

    #[test]
    fn a_queue_that_stays_too_deep_skips_its_next_frame_once_that_is_quiet() {
        // Ticks 1-25 stand; the frame next at tick 25 is seq 24 (loud), at tick 30 seq 29 (quiet).
        let (at, skipped, q) = standing_queue(60, &[29]);
        assert_eq!((at, skipped), (vec![30], vec![29]), "the first quiet frame after 25 ticks of standing");
        assert_eq!(q.len(), 3, "one frame of the two in excess shed");
    }

    #[test]
    fn through_continuous_speech_it_waits_2_s_then_skips_a_loud_frame() {
        let loud = TRIM_LOUD_AFTER_TICKS;
        let (at, skipped, _) = standing_queue(loud * 2, &[]);
        assert_eq!(at, vec![loud, loud * 2], "one skip every {loud} ticks while the queue stands");
        assert_eq!(skipped, vec![u64::from(loud) - 1, u64::from(loud * 2)], "the next to play then");
    }

    #[test]
    fn a_quiet_frame_before_the_standing_delay_is_played() {
        let (at, _, _) = standing_queue(TRIM_AFTER_TICKS - 1, &(0..30).collect::<Vec<_>>());
        assert_eq!(at, Vec::<u32>::new());
    }

    #[test]
    fn a_queue_at_its_target_depth_is_never_trimmed() {
        let mut q = JitterQueue::new(6);
        q.offer(frame(0));
        q.offer(frame(1));
        for seq in 2..200 {
            assert!(q.trim(|_| true).is_none());
            q.pop();
            q.offer(frame(seq));
        }
    }

    fn frame(seq: u64) -> Frame {
        Frame::new(seq, seq * 20_000, vec![seq as u8])
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
