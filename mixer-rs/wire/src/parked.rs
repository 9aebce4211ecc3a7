//! The reader's parked speakers (docs/operations.md, Speakers read at their space's tick): which
//! connections it reads at which time, when a connection is parked or read again as its bytes arrive, and
//! whether parking is on now (`WireConfig::parking`, `park_max_rate`).
//!
//! Speakers whose space ticks are read together (`Parked::settle`): a wake-up of the
//! reader thread costs more than the read itself (measured against the C floor,
//! `bench/ingress_floor.c`, on the 2-core machine of README, Ingress: 11 to 42
//! µs a packet read as it arrives, 9 to 13 read at a 20 ms timer), so a
//! speaker whose packet was read well before its space's next tick is parked:
//! epoll stops telling of its bytes (only of its end), and it is read
//! `READ_AHEAD` before each tick, with every speaker parked for that time, in
//! one wake-up. A read that finds no audio (the speaker stopped, or its packet
//! is late) puts it back on epoll, and its next packet is read as it arrives.
//! A speaker's other messages wait for that read too (at most a frame). Only
//! a reader that runs as soon as it wakes parks (`WireConfig::parking`), and
//! only while speakers send at most `park_max_rate` packets a second in all.

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use driver::FRAME;
use fanout::os::Epoll;

use crate::conn::{Conn, Ctx, Phase};

/// A parked speaker is read this long before its space's tick: time for the reads of everyone parked with
/// it and for the reader's own lateness in waking (only a real-time reader parks: `WireConfig::parking`).
const READ_AHEAD: Duration = Duration::from_millis(2);
/// A speaker is parked only if its packet came at least `READ_AHEAD` and this long before its tick: its next,
/// a frame later, then comes before the read with that much to spare (for a little jitter).
const PARK_SLACK: Duration = Duration::from_micros(500);

/// What a connection waits in epoll for: its bytes, or its end (`PARKED`: its end alone).
pub(crate) const WATCHED: u32 = (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
const PARKED: u32 = libc::EPOLLRDHUP as u32;

pub(crate) struct Parked {
    /// Connections by the time they are read at; an entry whose connection is gone, or is parked for
    /// another time now, is passed over.
    due: BTreeMap<Instant, Vec<u64>>,
    /// `WireConfig::parking`, as the reader thread's scheduling decided it.
    pub(crate) enabled: bool,
    /// Audio routed at the last sweep, and whether the rate since then was at most `park_max_rate`.
    routed_at_sweep: u64,
    calm: bool,
}

impl Parked {
    pub(crate) fn new() -> Self {
        Self { due: BTreeMap::new(), enabled: false, routed_at_sweep: 0, calm: true }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.due.is_empty()
    }

    /// The earliest time a parked connection is read at.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.due.first_key_value().map(|(&at, _)| at)
    }

    /// The connections due by `now`, and the time they were parked for; call until `None`.
    pub(crate) fn take_due(&mut self, now: Instant) -> Option<(Instant, Vec<u64>)> {
        let entry = self.due.first_entry().filter(|entry| *entry.key() <= now)?;
        Some(entry.remove_entry())
    }

    /// A sweep: `routed`, the audio routed so far, over `max_rate` a second since the last turns parking off.
    pub(crate) fn sweep(&mut self, routed: u64, max_rate: u32, since_last: Duration) {
        let moved = routed - std::mem::replace(&mut self.routed_at_sweep, routed);
        self.calm = moved as f64 <= f64::from(max_rate) * since_last.as_secs_f64();
    }

    /// After a turn of `conn`: whether it waits in epoll for its next bytes, or is parked (`next_read`): a
    /// turn read on arrival may park it, its parked read (`parked_for`) keeps it parked while it takes
    /// audio and puts it back on epoll when it takes none. Any other turn of a parked connection (a
    /// command's, its end's, a full socket's) leaves it as it is.
    pub(crate) fn settle(
        &mut self,
        conn: &mut Conn,
        parked_for: Option<Instant>,
        epoll: &Epoll,
        ctx: &mut Ctx,
    ) {
        let tick = conn.tick.take();
        if conn.phase == Phase::Done || (conn.parked.is_some() && conn.parked != parked_for) {
            return;
        }
        let at = self.next_read(tick, parked_for);
        let fd = conn.fd.as_raw_fd();
        match (conn.parked.is_some(), at) {
            (false, None) => return,
            // What came since is told by epoll at once.
            (true, None) => {
                conn.parked = None;
                if epoll.modify(fd, WATCHED, conn.id).is_err() {
                    conn.ended(ctx); // never read again otherwise
                }
                return;
            }
            (false, Some(_)) => {
                if epoll.modify(fd, PARKED, conn.id).is_err() {
                    return;
                }
            }
            (true, Some(_)) => {}
        }
        conn.parked = at;
        if let Some(at) = at {
            self.due.entry(at).or_default().push(conn.id);
        }
    }

    /// When a connection whose turn took audio for the tick at `tick` (its space's next not yet taken) is
    /// read next, parked: `parked_for`, the time of this read if it was its parked read. `None`: read as its
    /// bytes arrive. A read on arrival parks it if the audio came `READ_AHEAD + PARK_SLACK` or more before
    /// the tick (so its next packet, a frame later, comes that much before the read for the tick after); a
    /// parked read keeps it parked, for the first of its space's reads still to come.
    fn next_read(&self, tick: Option<Instant>, parked_for: Option<Instant>) -> Option<Instant> {
        let tick = tick.filter(|_| self.enabled && self.calm)?;
        let now = Instant::now();
        match parked_for {
            Some(_) => {
                let mut at = tick - READ_AHEAD;
                while at <= now {
                    at += FRAME;
                }
                Some(at)
            }
            None => (tick.saturating_duration_since(now) >= READ_AHEAD + PARK_SLACK)
                .then(|| tick + FRAME - READ_AHEAD),
        }
    }
}
