//! What a pool of speakers says, and when: each speaker's script of Opus packets on the run's
//! capture clock, and the pacer that tells the pool thread which slots are due.
//!
//! A packet holds the 20 ms of audio captured from `t0 + 20 ms · k`, so like a microphone it can
//! be sent only once those 20 ms are over: slot `k` is due at `t0 + 20 ms · (k + 1)`. The pool
//! thread sends every due slot at once, then sleeps until the next is due; if it wakes late it
//! sends the slots it missed in one burst and records how late each was (`send_lag`), so a
//! harness that cannot keep the pace says so instead of passing its delay off as the server's.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use crate::clock::SLOT_US;

/// One speaker's audio: its packets, and for each slot of a loop which packet it sends (or none:
/// the speaker is quiet, and sends nothing, as a client with voice activity detection does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub packets: Vec<Vec<u8>>,
    /// Slot `k` sends `packets[plan[k % plan.len()]]`; a negative entry sends nothing.
    pub plan: Vec<i32>,
    /// Each packet's audio level (RFC 6464), sent with it as a client that measures its microphone
    /// does; empty: no levels sent (the server then decodes every packet to measure it).
    pub levels: Vec<u8>,
}

impl Script {
    /// The packet for `slot`, and its level if the script has levels, if the speaker talks then.
    pub fn packet(&self, slot: u64) -> Option<(&[u8], Option<u8>)> {
        if self.plan.is_empty() {
            return None;
        }
        let entry = self.plan[(slot % self.plan.len() as u64) as usize];
        let i = usize::try_from(entry).ok()?;
        Some((self.packets.get(i)?.as_slice(), self.levels.get(i).copied()))
    }

    /// Every index of `plan` names a packet (or none), and levels are given for every packet or none.
    pub fn check(&self) -> Result<(), String> {
        if !self.levels.is_empty() && self.levels.len() != self.packets.len() {
            return Err(format!("{} levels for {} packets", self.levels.len(), self.packets.len()));
        }
        if let Some(level) = self.levels.iter().find(|&&l| l > 127) {
            return Err(format!("a level of {level}: 0..=127"));
        }
        match self.plan.iter().find(|&&i| i >= 0 && i as usize >= self.packets.len()) {
            Some(bad) => Err(format!("a plan names packet {bad} of {}", self.packets.len())),
            None => Ok(()),
        }
    }
}

/// A speaker of a pool: who it is (an account's session token) and where and what it speaks.
#[derive(Debug, Clone)]
pub struct Speaker {
    pub token: String,
    pub space_id: String,
    pub script: Arc<Script>,
}

/// The pool's capture clock as the speakers run it: started and stopped from any thread.
#[derive(Default)]
pub(crate) struct Pace {
    /// µs of unix time of slot 0; 0 until `start`.
    t0_us: AtomicU64,
    stopped: AtomicBool,
}

impl Pace {
    pub fn start(&self, t0_us: u64) {
        self.t0_us.store(t0_us, Relaxed);
    }

    pub fn stop(&self) {
        self.stopped.store(true, Relaxed);
    }

    /// `t0` once started and while not stopped.
    pub fn running(&self) -> Option<u64> {
        let t0 = self.t0_us.load(Relaxed);
        (t0 != 0 && !self.stopped.load(Relaxed)).then_some(t0)
    }
}

/// The slots due at `now_us` that the pool has not sent yet (`next` onwards), and when the next
/// one after them falls due.
pub(crate) fn due(t0_us: u64, next: u64, now_us: u64) -> (std::ops::Range<u64>, u64) {
    // Slot k is due once (k + 1) slots have passed since t0.
    let passed = now_us.saturating_sub(t0_us) / SLOT_US;
    let end = passed.max(next);
    (next..end, due_at(t0_us, end))
}

/// When slot `k` may be sent, µs of unix time.
pub(crate) fn due_at(t0_us: u64, slot: u64) -> u64 {
    t0_us + SLOT_US * (slot + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_due_once_its_twenty_milliseconds_are_over() {
        let t0 = 1_000_000;
        assert_eq!(due(t0, 0, t0), (0..0, t0 + SLOT_US), "nothing before the first 20 ms end");
        assert_eq!(due(t0, 0, t0 + SLOT_US), (0..1, t0 + 2 * SLOT_US));
        assert_eq!(due(t0, 1, t0 + SLOT_US + 5), (1..1, t0 + 2 * SLOT_US), "slot 0 already sent");
        assert_eq!(due(t0, 1, t0 + 5 * SLOT_US + 7), (1..5, t0 + 6 * SLOT_US), "a late wake sends a burst");
        assert_eq!(due(t0, 0, t0 - 1), (0..0, t0 + SLOT_US), "a clock that starts later");
    }

    #[test]
    fn a_script_loops_and_is_quiet_where_its_plan_says() {
        let script = Script { packets: vec![vec![1], vec![2]], plan: vec![0, -1, 1], levels: vec![] };
        let sent: Vec<_> = (0..7).map(|k| script.packet(k).map(|(p, _)| p[0])).collect();
        assert_eq!(sent, [Some(1), None, Some(2), Some(1), None, Some(2), Some(1)]);
        assert!(script.check().is_ok());
        assert_eq!(script.packet(2), Some((&[2u8][..], None)), "no levels");
        let leveled = Script { levels: vec![30, 127], ..script.clone() };
        assert_eq!(leveled.packet(2), Some((&[2u8][..], Some(127))));
        assert!(leveled.check().is_ok());
        assert!(Script { levels: vec![30], ..script.clone() }.check().is_err(), "a level missing");
        assert!(Script { levels: vec![30, 128], ..script }.check().is_err(), "out of range");
        assert!(Script { packets: vec![vec![1]], plan: vec![1], levels: vec![] }.check().is_err());
        assert_eq!(Script { packets: vec![], plan: vec![], levels: vec![] }.packet(3), None);
    }
}
