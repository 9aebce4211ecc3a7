//! A writer thread ("stoa-fanout"): every byte the fan-out sends to the
//! connections of its shard leaves through it, one non-blocking `sendmsg` per
//! ready connection per pass. A fan-out has one writer or more; each owns a
//! fixed share of the connections and never touches another's.

use std::collections::VecDeque;
use std::io;
use std::mem;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::conn::{Batch, Conn, ConnState, lock};
use crate::report::Tally;
use crate::shared::{Shard, Shared, WAKE_TOKEN, read};
use crate::stream::messages;
use crate::sys;

mod closing;

/// Segments handed to one `sendmsg`: a lagging client's whole backlog of
/// small audio messages goes in one call, yet one connection's turn stays short.
const MAX_IOV: usize = 64;

/// What a connection's turn leaves to do, once its lock is released.
enum After {
    Done,
    /// It still has bytes: the next pass starts with it.
    Again,
    Retire(Retire),
}

/// How a connection's duplicate descriptor ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retire {
    /// Flushed (or out of time): FIN after what the socket holds, then close.
    Shutdown,
    /// A write failed with this errno: close, notice "error".
    Failed(i32),
    /// The fan-out stops: close without touching the socket's state.
    Abandon,
}

/// Runs the writer of `shared.shards[index]` until the fan-out stops.
pub(crate) fn run(shared: Arc<Shared>, index: usize) {
    // Set on every way out, unwinding from a panic included: `released` then
    // tells the owners of borrowed descriptors that they may close them.
    let _gone = WriterGone(Arc::clone(&shared), index);
    Writer {
        shared,
        index,
        pass: Vec::new(),
        next: Vec::new(),
        ready: Vec::new(),
        streams: Vec::new(),
        draining: VecDeque::new(),
        events: Vec::new(),
        iov: Vec::with_capacity(MAX_IOV),
        out: Vec::new(),
        ends: Vec::new(),
        tally: Tally::default(),
    }
    .run();
}

struct WriterGone(Arc<Shared>, usize);

impl Drop for WriterGone {
    fn drop(&mut self) {
        let Self(shared, index) = self;
        shared.shards[*index].gone.store(true, Ordering::SeqCst);
        // A writer that ends on its own (a panic: a bug, reported by the panic hook) stops the others, as
        // the one writer's end stopped the whole fan-out: no share of the clients is left silently unwritten
        // while the rest go on. Each then ends as on `shutdown`, releasing its own connections.
        if !shared.stop.swap(true, Ordering::SeqCst) {
            for shard in &shared.shards {
                shard.wake.notify();
            }
        }
    }
}

struct Writer {
    shared: Arc<Shared>,
    /// Its shard: the connections whose id is `index` modulo the number of writers.
    index: usize,
    /// This pass's connections, each scheduled exactly once.
    pass: Vec<Arc<Conn>>,
    /// Connections that still have bytes after their turn: the next pass starts with them.
    next: Vec<Arc<Conn>>,
    /// Ids the callers scheduled, taken from the inbox (its buffer, reused).
    ready: Vec<u64>,
    /// Groups whose stream has new items, taken from the inbox (its buffer, reused).
    streams: Vec<u64>,
    /// Closed connections with their flush deadline, earliest first.
    draining: VecDeque<(Instant, Arc<Conn>)>,
    /// Tokens epoll reported ready.
    events: Vec<u64>,
    /// The current `sendmsg`'s buffers, pointing into pinned queue segments or `out`.
    iov: Vec<libc::iovec>,
    /// A connection's stream messages, written here for it, and where each ends (buffers reused).
    out: Vec<u8>,
    ends: Vec<usize>,
    /// What it did since it last published its counters.
    tally: Tally,
}

impl Writer {
    fn shard(&self) -> &Shard {
        &self.shared.shards[self.index]
    }

