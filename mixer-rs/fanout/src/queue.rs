//! `OutQueue`, one connection's bytes waiting to be written, and its policy:
//! bounded by bytes and by audio messages, audio dropped oldest-first, control
//! never dropped, and nothing dropped once its writing has begun.

use std::collections::VecDeque;
use std::sync::Arc;

/// How a queued message may be treated under pressure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Never dropped: if it cannot fit, the connection has overflowed.
    Control,
    /// Dropped oldest-first when the connection lags.
    Audio,
}

/// A connection queue's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub max_bytes: usize,
    pub max_audio: usize,
}

#[derive(Debug)]
struct Segment {
    bytes: Arc<[u8]>,
    kind: Kind,
}

/// What became of an offered audio message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AudioOffer {
    pub queued: bool,
    /// Audio messages dropped, the offered one included if it was.
    pub dropped: usize,
}

/// The segments of one connection, in the order they leave.
#[derive(Debug, Default)]
pub(crate) struct OutQueue {
    segs: VecDeque<Segment>,
    /// Bytes of `segs[0]` already written.
    head_written: usize,
    /// Bytes queued and not yet written.
    bytes: usize,
    audio: usize,
    /// `segs[..pinned]` are being written right now: nobody may remove them.
    pinned: usize,
}

impl OutQueue {
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// Index of the first segment that may be dropped: not partly written, not pinned.
    fn first_droppable(&self) -> usize {
        self.pinned.max(usize::from(self.head_written > 0))
    }

    /// How many of the oldest droppable audio messages must go so that
    /// `drop_count` messages and `drop_bytes` bytes are freed; `None` if even
    /// all of them would not do.
    fn victims(&self, mut drop_count: usize, mut drop_bytes: usize) -> Option<usize> {
        let mut victims = 0;
        for seg in self.segs.iter().skip(self.first_droppable()) {
            if drop_count == 0 && drop_bytes == 0 {
                break;
            }
            if seg.kind == Kind::Audio {
                victims += 1;
                drop_count = drop_count.saturating_sub(1);
                drop_bytes = drop_bytes.saturating_sub(seg.bytes.len());
            }
        }
        (drop_count == 0 && drop_bytes == 0).then_some(victims)
    }

    /// Removes the `victims` oldest droppable audio messages.
    fn drop_oldest_audio(&mut self, victims: usize) {
        let first = self.first_droppable();
        let (mut index, mut left, mut freed) = (0, victims, 0);
        self.segs.retain(|seg| {
            let drop = left > 0 && index >= first && seg.kind == Kind::Audio;
            index += 1;
            if drop {
                left -= 1;
                freed += seg.bytes.len();
            }
            !drop
        });
        self.bytes -= freed;
        self.audio -= victims;
    }

    fn push(&mut self, bytes: Arc<[u8]>, kind: Kind) {
        self.bytes += bytes.len();
        self.audio += usize::from(kind == Kind::Audio);
        self.segs.push_back(Segment { bytes, kind });
    }

    /// Queues an audio message, dropping older unstarted audio to make room;
    /// drops the new one instead if no amount of that would.
    pub fn offer_audio(&mut self, bytes: Arc<[u8]>, limits: Limits) -> AudioOffer {
        let drop_count = (self.audio + 1).saturating_sub(limits.max_audio);
        let drop_bytes = (self.bytes + bytes.len()).saturating_sub(limits.max_bytes);
        match self.victims(drop_count, drop_bytes) {
            Some(victims) => {
                self.drop_oldest_audio(victims);
                self.push(bytes, Kind::Audio);
                AudioOffer { queued: true, dropped: victims }
            }
            None => AudioOffer { queued: false, dropped: 1 },
        }
    }

    /// Queues a control message, dropping older unstarted audio to make room.
    /// `Err(())` if it cannot fit: the queue is then unchanged.
    pub fn offer_control(&mut self, bytes: Arc<[u8]>, limits: Limits) -> Result<usize, ()> {
        let drop_bytes = (self.bytes + bytes.len()).saturating_sub(limits.max_bytes);
        let victims = self.victims(0, drop_bytes).ok_or(())?;
        self.drop_oldest_audio(victims);
        self.push(bytes, Kind::Control);
        Ok(victims)
    }

