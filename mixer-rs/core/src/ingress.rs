//! What arrives between two ticks: packets and membership changes, kept apart
//! from the inputs so that `push` (the network side) never waits behind a
//! running tick's decode and encode. The tick drains it in one go at its start.
//!
//! The packets' map goes back and forth between the ingress and the engine
//! (`drain` swaps it for the one the engine emptied), each input's queue kept:
//! a packet pushed finds its queue there, so that from a talk's third tick on
//! a push allocates nothing but the packet's own bytes. A space gone quiet
//! lets them go (`release`).

use std::collections::{HashMap, HashSet, VecDeque};

use crate::input::Input;
use crate::queue::Frame;

/// Packets by input id, each input's in arrival order.
pub(crate) type Arrived = HashMap<u64, VecDeque<Frame>>;

/// Membership as the caller last set it, and the changes and packets not yet
/// seen by a tick.
///
/// Invariant: after `drain`, applying `removals`, then `additions`, then
/// `consents`, then the packets it swapped out brings the tick's inputs to
/// exactly `members`, each consenting as last set.
pub(crate) struct Ingress {
    members: HashSet<u64>,
    removals: Vec<u64>,
    /// New inputs, built by the caller's thread so the tick does not pay for
    /// codec set-up.
    additions: Vec<(u64, Input)>,
    packets: Arrived,
    /// Consent changes since the last tick, the latest per input.
    consents: HashMap<u64, bool>,
    pending: usize,
    /// A memory bound for a caller that stops ticking; the inputs' jitter
    /// queues apply the real overflow policy.
    cap_per_input: usize,
}

pub(crate) struct Drained {
    pub(crate) removals: Vec<u64>,
    pub(crate) additions: Vec<(u64, Input)>,
    pub(crate) consents: HashMap<u64, bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accepted {
    Unknown,
    Queued,
    QueuedDroppedOldest,
}

impl Ingress {
    pub(crate) fn new(cap_per_input: usize) -> Self {
        Self {
            members: HashSet::new(),
            removals: Vec::new(),
            additions: Vec::new(),
            packets: Arrived::new(),
            consents: HashMap::new(),
            pending: 0,
            cap_per_input: cap_per_input.max(1),
        }
    }

    pub(crate) fn contains(&self, id: u64) -> bool {
        self.members.contains(&id)
    }

    /// Makes `id` a member with a freshly built `input`; no-op if a member.
    pub(crate) fn add(&mut self, id: u64, input: Input) {
        if self.members.insert(id) {
            self.additions.push((id, input));
        }
    }

    /// Returns how many not-yet-ticked packets of `id` were dropped.
    pub(crate) fn remove(&mut self, id: u64) -> usize {
        if !self.members.remove(&id) {
            return 0;
        }
        if let Some(at) = self.additions.iter().position(|(a, _)| *a == id) {
            // Added since the last tick: cancelling the addition is enough
            // (a removal of an older incarnation, if any, is already recorded).
            self.additions.swap_remove(at);
        } else {
            self.removals.push(id);
        }
        // An input's consent goes with it (ids are not reused; one that is must consent again).
        self.consents.insert(id, false);
        let dropped = self.packets.remove(&id).map_or(0, |q| q.len());
        self.pending -= dropped;
        dropped
    }

    /// Whether `id`'s voice may enter a recording, from the next tick on; an
    /// id that is not an input yet keeps it for when it becomes one.
    pub(crate) fn set_consent(&mut self, id: u64, consent: bool) {
        self.consents.insert(id, consent);
    }

    pub(crate) fn push(&mut self, id: u64, frame: Frame) -> Accepted {
        if !self.members.contains(&id) {
            return Accepted::Unknown;
        }
        let queue = self.packets.entry(id).or_default();
        queue.push_back(frame);
        if queue.len() > self.cap_per_input {
            queue.pop_front();
            Accepted::QueuedDroppedOldest
        } else {
            self.pending += 1;
            Accepted::Queued
        }
    }

