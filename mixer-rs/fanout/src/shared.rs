//! `Shared`, the state the callers' threads and the writer threads share: the
//! connection registry, the groups, each writer's `Shard` (its epoll, inbox and
//! wake-up), notices and counters.
//!
//! Lock order, outermost first: `groups` map -> one group -> one connection ->
//! a stream's log, a shard's `inbox` / `lagging` / `notices`. The registry lock is only ever held alone.
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
pub struct IdHasher(u64);

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

/// A map keyed by connection or group id (the reader looks each packet's connection up in two of them).
pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub conns: IdMap<Arc<Conn>>,
    /// Set by the writer as it exits: no registration after that.
    pub stopped: bool,
}

/// Work handed to the writer: connections to write, closes to time, streams to visit.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    /// Ids of connections to write (or to finish closing).
    pub ready: Vec<u64>,
    /// (flush deadline, connection), in deadline order.
    pub closing: Vec<(Instant, Arc<Conn>)>,
    /// Groups whose stream has items for their members (`Fanout::publish`).
    pub streams: Vec<u64>,
}

impl Inbox {
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.closing.is_empty() && self.streams.is_empty()
    }
}

/// One writer thread's share of the connections (those whose id is its index
/// modulo the number of writers) and what it needs to be given work.
#[derive(Debug)]
pub(crate) struct Shard {
    pub inbox: Mutex<Inbox>,
    /// Its connections' sockets (EPOLLOUT, edge-triggered) and its wake-up eventfd.
    pub epoll: Epoll,
    pub wake: EventFd,
    /// The writer is (about to be) blocked in epoll_wait: whoever gives it
    /// work must write the eventfd. Everyone else skips that system call.
    pub sleeping: AtomicBool,
    /// The writer thread has ended (stopped or panicked): it will never write again.
    pub gone: AtomicBool,
    /// Its thread's CPU time, as it measured it after its last pass.
    pub cpu_ns: AtomicU64,
}

impl Shard {
    fn new() -> io::Result<Self> {
        let (epoll, wake) = (Epoll::new()?, EventFd::new()?);
        epoll.add(wake.as_raw_fd(), libc::EPOLLIN as u32, WAKE_TOKEN)?;
        Ok(Self {
            inbox: Mutex::default(),
            epoll,
            wake,
            sleeping: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            cpu_ns: AtomicU64::new(0),
        })
    }

    /// Wakes the writer if it sleeps (SeqCst pairs with its store-then-check).
    pub fn wake_writer(&self) {
        if self.sleeping.swap(false, Ordering::SeqCst) {
            self.wake.notify();
        }
    }

    /// Asks the writer to visit the members of `group` that its stream has items for.
    pub fn publish(&self, group: u64) {
        lock(&self.inbox).streams.push(group);
        self.wake_writer();
    }

