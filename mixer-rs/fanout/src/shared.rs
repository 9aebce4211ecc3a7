//! `Shared`, the state the callers' threads and the writer thread share: the
//! connection registry, the groups, the writer's inbox, notices and counters.
//!
//! Lock order, outermost first: `groups` map -> one group -> one connection ->
//! `inbox` / `lagging` / `notices`. The registry lock is only ever held alone.
//! No lock is held across a system call on a client socket.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use crate::conn::{Batch, Conn, lock};
use crate::group::Group;
use crate::queue::Limits;
use crate::report::{Counters, Notice, NoticeKind, bump};
use crate::sys::{Epoll, EventFd};

/// How long a closed connection may take to flush what it had queued.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// The epoll token of the wake-up eventfd; connection ids start at 1.
pub(crate) const WAKE_TOKEN: u64 = 0;

/// Hashes an id (a counter, never chosen by a client) with one multiply.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8 | u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by connection or group id.
pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub conns: IdMap<Arc<Conn>>,
    /// Set by the writer as it exits: no registration after that.
    pub stopped: bool,
}

/// Work handed to the writer: connections to write, closes to time.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    /// Ids of connections to write (or to finish closing).
    pub ready: Vec<u64>,
    /// (flush deadline, connection), in deadline order.
    pub closing: Vec<(Instant, Arc<Conn>)>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub limits: Limits,
    pub registry: RwLock<Registry>,
    pub groups: RwLock<IdMap<Arc<Mutex<Group>>>>,
    pub inbox: Mutex<Inbox>,
    /// Connections whose `lagged` went from 0 to more since the last `take_notices`.
    pub lagging: Mutex<Vec<Arc<Conn>>>,
    pub notices: Mutex<Vec<Notice>>,
    pub counters: Counters,
    pub epoll: Epoll,
    pub wake: EventFd,
    /// The writer is (about to be) blocked in epoll_wait: whoever gives it
    /// work must write the eventfd. Everyone else skips that system call.
    pub sleeping: AtomicBool,
    pub stop: AtomicBool,
    /// The writer thread has ended (stopped or panicked): it will never write again.
    pub writer_gone: AtomicBool,
    pub next_conn: AtomicU64,
    pub next_group: AtomicU64,
}

pub(crate) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub fn new(limits: Limits) -> io::Result<Self> {
        let (epoll, wake) = (Epoll::new()?, EventFd::new()?);
        epoll.add(wake.as_raw_fd(), libc::EPOLLIN as u32, WAKE_TOKEN)?;
        Ok(Self {
            limits,
            registry: RwLock::default(),
            groups: RwLock::default(),
            inbox: Mutex::default(),
            lagging: Mutex::default(),
            notices: Mutex::default(),
            counters: Counters::default(),
            epoll,
            wake,
            sleeping: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            writer_gone: AtomicBool::new(false),
            next_conn: AtomicU64::new(1),
            next_group: AtomicU64::new(1),
        })
    }

    pub fn conn(&self, id: u64) -> Option<Arc<Conn>> {
        read(&self.registry).conns.get(&id).cloned()
    }

    pub fn group(&self, id: u64) -> Option<Arc<Mutex<Group>>> {
        read(&self.groups).get(&id).cloned()
    }

    pub fn connection_count(&self) -> usize {
        read(&self.registry).conns.len()
    }

    pub fn group_count(&self) -> usize {
        read(&self.groups).len()
    }

    /// Wakes the writer if it sleeps (SeqCst pairs with its store-then-check).
    pub fn wake_writer(&self) {
        if self.sleeping.swap(false, Ordering::SeqCst) {
            self.wake.notify();
        }
    }

    /// Does what a batch of queueing left to do, taking each shared lock once.
    pub fn apply(&self, batch: Batch) {
        let Batch { schedule, lagging, overflowed, queued, dropped } = batch;
        bump(&self.counters.messages_queued, queued);
        bump(&self.counters.audio_dropped, dropped);
        if !lagging.is_empty() {
            lock(&self.lagging).extend(lagging);
        }
        let wake = !schedule.is_empty() || !overflowed.is_empty();
        if wake {
            let mut inbox = lock(&self.inbox);
            if inbox.ready.is_empty() {
                inbox.ready = schedule;
            } else {
                inbox.ready.extend(schedule);
            }
            let deadline = Instant::now() + CLOSE_GRACE;
            inbox.closing.extend(overflowed.iter().map(|o| (deadline, Arc::clone(&o.conn))));
        }
        for gone in overflowed {
            self.notice(gone.conn.id, NoticeKind::Overflow, gone.queued as u64);
            bump(&self.counters.overflows, 1);
            self.leave_groups(gone.conn.id, &gone.groups);
        }
        if wake {
            self.wake_writer();
        }
    }

    /// Stops sends to `conn`, drops its audio not yet begun, queues `last` (a
    /// close frame) behind what is being written, and hands it to the writer to
    /// flush and close. All under the connection's lock, so nothing can be
    /// queued between `last` and the close. False if `last` could not be queued
    /// (no room for it: the connection closes all the same) or `conn` was
    /// already closing.
    pub fn close(&self, conn: &Arc<Conn>, last: Option<Arc<[u8]>>) -> bool {
        let has_last = last.is_some();
        let (groups, schedule, dropped, queued) = {
            let mut st = conn.lock();
            if st.closing {
                return false;
            }
            let dropped = st.queue.drop_audio();
            let queued = last.is_none_or(|bytes| st.queue.offer_control(bytes, self.limits).is_ok());
            let groups = st.begin_close().unwrap_or_default();
            (groups, st.schedule(), dropped, queued)
        };
        bump(&self.counters.audio_dropped_at_close, dropped as u64);
        bump(&self.counters.messages_queued, u64::from(has_last && queued));
        {
            let mut inbox = lock(&self.inbox);
            if schedule {
                inbox.ready.push(conn.id);
            }
            inbox.closing.push((Instant::now() + CLOSE_GRACE, Arc::clone(conn)));
        }
        self.leave_groups(conn.id, &groups);
        self.wake_writer();
        queued
    }

    pub fn leave_groups(&self, conn: u64, groups: &[u64]) {
        for &id in groups {
            if let Some(group) = self.group(id) {
                lock(&group).remove(conn);
            }
        }
    }

    pub fn notice(&self, conn: u64, kind: NoticeKind, value: u64) {
        lock(&self.notices).push(Notice { conn, kind, value });
    }

    /// The notices since the last call: "lagging" ones first (one per
    /// connection, with its count), then the others in the order they happened.
    pub fn take_notices(&self) -> Vec<Notice> {
        let lagging = std::mem::take(&mut *lock(&self.lagging));
        let mut out: Vec<Notice> = lagging
            .iter()
            .filter_map(|conn| {
                let value = std::mem::take(&mut conn.lock().lagged);
                (value > 0).then_some(Notice { conn: conn.id, kind: NoticeKind::Lagging, value })
            })
            .collect();
        out.append(&mut lock(&self.notices));
        out
    }
}