    /// The space went quiet: the queues kept for its speakers go, unless a packet came meanwhile.
    pub(crate) fn release(&mut self) {
        if self.pending == 0 {
            self.packets = Arrived::new();
        }
    }

    pub(crate) fn has_packets(&self) -> bool {
        self.pending > 0
    }

    /// Everything since the last tick; the packets are swapped into `arrived`,
    /// whose queues the caller has emptied (they are kept, for the next pushes).
    pub(crate) fn drain(&mut self, arrived: &mut Arrived) -> Drained {
        debug_assert!(arrived.values().all(VecDeque::is_empty), "the engine empties what it was given");
        self.pending = 0;
        std::mem::swap(&mut self.packets, arrived);
        Drained {
            removals: std::mem::take(&mut self.removals),
            additions: std::mem::take(&mut self.additions),
            consents: std::mem::take(&mut self.consents),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64) -> Frame {
        Frame::new(seq, 0, vec![1])
    }

    fn input() -> Input {
        Input::new(4, 32_000, 0)
    }

    #[test]
    fn push_to_a_non_member_is_refused() {
        let mut ingress = Ingress::new(4);
        assert_eq!(ingress.push(7, frame(1)), Accepted::Unknown);
        ingress.add(7, input());
        assert_eq!(ingress.push(7, frame(1)), Accepted::Queued);
        assert_eq!(ingress.remove(7), 1);
        assert_eq!(ingress.push(7, frame(2)), Accepted::Unknown);
        assert!(!ingress.has_packets());
    }

    #[test]
    fn remove_then_add_between_ticks_records_both() {
        let mut ingress = Ingress::new(4);
        ingress.add(1, input());
        ingress.drain(&mut Arrived::new());
        ingress.remove(1);
        ingress.add(1, input());
        let drained = ingress.drain(&mut Arrived::new());
        let added: Vec<u64> = drained.additions.iter().map(|(id, _)| *id).collect();
        assert_eq!((drained.removals, added), (vec![1], vec![1]));
    }

    #[test]
    fn add_then_remove_between_ticks_cancels_out() {
        let mut ingress = Ingress::new(4);
        ingress.add(1, input());
        ingress.remove(1);
        let drained = ingress.drain(&mut Arrived::new());
        assert!(drained.removals.is_empty() && drained.additions.is_empty());
    }

    #[test]
    fn a_caller_that_stops_ticking_holds_bounded_packets() {
        let mut ingress = Ingress::new(2);
        ingress.add(1, input());
        ingress.push(1, frame(1));
        ingress.push(1, frame(2));
        assert_eq!(ingress.push(1, frame(3)), Accepted::QueuedDroppedOldest);
        let mut arrived = Arrived::new();
        ingress.drain(&mut arrived);
        let seqs: Vec<u64> = arrived[&1].iter().map(|f| f.seq).collect();
        assert_eq!(seqs, vec![2, 3]);
    }

    #[test]
    fn each_input_keeps_its_queue_from_tick_to_tick() {
        let mut ingress = Ingress::new(4);
        ingress.add(1, input());
        let mut arrived = Arrived::new();
        for seq in 0..3 {
            ingress.push(1, frame(seq));
            ingress.drain(&mut arrived);
            let queue = arrived.get_mut(&1).expect("its packets");
            assert_eq!(queue.drain(..).map(|f| f.seq).collect::<Vec<_>>(), vec![seq]);
        }
        // Both maps now hold the input's queue, with room: a push allocates nothing for it.
        assert!(ingress.packets[&1].capacity() > 0 && arrived[&1].capacity() > 0);
        // Gone quiet, the space lets them go; but not a packet that came meanwhile.
        ingress.push(1, frame(9));
        ingress.release();
        assert_eq!(ingress.packets[&1].len(), 1);
        ingress.drain(&mut arrived);
        ingress.release();
        assert!(ingress.packets.is_empty());
    }
}
