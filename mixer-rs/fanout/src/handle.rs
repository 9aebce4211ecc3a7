//! `Fanout`, the owner's handle: register sockets, queue messages to one
//! connection or a group, close, read notices and stats. Every method only
//! touches queues under short locks; the writer threads do the writing.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use crate::conn::{Batch, Conn, lock};
use crate::frame::frame_binary;
use crate::queue::{Kind, Limits};
use crate::report::{FanoutStats, Notice, WritersLoad};
use crate::shared::{Shared, write};
use crate::stream::{Follow, Stream};
use crate::sys::Sock;
use crate::{FanoutConfig, FanoutError, MAX_WRITERS, writer};

/// The fan-out: its writer threads and the queues of every registered socket.
///
/// Thread-safe: every method may be called from any thread. Ids of
/// connections and groups start at 1 and are never reused.
#[derive(Debug)]
pub struct Fanout {
    shared: Arc<Shared>,
    /// Empty once shut down.
    writers: Mutex<Vec<JoinHandle<()>>>,
}

impl Fanout {
    /// Starts `config.writers` writer threads, each named "stoa-fanout".
    pub fn new(config: FanoutConfig) -> Result<Self, FanoutError> {
        if config.max_queue_bytes == 0 {
            return Err(FanoutError::BadConfig { name: "max_queue_bytes" });
        }
        if config.max_audio_messages == 0 {
            return Err(FanoutError::BadConfig { name: "max_audio_messages" });
        }
        if !(1..=MAX_WRITERS).contains(&config.writers) {
            return Err(FanoutError::BadConfig { name: "writers" });
        }
        let limits = Limits { max_bytes: config.max_queue_bytes, max_audio: config.max_audio_messages };
        let shared = Arc::new(Shared::new(limits, config.writers)?);
        let fanout = Self { shared, writers: Mutex::default() };
        for index in 0..config.writers {
            let for_writer = Arc::clone(&fanout.shared);
            let spawned = thread::Builder::new()
                .name("stoa-fanout".into())
                .spawn(move || writer::run(for_writer, index));
            match spawned {
                Ok(writer) => lock(&fanout.writers).push(writer),
                // Dropping `fanout` stops the writers already started.
                Err(err) => return Err(err.into()),
            }
        }
        Ok(fanout)
    }

    /// Takes a duplicate of the stream socket `fd` (the caller keeps and
    /// eventually closes its own), makes the socket non-blocking, and returns
    /// the new connection's id.
    pub fn register(&self, fd: RawFd) -> Result<u64, FanoutError> {
        self.add(crate::sys::dup_stream_socket(fd)?)
    }

    /// Uses the caller's own descriptor `fd`, with no duplicate (one file
    /// descriptor per client instead of two: 10,000 listeners fit under a
    /// 20,000 open-file limit). The fan-out never closes it; the caller must
    /// keep it open until, after `close(conn)`, `released(conn)` is true —
    /// closing it earlier could let the writer send into a reused descriptor.
    pub fn register_borrowed(&self, fd: RawFd) -> Result<u64, FanoutError> {
        self.add(crate::sys::borrow_stream_socket(fd)?)
    }

