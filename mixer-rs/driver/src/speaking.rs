//! `Speaking`: who is talking in a space, told to everyone in it when it
//! changes, as a `speaking` message (msgpack written here, as the `audio`
//! message is in `wire.rs`; docs/protocol.md, `speaking`).
//!
//! The mixer already decides, every tick, whose voices are in the mix
//! (`TickOutput::mixed`: the gate's talkers, at most `max_mixed` of the
//! loudest). That set, named by user id, is what a listener hears, so it is
//! what the rings of a client show. The driver hands it to `observe` after
//! each tick; nothing is sent while it stays the same, which is nearly every
//! tick (a comparison of two short slices, no allocation).
//!
//! Against flicker there are two things. The gate keeps an input talking for
//! its hold (200 ms) after its last loud frame, so the gaps between words do
//! not change the set. And a space sends at most one message per
//! `MIN_INTERVAL`: a change within it waits, and at the end of it the set as
//! it is then is sent (or nothing, if it went back to what was sent). So a
//! space sends at most 4 a second, however its talkers come and go, and the
//! last change is never lost: the driver keeps ticking a quiet space until
//! it is out (`pending`).
//!
//! A mixer that has gone quiet has no talkers: the driver observes the empty
//! set then, with the seq its next frame will have (no frame is sent while
//! it is quiet, so none holds "nobody"). That frame, when someone talks
//! again, holds them: their set is told with the same `frame_seq`, the only
//! case where two messages share one (docs/protocol.md says how a client
//! applies an empty set). Sets are compared by input, and told by user: the same people
//! on other inputs (a speaker who reconnected has a fresh one) are no change. A newcomer is told the set last sent (`current`), right after its
//! `joined` or `resumed`; an empty set is not sent, since a client starts each
//! space with nobody talking.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::wire::{array_header, string, uint64};

/// The shortest time between two `speaking` messages of one space.
pub const MIN_INTERVAL: Duration = Duration::from_millis(250);

/// One space's talkers, as its participants were told and as they are now.
#[derive(Debug)]
pub struct Speaking {
    space_id: String,
    /// The fan-out group of everyone in the space.
    group: u64,
    /// Mixer input -> the user id it speaks for; an input with no name is never told.
    names: BTreeMap<u64, String>,
    /// The named inputs in the mix now, in input order, and the frame they began with.
    latest: Vec<u64>,
    latest_seq: u64,
    /// The inputs last sent (a copy of `latest` then), their users, its frame, and when.
    sent: Vec<u64>,
    sent_users: Vec<String>,
    sent_seq: u64,
    sent_at: Option<Instant>,
    /// `latest != sent`, kept so that a tick compares nothing more than `latest` with its mix.
    pending: bool,
    messages: u64,
}

impl Speaking {
    /// Tells `space_id`'s talkers to the fan-out group `group`.
    pub fn new(space_id: &str, group: u64) -> Self {
        Self {
            space_id: space_id.to_owned(),
            group,
            names: BTreeMap::new(),
            latest: Vec::new(),
            latest_seq: 0,
            sent: Vec::new(),
            sent_users: Vec::new(),
            sent_seq: 0,
            sent_at: None,
            pending: false,
            messages: 0,
        }
    }

    /// The fan-out group the messages go to.
    pub fn group(&self) -> u64 {
        self.group
    }

    /// Mixer input `input` speaks for user `user`.
    pub fn name(&mut self, input: u64, user: &str) {
        self.names.insert(input, user.to_owned());
    }

    /// Input `input` is gone (its mixer input was removed, so it leaves the mix at the next tick).
    pub fn forget(&mut self, input: u64) {
        self.names.remove(&input);
    }

    /// This tick's mix (`mixed`, input ids in order; empty once the mixer is
    /// quiet), whose frame is `frame_seq`, at `now` (the tick's deadline).
    /// Returns the message to send to the group, if the set differs from the
    /// one last sent and `MIN_INTERVAL` has passed since.
    pub fn observe(&mut self, mixed: &[u64], frame_seq: u64, now: Instant) -> Option<Vec<u8>> {
        let names = &self.names;
        let talking = mixed.iter().copied().filter(|id| names.contains_key(id));
        if !talking.clone().eq(self.latest.iter().copied()) {
            self.latest.clear();
            self.latest.extend(talking);
            self.latest_seq = frame_seq;
            self.pending = self.latest != self.sent;
        }
        if !self.pending || self.sent_at.is_some_and(|at| now < at + MIN_INTERVAL) {
            return None;
        }
        self.sent.clone_from(&self.latest);
        self.pending = false;
        let users: Vec<String> = self.latest.iter().filter_map(|id| self.names.get(id).cloned()).collect();
        if users == self.sent_users {
            return None; // the same people on other inputs (a speaker who reconnected): nothing to tell
        }
        self.sent_users = users;
        self.sent_seq = self.latest_seq;
        self.sent_at = Some(now);
        self.messages += 1;
        Some(self.message())
    }