    /// Queues a closing connection's last message, its close frame (at most
    /// 127 bytes), whatever the bounds: it is never refused for want of room,
    /// and nothing can follow it.
    pub fn push_last(&mut self, bytes: Arc<[u8]>) {
        self.push(bytes, Kind::Control);
    }

    /// Pins up to `max_segments` segments from the front and hands `each` the
    /// unwritten part of each; returns how many were pinned. They stay in
    /// place, unchanged, until `written` is called.
    pub fn pin_front(&mut self, max_segments: usize, mut each: impl FnMut(&[u8])) -> usize {
        let count = self.segs.len().min(max_segments);
        for (i, seg) in self.segs.iter().take(count).enumerate() {
            let skip = if i == 0 { self.head_written } else { 0 };
            each(&seg.bytes[skip..]);
        }
        self.pinned = count;
        count
    }

    /// The pinned segments were not written after all (EAGAIN, error).
    pub fn unpin(&mut self) {
        self.pinned = 0;
    }

    /// `count` bytes left the queue's front; unpins everything.
    pub fn written(&mut self, mut count: usize) {
        self.pinned = 0;
        self.bytes -= count;
        while let Some(head) = self.segs.front() {
            let left = head.bytes.len() - self.head_written;
            if count < left {
                self.head_written += count;
                return;
            }
            count -= left;
            self.head_written = 0;
            self.audio -= usize::from(head.kind == Kind::Audio);
            self.segs.pop_front();
        }
    }

    /// Puts back at the front, in order, audio messages that were being
    /// written from elsewhere (a writer's own buffer) and did not all go:
    /// `begun` bytes of the first were written. Only the writer writes, so
    /// nothing queued meanwhile has begun, and nothing is pinned.
    pub fn put_back(&mut self, unsent: Vec<Arc<[u8]>>, begun: usize) {
        debug_assert!(self.head_written == 0 && self.pinned == 0);
        for bytes in unsent.into_iter().rev() {
            self.bytes += bytes.len();
            self.audio += 1;
            self.segs.push_front(Segment { bytes, kind: Kind::Audio });
        }
        self.head_written = begun;
        self.bytes -= begun;
    }

    /// Drops every audio message not yet begun (the connection is closing: what
    /// follows them, its close frame, should not wait behind stale audio); returns how many.
    pub fn drop_audio(&mut self) -> usize {
        let victims =
            self.segs.iter().skip(self.first_droppable()).filter(|seg| seg.kind == Kind::Audio).count();
        self.drop_oldest_audio(victims);
        victims
    }

    /// Forgets everything queued (the connection is gone); returns the bytes dropped.
    pub fn clear(&mut self) -> usize {
        let dropped = self.bytes;
        *self = Self::default();
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_bytes: 100, max_audio: 3 };

    fn msg(tag: u8, len: usize) -> Arc<[u8]> {
        vec![tag; len].into()
    }

    /// The first byte of each queued segment, front first.
    fn tags(queue: &OutQueue) -> Vec<u8> {
        queue.segs.iter().map(|s| s.bytes[0]).collect()
    }

    #[test]
    fn a_closing_queue_drops_its_unstarted_audio_and_keeps_control() {
        let mut q = OutQueue::default();
        q.offer_audio(msg(1, 10), LIMITS);
        q.offer_audio(msg(2, 10), LIMITS);
        q.offer_control(msg(3, 10), LIMITS).unwrap();
        q.offer_audio(msg(4, 10), LIMITS);
        q.written(4); // the first message is partly written: it must finish
        assert_eq!(q.drop_audio(), 2);
        assert_eq!(tags(&q), [1, 3]);
        assert_eq!(q.bytes(), 16);
        assert_eq!(q.drop_audio(), 0);
    }