    /// Milliseconds since the writer last got bytes into `conn`'s socket (or
    /// since it was registered); `None` if unknown. A keepalive need not ping
    /// a connection that is being written to: a dead peer shows up as a write
    /// error (with TCP_USER_TIMEOUT set on the socket) or as lagging.
    pub fn idle_ms(&self, conn: u64) -> Option<u64> {
        let conn = self.shared.conn(conn)?;
        let wrote_at = conn.lock().wrote_at;
        Some(u64::try_from(wrote_at.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// True once `conn`'s writer is done with it for good (or never knew it):
    /// a borrowed descriptor may then be closed by its owner. Also true once
    /// that writer thread has ended (stopped, or died of a panic, which stops
    /// the others too): no other thread writes to that socket, so nothing can
    /// touch the descriptor.
    pub fn released(&self, conn: u64) -> bool {
        self.shared.shard_of(conn).gone.load(Ordering::SeqCst) || self.shared.conn(conn).is_none()
    }

    fn add(&self, fd: Sock) -> Result<u64, FanoutError> {
        let raw = fd.as_raw_fd();
        let id = self.shared.next_conn.fetch_add(1, Ordering::Relaxed);
        let shard = self.shared.shard_of(id);
        let mut registry = write(&self.shared.registry);
        if registry.stopped || shard.gone.load(Ordering::SeqCst) {
            return Err(FanoutError::Stopped);
        }
        // Registered before epoll_ctl: its first EPOLLOUT edge must find it.
        let conn = Arc::new(Conn::new(id, fd));
        registry.conns.insert(id, Arc::clone(&conn));
        if let Err(err) = shard.epoll.add(raw, libc::EPOLLOUT as u32, id) {
            registry.conns.remove(&id);
            drop(conn.lock().fd.take()); // closes a duplicate; a borrowed descriptor stays open
            return Err(err.into());
        }
        Ok(id)
    }

    fn queue(&self, conn: &Arc<Conn>, bytes: &Arc<[u8]>, kind: Kind) -> bool {
        let mut batch = Batch::default();
        let accepted = batch.offer(conn, bytes, kind, self.shared.limits);
        self.shared.apply(batch);
        accepted
    }

    /// Queues already-framed bytes as control. False if `conn` is unknown,
    /// closing, or has just overflowed (it is then closing).
    pub fn send_raw(&self, conn: u64, data: &[u8]) -> bool {
        let Some(conn) = self.shared.conn(conn) else { return false };
        if data.is_empty() {
            return !conn.lock().closing;
        }
        self.queue(&conn, &Arc::from(data), Kind::Control)
    }

    /// Queues `payload` framed as one binary WebSocket message, as control.
    pub fn send(&self, conn: u64, payload: &[u8]) -> bool {
        let Some(conn) = self.shared.conn(conn) else { return false };
        self.queue(&conn, &frame_binary(payload), Kind::Control)
    }

    /// Queues `payload` framed as one binary WebSocket message, as audio
    /// (dropped oldest-first if the client lags). Ignored if `conn` is unknown or closing.
    pub fn send_audio(&self, conn: u64, payload: &[u8]) {
        if let Some(conn) = self.shared.conn(conn) {
            self.queue(&conn, &frame_binary(payload), Kind::Audio);
        }
    }

    pub fn new_group(&self) -> u64 {
        let id = self.shared.next_group.fetch_add(1, Ordering::Relaxed);
        write(&self.shared.groups).insert(id, Arc::default());
        id
    }

    /// Adds `conn` to `group`. A no-op if it is a member already, unknown or
    /// closing (closes race with joins); an unknown group is an error.
    pub fn join_group(&self, group: u64, conn: u64) -> Result<(), FanoutError> {
        let members = self.shared.group(group).ok_or(FanoutError::UnknownGroup(group))?;
        let Some(conn) = self.shared.conn(conn) else { return Ok(()) };
        let mut members = lock(&members);
        if !members.admits(conn.id) {
            return Ok(());
        }
        let mut batch = Batch::default();
        {
            let mut st = conn.lock();
            if st.closing {
                return Ok(());
            }
            st.groups.push(group);
            if let Some(stream) = &members.stream {
                // One stream at a time: what the previous one had for it goes first, at once.
                batch.catch_up(&conn, &mut st, self.shared.limits);
                st.follow = Some(Follow::new(group, Arc::clone(stream)));
                if st.schedule() {
                    batch.schedule.push(conn.id);
                }
            }
        }
        members.insert(conn);
        drop(members);
        self.shared.apply(batch);
        Ok(())
    }

    /// Removes `conn` from `group`; a no-op if either is unknown or it is not a member.
    /// What the group's stream appended before it left is still sent to it.
    pub fn leave_group(&self, group: u64, conn: u64) {
        let Some(members) = self.shared.group(group) else { return };
        let mut members = lock(&members);
        let mut batch = Batch::default();
        if let Some(conn) = members.remove(conn) {
            self.part(&conn, group, &mut batch);
        }
        drop(members);
        self.shared.apply(batch);
    }

    /// `conn` is no longer in `group`: it catches up with the group's stream, if
    /// it follows it, and stops following.
    fn part(&self, conn: &Arc<Conn>, group: u64, batch: &mut Batch) {
        let mut st = conn.lock();
        st.groups.retain(|&g| g != group);
        if st.follow.as_ref().is_some_and(|follow| follow.group == group) {
            batch.catch_up(conn, &mut st, self.shared.limits);
            st.follow = None;
            if st.schedule() {
                batch.schedule.push(conn.id);
            }
        }
    }

    /// Forgets `group` (its members stay registered, and are sent what its
    /// stream appended for them); a no-op if unknown.
    pub fn drop_group(&self, group: u64) {
        let Some(members) = write(&self.shared.groups).remove(&group) else { return };
        let mut members = lock(&members);
        let mut batch = Batch::default();
        for conn in members.drop_members() {
            self.part(&conn, group, &mut batch);
        }
        drop(members);
        self.shared.apply(batch);
    }

    /// Gives `group` a stream (`stream.rs`): items appended to it reach every
    /// member, `prefix` then a msgpack array of up to `max_items` items (1 to
    /// 15) a message, each member from the next item after it joined. The
    /// group's stream if it has one already; `None` if the group is unknown.
    pub fn open_stream(&self, group: u64, prefix: &[u8], max_items: usize) -> Option<Arc<Stream>> {
        let members = self.shared.group(group)?;
        let mut members = lock(&members);
        let stream = members.stream.get_or_insert_with(|| Arc::new(Stream::new(prefix, max_items)));
        let stream = Arc::clone(stream);
        for conn in members.members() {
            let mut st = conn.lock();
            if st.follow.is_none() && !st.closing {
                st.follow = Some(Follow::new(group, Arc::clone(&stream)));
            }
        }
        Some(stream)
    }

    /// Asks the writers to send `group`'s members what its stream appended
    /// since their last visit; returns the members (`UnknownGroup` if dropped).
    pub fn publish(&self, group: u64) -> Result<usize, FanoutError> {
        let members = self.shared.group(group).ok_or(FanoutError::UnknownGroup(group))?;
        let count = {
            let members = lock(&members);
            if let Some(stream) = &members.stream {
                stream.published();
            }
            members.members().len()
        };
        for shard in self.shared.shards.iter() {
            shard.publish(group);
        }
        Ok(count)
    }

    /// Frames `payload` once and queues the same bytes to every member of
    /// `group`. Returns the members reached and the ones that overflowed.
    fn broadcast_as(&self, group: u64, payload: &[u8], kind: Kind) -> Result<(usize, Vec<u64>), FanoutError> {
        let group = self.shared.group(group).ok_or(FanoutError::UnknownGroup(group))?;
        let bytes = frame_binary(payload);
        let mut batch = Batch::default();
        let mut reached = 0;
        // About 50 ns a member (a lock, two atomics, a cache miss or two): 0.5 ms for 10,000.
        for conn in lock(&group).members() {
            reached += usize::from(batch.offer(conn, &bytes, kind, self.shared.limits));
        }
        let overflowed = batch.overflowed.iter().map(|gone| gone.conn.id).collect();
        self.shared.apply(batch);
        Ok((reached, overflowed))
    }

    /// Audio to every member; returns how many members it was offered to (a
    /// lagging member counts: it dropped its oldest audio, or this message).
    pub fn broadcast_audio(&self, group: u64, payload: &[u8]) -> Result<usize, FanoutError> {
        self.broadcast_as(group, payload, Kind::Audio).map(|(reached, _)| reached)
    }

    /// Control to every member; returns the members that overflowed (each now closing).
    pub fn broadcast(&self, group: u64, payload: &[u8]) -> Result<Vec<u64>, FanoutError> {
        self.broadcast_as(group, payload, Kind::Control).map(|(_, overflowed)| overflowed)
    }

    /// No more sends to `conn`; it leaves every group now. Its queued audio not
    /// yet begun is dropped (`audio_dropped_at_close`); the writer flushes the
    /// rest (for at most `CLOSE_GRACE`), then shuts the socket down for writing
    /// and closes its duplicate. Idempotent; a no-op if unknown.
    pub fn close(&self, conn: u64) {
        if let Some(conn) = self.shared.conn(conn) {
            self.shared.close(&conn, None);
        }
    }

    /// `close`, with `last` (already framed: a WebSocket close frame, at most
    /// 127 bytes) queued as the last message, after the queued audio is
    /// dropped and in the same critical section, so that nothing broadcast
    /// meanwhile can follow it; a full queue takes it all the same. True if
    /// the connection's last message is now a close frame: `last`, or, if it
    /// overflowed already, its own 4000 (`last` is then not queued). False if
    /// `conn` is unknown, or closing without a close frame.
    pub fn close_with(&self, conn: u64, last: &[u8]) -> bool {
        self.shared.conn(conn).is_some_and(|conn| self.shared.close(&conn, Some(Arc::from(last))))
    }

    /// Notices since the last call: "lagging" ones first, then overflows and
    /// errors in the order they happened.
    pub fn take_notices(&self) -> Vec<Notice> {
        self.shared.take_notices()
    }

    /// Bytes queued on `conn` and not yet written; 0 once the writer closed it.
    pub fn queued_bytes(&self, conn: u64) -> usize {
        self.shared.conn(conn).map_or(0, |conn| conn.lock().queue.bytes())
    }

    /// How the writers keep up, so far (a few atomic loads, for callers that ask often: `stats`
    /// takes locks); two readings tell a window's.
    pub fn writers_load(&self) -> WritersLoad {
        let read = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        let counters = &self.shared.counters;
        WritersLoad {
            writers: self.shared.shards.len(),
            busy_ns: read(&counters.writer_busy_ns),
            visits: read(&counters.stream_visits),
            late_visits: read(&counters.late_visits),
        }
    }

    pub fn stats(&self) -> FanoutStats {
        let (conns, groups) = (self.shared.connection_count(), self.shared.group_count());
        let cpu: Vec<_> = self.shared.shards.iter().map(|shard| &shard.cpu_ns).collect();
        self.shared.counters.snapshot(conns as u64, groups as u64, &cpu)
    }

    /// Stops the writers after one last non-blocking write per connection;
    /// closes every duplicate descriptor (with a FIN for the closed ones).
    /// Later sends return false and `register` fails. Idempotent.
    pub fn shutdown(&self) {
        let writers = std::mem::take(&mut *lock(&self.writers));
        if writers.is_empty() {
            return;
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        for shard in &self.shared.shards {
            shard.wake.notify();
        }
        for writer in writers {
            // A panic in a writer is a bug; it has already been reported by the panic hook.
            let _ = writer.join();
        }
        write(&self.shared.registry).stopped = true;
    }
}

impl Drop for Fanout {
    fn drop(&mut self) {
        self.shutdown();
    }
}