    /// True while the set now differs from the one last sent (a change waits out `MIN_INTERVAL`).
    pub fn pending(&self) -> bool {
        self.pending
    }

    /// The message a newcomer needs: the set last sent, unless it is empty.
    pub fn current(&self) -> Option<Vec<u8>> {
        (!self.sent_users.is_empty()).then(|| self.message())
    }

    /// Messages sent to the group so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// `{"type": "speaking", "space_id", "user_ids": [...], "frame_seq"}` for the set last sent.
    fn message(&self) -> Vec<u8> {
        let users = &self.sent_users;
        let size = 64 + self.space_id.len() + users.iter().map(|u| u.len() + 5).sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.push(0x84); // map of 4
        string(&mut out, "type");
        string(&mut out, "speaking");
        string(&mut out, "space_id");
        string(&mut out, &self.space_id);
        string(&mut out, "user_ids");
        array_header(&mut out, users.len());
        for user in users {
            string(&mut out, user);
        }
        string(&mut out, "frame_seq");
        uint64(&mut out, self.sent_seq);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message as an independent msgpack reader sees it: (user ids, frame_seq).
    fn read(message: &[u8]) -> (Vec<String>, u64) {
        let value = rmpv::decode::read_value(&mut &message[..]).unwrap();
        let map = value.as_map().unwrap();
        let get = |key: &str| &map.iter().find(|(k, _)| k.as_str() == Some(key)).unwrap().1;
        assert_eq!(map.len(), 4);
        assert_eq!(get("type").as_str(), Some("speaking"));
        assert_eq!(get("space_id").as_str(), Some("sp-1"));
        let users =
            get("user_ids").as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_owned()).collect();
        (users, get("frame_seq").as_u64().unwrap())
    }

    fn named() -> Speaking {
        let mut speaking = Speaking::new("sp-1", 9);
        speaking.name(1, "u1");
        speaking.name(2, "g-0123456789ab");
        speaking
    }

    const TICK: Duration = Duration::from_millis(20);

    #[test]
    fn a_change_is_sent_at_once_and_a_steady_set_never() {
        let mut speaking = named();
        let t0 = Instant::now();
        assert_eq!(speaking.observe(&[], 0, t0), None, "nobody, as a client starts");
        let sent = speaking.observe(&[1], 1, t0 + TICK).expect("the first talker");
        assert_eq!(read(&sent), (vec!["u1".to_owned()], 1));
        for n in 2..200 {
            assert_eq!(speaking.observe(&[1], n, t0 + TICK * n as u32), None);
        }
        assert_eq!(speaking.messages(), 1);
    }

    #[test]
    fn changes_within_the_interval_wait_and_the_set_then_is_sent() {
        let mut speaking = named();
        let t0 = Instant::now();
        speaking.observe(&[1], 0, t0).unwrap();
        assert_eq!(speaking.observe(&[1, 2], 1, t0 + TICK), None, "within the interval");
        assert!(speaking.pending());
        assert_eq!(speaking.observe(&[2], 2, t0 + TICK * 2), None);
        assert_eq!(speaking.observe(&[2], 3, t0 + MIN_INTERVAL - TICK), None);
        let sent = speaking.observe(&[2], 14, t0 + MIN_INTERVAL).expect("due");
        assert_eq!(read(&sent), (vec!["g-0123456789ab".to_owned()], 2), "the set since frame 2");
        assert!(!speaking.pending());
    }

    #[test]
    fn a_change_undone_within_the_interval_sends_nothing() {
        let mut speaking = named();
        let t0 = Instant::now();
        speaking.observe(&[1], 0, t0).unwrap();
        assert_eq!(speaking.observe(&[], 1, t0 + TICK), None);
        assert_eq!(speaking.observe(&[1], 2, t0 + TICK * 2), None);
        assert!(!speaking.pending());
        assert_eq!(speaking.observe(&[1], 30, t0 + TICK * 30), None);
        assert_eq!(speaking.messages(), 1);
    }

