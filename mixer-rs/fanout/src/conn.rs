//! `Conn`, one client socket as the fan-out sees it (its duplicate descriptor,
//! its queue, whether the writer holds it), and `Batch`, what queueing one
//! message to one or many connections leaves to do once their locks are released.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::frame::{TOO_SLOW, TOO_SLOW_REASON, close_frame};
use crate::queue::{Kind, Limits, OutQueue};
use crate::stream::{Follow, messages};
use crate::sys::Sock;

/// Locks, ignoring poison: every critical section leaves its data consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
pub(crate) struct Conn {
    pub id: u64,
    pub state: Mutex<ConnState>,
}

#[derive(Debug)]
pub(crate) struct ConnState {
    pub queue: OutQueue,
    /// The socket (the fan-out's duplicate, or the caller's borrowed
    /// descriptor); `None` once the writer retired it. Only the writer thread
    /// takes it out, so it may use the raw descriptor unlocked.
    pub fd: Option<Sock>,
    /// False from an EAGAIN until the next EPOLLOUT edge.
    pub writable: bool,
    /// On the ready list or in the writer's hands: never listed twice.
    pub scheduled: bool,
    /// No more sends accepted; the writer flushes, then closes.
    pub closing: bool,
    /// A close frame is its last message (queued, or written): `close_with`'s, or its own after an overflow.
    pub ends_with_close: bool,
    /// The groups it belongs to, so a close can leave them all.
    pub groups: Vec<u64>,
    /// Its place in the stream of the one group with a stream it belongs to (`stream.rs`).
    pub follow: Option<Follow>,
    /// Audio messages dropped since the last "lagging" notice.
    pub lagged: u64,
    /// When the writer last got bytes into the socket (or the connection was registered).
    pub wrote_at: Instant,
}

impl Conn {
    pub fn new(id: u64, fd: Sock) -> Self {
        let state = ConnState {
            queue: OutQueue::default(),
            fd: Some(fd),
            writable: true,
            scheduled: false,
            closing: false,
            ends_with_close: false,
            groups: Vec::new(),
            follow: None,
            lagged: 0,
            wrote_at: Instant::now(),
        };
        Self { id, state: Mutex::new(state) }
    }

    pub fn lock(&self) -> MutexGuard<'_, ConnState> {
        lock(&self.state)
    }
}

impl ConnState {
    /// Whether the writer should now look at this connection; if so, it is
    /// marked scheduled and the caller must hand it to the writer.
    pub fn schedule(&mut self) -> bool {
        let has_bytes = !self.queue.is_empty() || self.follow.as_ref().is_some_and(Follow::behind);
        let wanted = if has_bytes { self.writable } else { self.closing };
        let now = wanted && !self.scheduled && self.fd.is_some();
        self.scheduled |= now;
        now
    }

    /// Ends a connection not yet closing: its audio not yet begun dropped (and
    /// its stream's frames it has not had), then `last` (a close frame) queued
    /// as its last message, whatever the bounds. Returns the audio messages
    /// dropped and the groups to leave.
    pub fn end_with(&mut self, last: Option<Arc<[u8]>>) -> (usize, Vec<u64>) {
        let unsent = self.follow.as_ref().map_or(0, Follow::unsent_messages);
        let dropped = self.queue.drop_audio() + unsent;
        if let Some(bytes) = last {
            self.queue.push_last(bytes);
            self.ends_with_close = true;
        }
        (dropped, self.begin_close().unwrap_or_default())
    }

    /// Stops accepting sends; returns the groups to leave, or `None` if it was already closing.
    pub fn begin_close(&mut self) -> Option<Vec<u64>> {
        if self.closing {
            return None;
        }
        self.closing = true;
        self.follow = None;
        Some(std::mem::take(&mut self.groups))
    }
}