    /// The writer's loop. Constraints: one thread writes for every
    /// connection of its shard, so no connection may make it wait (all writes are
    /// non-blocking), and the callers' threads (the event loop broadcasting to
    /// 10,000 listeners) must never wait for it (they only touch queues under
    /// short per-connection locks and never make a system call unless the writer sleeps).
    ///
    /// A pass: (1) collect work: epoll edges (EPOLLOUT: a connection that hit
    /// EAGAIN may write again), connections the callers scheduled (their queue
    /// went non-empty while writable, or they closed), the members of groups
    /// whose stream was published (`stream.rs`), and new close deadlines;
    /// (2) give each connection of the pass one `sendmsg`: of up to 64 queued
    /// segments, or of the messages of its stream's frames it has not had,
    /// framed in the writer's own buffer; one that still has bytes goes to the
    /// next pass (so a big backlog is written round-robin, never starving
    /// others), one that hit EAGAIN leaves every list until its EPOLLOUT edge;
    /// (3) close the connections whose flush deadline passed; (4) publish the counters.
    ///
    /// Idle costs nothing: with no work the writer blocks in epoll_wait with
    /// `sleeping` set, the one moment when callers pay an eventfd write to wake
    /// it. The fast path under load is a pass with no sleeping: epoll_wait
    /// with a zero timeout, then straight sends, each queued message's bytes
    /// shared (an `Arc`) by every connection it was broadcast to, and a
    /// stream's frames encoded once, copied into one buffer per visit.
    fn run(mut self) {
        loop {
            self.collect_work();
            if self.shared.stop.load(Ordering::Acquire) {
                break;
            }
            let mut pass = mem::take(&mut self.pass);
            if !pass.is_empty() {
                let started = Instant::now();
                for conn in pass.drain(..) {
                    self.write_once(&conn);
                }
                self.tally.busy_ns += started.elapsed().as_nanos() as u64;
                self.tally.passes += 1;
            }
            self.pass = mem::replace(&mut self.next, pass);
            self.expire_closes();
            self.publish_counters();
        }
        self.stop_all();
        self.publish_counters();
    }

    /// Waits for work if there is none, then takes all there is.
    fn collect_work(&mut self) {
        let mut timeout = if self.pass.is_empty() { self.close_timeout_ms() } else { 0 };
        if timeout != 0 {
            self.publish_counters();
            // Store, then check: a caller that queued after the check sees
            // `sleeping` and writes the eventfd (see `Shard::wake_writer`).
            self.shard().sleeping.store(true, Ordering::SeqCst);
            let inbox_empty = lock(&self.shard().inbox).is_empty();
            if !inbox_empty || self.shared.stop.load(Ordering::SeqCst) {
                timeout = 0;
            }
        }
        let mut events = mem::take(&mut self.events);
        self.shard().epoll.wait(&mut events, timeout).expect("epoll_wait on the fan-out's own epoll");
        self.shard().sleeping.store(false, Ordering::SeqCst);
        for token in events.drain(..) {
            self.on_event(token);
        }
        self.events = events;
        {
            let mut inbox = lock(&self.shared.shards[self.index].inbox);
            mem::swap(&mut self.ready, &mut inbox.ready);
            mem::swap(&mut self.streams, &mut inbox.streams);
            self.draining.extend(inbox.closing.drain(..));
        }
        if !self.streams.is_empty() {
            self.visit_streams();
        }
        if !self.ready.is_empty() {
            // A connection retired since it was scheduled is simply absent.
            let registry = read(&self.shared.registry);
            self.pass.extend(self.ready.drain(..).filter_map(|id| registry.conns.get(&id).cloned()));
        }
    }

    /// The members (of this shard) of each group whose stream was published:
    /// those it has items for join this pass, unless they are in it already;
    /// those that cannot be written to now are caught up in their queue
    /// instead, where the drop policy for slow readers applies.
    fn visit_streams(&mut self) {
        self.streams.sort_unstable();
        self.streams.dedup();
        let mut batch = Batch::default();
        for group in self.streams.drain(..) {
            let Some(members) = self.shared.group(group) else { continue };
            let members = lock(&members);
            // The oldest item a member has not had: what is before it is forgotten.
            let mut oldest = u64::MAX;
            for conn in members.members() {
                let mut st = conn.lock();
                if self.shared.shard_index(conn.id) == self.index {
                    if st.schedule() {
                        self.pass.push(Arc::clone(conn));
                    } else if !st.writable {
                        batch.catch_up(conn, &mut st, self.shared.limits);
                    }
                }
                if let Some(follow) = st.follow.as_ref().filter(|follow| follow.group == group) {
                    oldest = oldest.min(follow.next);
                }
            }
            if let Some(stream) = &members.stream {
                stream.trim(oldest.min(stream.end()));
            }
        }
        self.shared.apply(batch);
    }

    fn on_event(&mut self, token: u64) {
        if token == WAKE_TOKEN {
            self.shard().wake.drain();
            return;
        }
        // EPOLLERR and EPOLLHUP count as writable: the next write reports the error.
        let Some(conn) = self.shared.conn(token) else { return };
        let schedule = {
            let mut st = conn.lock();
            st.writable = true;
            st.schedule()
        };
        if schedule {
            self.pass.push(conn);
        }
    }

    /// One `sendmsg` of what `conn` has queued, then its next state. A
    /// connection with nothing queued is sent what its stream has for it
    /// straight from the writer's own buffer (the common case: nothing
    /// allocated); what of that does not go is put back in its queue, first.
    fn write_once(&mut self, conn: &Arc<Conn>) {
        let mut batch = Batch::default();
        let after = self.send_to(conn, &mut batch);
        // After the connection's lock: what `batch` holds takes shared locks.
        self.shared.apply(batch);
        match after {
            After::Done => {}
            After::Again => self.next.push(Arc::clone(conn)),
            After::Retire(how) => self.retire(conn, how),
        }
    }