    /// Hands `ids` to the writer (and wakes it), if there are any.
    fn schedule(&self, ids: Vec<u64>) {
        if ids.is_empty() {
            return;
        }
        {
            let mut inbox = lock(&self.inbox);
            if inbox.ready.is_empty() {
                inbox.ready = ids;
            } else {
                inbox.ready.extend(ids);
            }
        }
        self.wake_writer();
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub limits: Limits,
    pub registry: RwLock<Registry>,
    pub groups: RwLock<IdMap<Arc<Mutex<Group>>>>,
    /// One per writer thread; connection `id` is written by `shards[id % len]`.
    pub shards: Box<[Shard]>,
    /// Connections whose `lagged` went from 0 to more since the last `take_notices`.
    pub lagging: Mutex<Vec<Arc<Conn>>>,
    pub notices: Mutex<Vec<Notice>>,
    pub counters: Counters,
    pub stop: AtomicBool,
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
    pub fn new(limits: Limits, writers: usize) -> io::Result<Self> {
        Ok(Self {
            limits,
            registry: RwLock::default(),
            groups: RwLock::default(),
            shards: (0..writers).map(|_| Shard::new()).collect::<io::Result<_>>()?,
            lagging: Mutex::default(),
            notices: Mutex::default(),
            counters: Counters::default(),
            stop: AtomicBool::new(false),
            next_conn: AtomicU64::new(1),
            next_group: AtomicU64::new(1),
        })
    }

    /// The index of the writer of connection `conn`.
    pub fn shard_index(&self, conn: u64) -> usize {
        // The remainder is below `shards.len()`, a usize.
        (conn % self.shards.len() as u64) as usize
    }

    pub fn shard_of(&self, conn: u64) -> &Shard {
        &self.shards[self.shard_index(conn)]
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

    /// Does what a batch of queueing left to do, taking each shared lock once.
    pub fn apply(&self, batch: Batch) {
        let Batch { schedule, lagging, overflowed, queued, dropped, dropped_at_close } = batch;
        bump(&self.counters.messages_queued, queued);
        bump(&self.counters.audio_dropped, dropped);
        bump(&self.counters.audio_dropped_at_close, dropped_at_close);
        if !lagging.is_empty() {
            lock(&self.lagging).extend(lagging);
        }
        if self.shards.len() == 1 {
            self.shards[0].schedule(schedule);
        } else if !schedule.is_empty() {
            let mut parts = vec![Vec::new(); self.shards.len()];
            for id in schedule {
                parts[self.shard_index(id)].push(id);
            }
            for (shard, ids) in self.shards.iter().zip(parts) {
                shard.schedule(ids);
            }
        }
        if overflowed.is_empty() {
            return;
        }
        // Rare (a client that stopped reading): one inbox lock each.
        let deadline = Instant::now() + CLOSE_GRACE;
        for gone in overflowed {
            let shard = self.shard_of(gone.conn.id);
            lock(&shard.inbox).closing.push((deadline, Arc::clone(&gone.conn)));
            shard.wake_writer();
            self.notice(gone.conn.id, NoticeKind::Overflow, gone.queued as u64);
            bump(&self.counters.overflows, 1);
            self.leave_groups(gone.conn.id, &gone.groups);
        }
    }

    /// Stops sends to `conn`, drops its audio not yet begun, queues `last` (a
    /// close frame) behind the replies and events queued, and hands it to the
    /// writer to flush and close. All under the connection's lock, so nothing
    /// can be queued between `last` and the close. Whether the connection's
    /// last message is a close frame: `last`, or the one it was closed with
    /// already (after an overflow); false if it was closing without one.
    pub fn close(&self, conn: &Arc<Conn>, last: Option<Arc<[u8]>>) -> bool {
        let has_last = last.is_some();
        let (groups, schedule, dropped) = {
            let mut st = conn.lock();
            if st.closing {
                return has_last && st.ends_with_close;
            }
            let (dropped, groups) = st.end_with(last);
            (groups, st.schedule(), dropped)
        };
        bump(&self.counters.audio_dropped_at_close, dropped as u64);
        bump(&self.counters.messages_queued, u64::from(has_last));
        let shard = self.shard_of(conn.id);
        {
            let mut inbox = lock(&shard.inbox);
            if schedule {
                inbox.ready.push(conn.id);
            }
            inbox.closing.push((Instant::now() + CLOSE_GRACE, Arc::clone(conn)));
        }
        self.leave_groups(conn.id, &groups);
        shard.wake_writer();
        has_last
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_connection_is_handed_to_its_own_writer_and_only_to_it() {
        let shared = Shared::new(Limits { max_bytes: 1024, max_audio: 4 }, 3).unwrap();
        assert_eq!((1..=7).map(|id| shared.shard_index(id)).collect::<Vec<_>>(), [1, 2, 0, 1, 2, 0, 1]);
        shared.apply(Batch { schedule: (1..=7).collect(), ..Batch::default() });
        let ready: Vec<Vec<u64>> =
            shared.shards.iter().map(|shard| std::mem::take(&mut lock(&shard.inbox).ready)).collect();
        assert_eq!(ready, [vec![3, 6], vec![1, 4, 7], vec![2, 5]]);
        // One writer: everything to it.
        let one = Shared::new(Limits { max_bytes: 1024, max_audio: 4 }, 1).unwrap();
        one.apply(Batch { schedule: vec![5, 2], ..Batch::default() });
        assert_eq!(lock(&one.shards[0].inbox).ready, [5, 2]);
    }
}