    #[test]
    fn audio_over_the_count_drops_the_oldest_audio_not_control() {
        let mut q = OutQueue::default();
        q.offer_audio(msg(1, 10), LIMITS);
        q.offer_control(msg(2, 10), LIMITS).unwrap();
        q.offer_audio(msg(3, 10), LIMITS);
        q.offer_audio(msg(4, 10), LIMITS);
        let offer = q.offer_audio(msg(5, 10), LIMITS);
        assert_eq!(offer, AudioOffer { queued: true, dropped: 1 });
        assert_eq!(tags(&q), [2, 3, 4, 5]);
        assert_eq!(q.bytes(), 40);
    }

    #[test]
    fn audio_over_the_bytes_drops_as_many_old_ones_as_needed() {
        let mut q = OutQueue::default();
        for tag in 1..=3 {
            q.offer_audio(msg(tag, 30), LIMITS);
        }
        let offer = q.offer_audio(msg(4, 70), Limits { max_audio: 10, ..LIMITS });
        assert_eq!(offer, AudioOffer { queued: true, dropped: 2 });
        assert_eq!(tags(&q), [3, 4]);
    }

    #[test]
    fn audio_that_cannot_fit_is_dropped_and_old_audio_kept() {
        let mut q = OutQueue::default();
        q.offer_control(msg(1, 60), LIMITS).unwrap();
        q.offer_audio(msg(2, 30), LIMITS);
        let offer = q.offer_audio(msg(3, 50), LIMITS);
        assert_eq!(offer, AudioOffer { queued: false, dropped: 1 });
        assert_eq!(tags(&q), [1, 2]);
    }

    #[test]
    fn a_partly_written_or_pinned_audio_message_is_never_dropped() {
        let mut q = OutQueue::default();
        for tag in 1..=3 {
            q.offer_audio(msg(tag, 10), LIMITS);
        }
        q.written(5); // message 1 has started
        q.offer_audio(msg(4, 10), LIMITS);
        assert_eq!(tags(&q), [1, 3, 4]);
        let mut seen = Vec::new();
        assert_eq!(q.pin_front(2, |s| seen.push(s.len())), 2);
        assert_eq!(seen, [5, 10]);
        q.offer_audio(msg(5, 10), LIMITS);
        assert_eq!(tags(&q), [1, 3, 5], "1 and 3 are pinned: 4 goes");
    }

    #[test]
    fn control_that_cannot_fit_leaves_the_queue_unchanged() {
        let mut q = OutQueue::default();
        q.offer_audio(msg(1, 40), LIMITS);
        q.offer_control(msg(2, 50), LIMITS).unwrap();
        assert_eq!(q.offer_control(msg(3, 20), LIMITS), Ok(1));
        assert_eq!(tags(&q), [2, 3]);
        assert_eq!(q.offer_control(msg(4, 40), LIMITS), Err(()));
        assert_eq!(tags(&q), [2, 3]);
        assert_eq!(q.bytes(), 70);
    }

    #[test]
    fn messages_put_back_go_first_and_the_begun_one_is_never_dropped() {
        let mut q = OutQueue::default();
        q.offer_control(msg(9, 10), LIMITS).unwrap(); // queued while the writer was writing from its buffer
        q.put_back(vec![msg(1, 10), msg(2, 10)], 4);
        assert_eq!((tags(&q), q.bytes(), q.audio), (vec![1, 2, 9], 26, 2));
        assert_eq!(q.drop_audio(), 1, "the begun message stays");
        assert_eq!(tags(&q), [1, 9]);
        q.written(6);
        assert_eq!(tags(&q), [9]);
    }

    #[test]
    fn written_bytes_advance_through_segments_in_order() {
        let mut q = OutQueue::default();
        q.offer_control(msg(1, 10), LIMITS).unwrap();
        q.offer_audio(msg(2, 10), LIMITS);
        q.offer_control(msg(3, 10), LIMITS).unwrap();
        q.written(15);
        assert_eq!((tags(&q), q.bytes(), q.audio), (vec![2, 3], 15, 1));
        q.written(15);
        assert!(q.is_empty());
        assert_eq!((q.bytes(), q.audio, q.head_written), (0, 0, 0));
    }
}