    #[test]
    fn at_most_one_message_per_interval_whatever_the_talkers_do() {
        let mut speaking = named();
        let t0 = Instant::now();
        let mut sent_at = Vec::new();
        for n in 0..1_000u32 {
            let mixed: &[u64] = match n % 3 {
                0 => &[1],
                1 => &[2],
                _ => &[],
            };
            let now = t0 + TICK * n;
            if speaking.observe(mixed, u64::from(n), now).is_some() {
                sent_at.push(now);
            }
        }
        assert!(sent_at.windows(2).all(|w| w[1] - w[0] >= MIN_INTERVAL));
        assert_eq!(
            sent_at.len(),
            1_000 * 20 / 260 + 1,
            "one every 13 ticks (260 ms): the interval, to the tick"
        );
    }

    #[test]
    fn unnamed_inputs_are_never_told_and_a_newcomer_gets_the_last_set_sent() {
        let mut speaking = named();
        let t0 = Instant::now();
        assert_eq!(speaking.observe(&[7], 0, t0), None, "no name, no talker");
        assert_eq!(speaking.current(), None, "nobody: nothing to tell");
        speaking.observe(&[1, 7], 1, t0 + TICK).unwrap();
        assert_eq!(speaking.observe(&[1, 2], 2, t0 + TICK * 2), None);
        assert_eq!(
            read(&speaking.current().unwrap()),
            (vec!["u1".to_owned()], 1),
            "what the others were told"
        );
        speaking.forget(2);
        assert_eq!(speaking.observe(&[1, 2], 3, t0 + TICK * 3), None);
        assert!(!speaking.pending(), "a forgotten input is no talker");
    }

    #[test]
    fn a_speaker_on_a_new_input_is_no_change() {
        let mut speaking = named();
        let t0 = Instant::now();
        speaking.observe(&[1], 0, t0).unwrap();
        speaking.forget(1);
        speaking.name(3, "u1"); // u1 reconnected: its new stream has a fresh input
        assert_eq!(speaking.observe(&[3], 40, t0 + MIN_INTERVAL * 2), None);
        assert!(!speaking.pending());
        assert_eq!(read(&speaking.current().unwrap()), (vec!["u1".to_owned()], 0), "as it was told");
        let sent = speaking.observe(&[], 41, t0 + MIN_INTERVAL * 3).expect("nobody now");
        assert_eq!(read(&sent), (vec![], 41));
    }

    #[test]
    fn the_empty_set_of_a_quiet_space_and_the_next_talker_share_the_next_frames_seq() {
        // As the driver calls it: frames 5 and 6 hold u1, then the mixer goes quiet (u1 muted: its input
        // removed) and the empty set is observed with the next seq, 7; u1 talks again a second later, and
        // the first frame then, numbered 7 (the seq does not move while quiet), holds u1.
        let mut speaking = named();
        let t0 = Instant::now();
        assert_eq!(read(&speaking.observe(&[1], 5, t0).unwrap()), (vec!["u1".to_owned()], 5));
        assert_eq!(speaking.observe(&[1], 6, t0 + TICK), None);
        let quiet = speaking.observe(&[], 7, t0 + MIN_INTERVAL).expect("nobody, once the interval is out");
        assert_eq!(read(&quiet), (vec![], 7));
        let back = speaking.observe(&[1], 7, t0 + MIN_INTERVAL * 5).expect("u1 again");
        assert_eq!(read(&back), (vec!["u1".to_owned()], 7), "the same frame_seq, a different set");
        assert_eq!(speaking.observe(&[1], 8, t0 + MIN_INTERVAL * 5 + TICK), None);
    }

    #[test]
    fn long_ids_and_many_talkers_are_written_in_their_msgpack_forms() {
        let long_space = "s".repeat(40); // str8
        let mut speaking = Speaking::new(&long_space, 1);
        let ids: Vec<u64> = (1..=13).collect();
        for &id in &ids {
            speaking.name(id, &format!("u{}", "9".repeat(300 + id as usize))); // str16
        }
        let sent = speaking.observe(&ids, 5, Instant::now()).unwrap();
        let value = rmpv::decode::read_value(&mut &sent[..]).unwrap();
        let map = value.as_map().unwrap();
        assert_eq!(map[1].1.as_str(), Some(long_space.as_str()));
        let users = map[2].1.as_array().unwrap();
        assert_eq!(users.len(), 13);
        assert_eq!(users[12].as_str().unwrap().len(), 314);
    }
}