    fn send_to(&mut self, conn: &Arc<Conn>, batch: &mut Batch) -> After {
        let limits = self.shared.limits;
        self.out.clear();
        self.ends.clear();
        let fd = {
            let mut st = conn.lock();
            let Some(fd) = st.fd.as_ref().map(AsRawFd::as_raw_fd) else {
                st.scheduled = false;
                return After::Done;
            };
            // Everything its stream appended since the last visit, as one message (or a few).
            let lost = match st.follow.as_mut().filter(|follow| follow.behind()) {
                Some(follow) => {
                    self.tally.visits += 1;
                    self.tally.late_visits += u64::from(follow.late());
                    follow.catch_up(&mut self.out, &mut self.ends)
                }
                None => 0,
            };
            if lost > 0 || !st.queue.is_empty() {
                // Behind what is queued (or lagging): through the queue, in order.
                batch.queue_audio(conn, &mut st, messages(&self.out, &self.ends), lost, limits);
                self.out.clear();
                self.ends.clear();
            }
            if st.queue.is_empty() && self.out.is_empty() {
                st.scheduled = false;
                return if st.closing { After::Retire(Retire::Shutdown) } else { After::Done };
            }
            self.iov.clear();
            let iov = &mut self.iov;
            if self.out.is_empty() {
                st.queue.pin_front(MAX_IOV, |bytes| {
                    iov.push(libc::iovec {
                        iov_base: bytes.as_ptr().cast_mut().cast(),
                        iov_len: bytes.len(),
                    });
                });
            } else {
                iov.push(libc::iovec {
                    iov_base: self.out.as_ptr().cast_mut().cast(),
                    iov_len: self.out.len(),
                });
            }
            fd
        };
        // SAFETY: each iovec points either into an `Arc<[u8]>` segment of
        // `conn`'s queue, pinned above: until `written`/`unpin` below, no
        // caller may remove a pinned segment (the queue's drop policy skips
        // them) and `Arc<[u8]>` bytes never change, so the buffers stay alive
        // and unchanged; or into `self.out`, which nothing touches until the
        // call returns. `fd` stays open: only this thread ever takes it out of the state.
        #[allow(unsafe_code)]
        let sent = unsafe { sys::send_vectored(fd, &self.iov) };
        let mut st = conn.lock();
        let own = !self.out.is_empty();
        if own {
            batch.queued += self.ends.len() as u64;
        }
        match sent {
            Ok(count) => {
                if own {
                    self.put_back(&mut st, count, batch);
                } else {
                    st.queue.written(count);
                }
                self.tally.bytes += count as u64;
                self.tally.calls += u64::from(count > 0);
                if count > 0 {
                    st.wrote_at = Instant::now();
                }
                if !st.queue.is_empty() {
                    // Probably a short write: the next pass finds out (EAGAIN costs one call).
                    After::Again
                } else {
                    st.scheduled = false;
                    if st.closing { After::Retire(Retire::Shutdown) } else { After::Done }
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                if own {
                    self.put_back(&mut st, 0, batch);
                } else {
                    st.queue.unpin();
                }
                st.writable = false;
                st.scheduled = false;
                After::Done
            }
            Err(err) => {
                st.queue.unpin();
                After::Retire(Retire::Failed(err.raw_os_error().unwrap_or(libc::EIO)))
            }
        }
    }

    /// The messages of `self.out` not wholly among the first `count` bytes
    /// written go back to the front of `st`'s queue, in order; if the
    /// connection was closed meanwhile, only the one begun does (its close
    /// frame goes right after it), the others counted as dropped at close.
    fn put_back(&self, st: &mut ConnState, count: usize, batch: &mut Batch) {
        if count == self.out.len() {
            return;
        }
        let (mut start, mut begun) = (0, 0);
        let mut unsent = Vec::new();
        for message in messages(&self.out, &self.ends) {
            let end = start + message.len();
            if end > count {
                if start < count {
                    begun = count - start;
                    unsent.push(Arc::from(message));
                } else if st.closing {
                    batch.dropped_at_close += 1;
                } else {
                    unsent.push(Arc::from(message));
                }
            }
            start = end;
        }
        st.queue.put_back(unsent, begun);
    }

    fn publish_counters(&mut self) {
        mem::take(&mut self.tally).publish(&self.shared.counters);
        self.shard().cpu_ns.store(sys::thread_cpu_ns(), Ordering::Relaxed);
    }
}