/// A connection that overflowed while queueing: it is closing (its close
/// frame queued), and still has to leave `groups` and be noticed with the
/// `queued` bytes it held.
#[derive(Debug)]
pub(crate) struct Overflowed {
    pub conn: Arc<Conn>,
    pub groups: Vec<u64>,
    pub queued: usize,
}

/// What queueing to many connections leaves to do after their locks: the
/// writer's new work, the notices, the counters. Applied once per call by
/// `Shared::apply`, so a broadcast takes the shared locks once, not per member.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Ids, not `Arc`s: one atomic less per member on the broadcaster's
    /// side; the writer finds them in the registry, once per pass.
    pub schedule: Vec<u64>,
    pub lagging: Vec<Arc<Conn>>,
    pub overflowed: Vec<Overflowed>,
    pub queued: u64,
    pub dropped: u64,
    /// Audio not yet begun when its connection closed.
    pub dropped_at_close: u64,
}

impl Batch {
    /// Queues `bytes` on `conn`; false if the connection is closing or just overflowed.
    pub fn offer(&mut self, conn: &Arc<Conn>, bytes: &Arc<[u8]>, kind: Kind, limits: Limits) -> bool {
        let mut st = conn.lock();
        if st.closing {
            return false;
        }
        // What the stream appended before this message goes before it.
        self.catch_up(conn, &mut st, limits);
        let accepted = match kind {
            Kind::Audio => {
                let offer = st.queue.offer_audio(Arc::clone(bytes), limits);
                self.queued += u64::from(offer.queued);
                self.note_drops(conn, &mut st, offer.dropped);
                true
            }
            Kind::Control => match st.queue.offer_control(Arc::clone(bytes), limits) {
                Ok(dropped) => {
                    self.queued += 1;
                    self.note_drops(conn, &mut st, dropped);
                    true
                }
                Err(()) => {
                    // Closed as by `Fanout::close_with`: its audio not yet begun dropped, a 4000 close frame
                    // after the replies and events queued. The client that catches up within the close grace
                    // reads them, then why it is cut off; one that never does sees the connection end.
                    let queued = st.queue.bytes();
                    let (dropped, groups) =
                        st.end_with(Some(Arc::from(close_frame(TOO_SLOW, TOO_SLOW_REASON))));
                    self.dropped_at_close += dropped as u64;
                    self.queued += 1;
                    self.overflowed.push(Overflowed { conn: Arc::clone(conn), groups, queued });
                    false
                }
            },
        };
        if st.schedule() {
            self.schedule.push(conn.id);
        }
        accepted
    }

    /// Queues on `conn` the items of its stream it has not had yet, if it follows one.
    pub fn catch_up(&mut self, conn: &Arc<Conn>, st: &mut ConnState, limits: Limits) {
        let Some(follow) = st.follow.as_mut().filter(|follow| follow.behind()) else { return };
        let (mut out, mut ends) = (Vec::new(), Vec::new());
        let lost = follow.catch_up(&mut out, &mut ends);
        self.queue_audio(conn, st, messages(&out, &ends), lost, limits);
    }

    /// Queues `messages` on `conn` as audio; the messages of its stream `lost`
    /// (items no longer kept) count as dropped, as those a full queue drops do.
    pub fn queue_audio<'a>(
        &mut self,
        conn: &Arc<Conn>,
        st: &mut ConnState,
        messages: impl Iterator<Item = &'a [u8]>,
        lost: usize,
        limits: Limits,
    ) {
        let mut dropped = lost;
        for bytes in messages {
            let offer = st.queue.offer_audio(Arc::from(bytes), limits);
            self.queued += u64::from(offer.queued);
            dropped += offer.dropped;
        }
        self.note_drops(conn, st, dropped);
    }

    fn note_drops(&mut self, conn: &Arc<Conn>, st: &mut ConnState, dropped: usize) {
        if dropped == 0 {
            return;
        }
        if st.lagged == 0 {
            self.lagging.push(Arc::clone(conn));
        }
        st.lagged += dropped as u64;
        self.dropped += dropped as u64;
    }
}
