//! The reader thread ("stoa-wire"): every byte clients send arrives here.
//!
//! Constraints: one thread reads every client socket, so nothing may block it
//! (all reads are non-blocking, the owner's decisions arrive as commands) and
//! nothing it does may wait for Python, and no connection may keep it (a
//! turn is `READS_PER_TURN` reads). A pass: (1) wait in epoll (at most until
//! the next sweep; not at all while a socket left full waits); (2) accept every
//! waiting connection, each registered with the fan-out, whose id it keeps,
//! and with this epoll, and read at once (unless its address, an IPv6 one by
//! its /64, has too many handshakes in progress; past the cap in all, one
//! whose request is not whole ends the oldest: `reader/accept.rs`,
//! `handshakes.rs`); (3) read each ready socket until EAGAIN or the end
//! of its turn, then those left full last pass, handling what arrived as it
//! comes (a speaker's audio goes into its mixer here); (4) apply the owner's commands
//! (accept, refuse, close, a message taken); (5) every `SWEEP`, look at every
//! connection for timeouts and keepalive; (6) hand the pass's events to the
//! owner at once, waking it only if it had none waiting; (7) close the
//! descriptors the fan-out's writer has released.
//!
//! Speakers of a ticking space may be parked, read together before its ticks
//! (`parked.rs`).
//!
//! A connection's socket is the reader's: the fan-out borrows it for writing,
//! so the reader closes it only once `Fanout::released` says the writer is
//! done with it; a number the kernel hands out again never gets old bytes.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use driver::{FRAME, SpeakerRoutes};
use fanout::os::{Epoll, thread_cpu_ns};
use fanout::{Fanout, IdMap};

use crate::conn::{Conn, Ctx, Phase};
use crate::handshakes::Handshakes;
use crate::parked::Parked;
use crate::{Command, Shared, WireConfig, lock, sys};

mod accept;

const WAKE: u64 = u64::MAX;
/// The most listening sockets one wire serves (every address of one host name).
pub(crate) const MAX_LISTENERS: usize = 64;
/// Listening socket `i`'s epoll token; connection ids (the fan-out's) never come near.
const FIRST_LISTENER: u64 = u64::MAX - 1 - MAX_LISTENERS as u64;
/// Timeouts and keepalive are looked at this often.
const SWEEP: Duration = Duration::from_millis(250);
/// How often descriptors waiting for the writer's release are looked at.
const RELEASE_POLL: Duration = Duration::from_millis(20);
const READ_CHUNK: usize = 64 * 1024;
/// Reads of `READ_CHUNK` one connection gets in a turn. A client that keeps its socket full (a flood
/// of frames the reader handles itself, such as audio) would otherwise hold the reader on its socket
/// for as long as it sends, and every other client's bytes, speakers' packets included, would wait: a
/// connection still full after its turn goes to the back (`Reader::more`), after everyone else's.
const READS_PER_TURN: usize = 4;

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub(crate) struct Reader {
    shared: Arc<Shared>,
    epoll: Epoll,
    conns: IdMap<Conn>,
    handshakes: Handshakes,
    ctx: Ctx,
    /// Ended connections whose descriptor the writer may still hold.
    releasing: Vec<(u64, OwnedFd)>,
    scratch: Vec<u8>,
    tokens: Vec<(u64, u32)>,
    /// Connections whose turn ended with bytes perhaps left in the socket (edge-triggered epoll
    /// tells of none of them again): each once (`Conn::carried`), read next pass, at once.
    more: Vec<u64>,
    /// Listening sockets whose turn ended with connections perhaps still waiting (`accept.rs`): accepted
    /// from again next pass, at once.
    listeners_more: Vec<usize>,
    /// Passes so far: a connection has at most one turn a pass from epoll and `more` together.
    passes: u64,
    /// Speakers read at their space's ticks, not as their bytes arrive (`settle`).
    pub(crate) parked: Parked,
    next_sweep: Instant,
}

/// What the thread leaves when it stops: descriptors to close once released.
pub(crate) struct Leftovers(Vec<(u64, OwnedFd)>);

impl Leftovers {
    pub(crate) fn release(self, fanout: &Fanout) {
        for (conn, fd) in self.0 {
            fanout.close(conn);
            if fanout.released(conn) {
                drop(fd);
            } else {
                std::mem::forget(fd); // see `Wire::shutdown`: never closed under the writer
            }
        }
    }
}

impl Reader {
    pub(crate) fn new(
        shared: Arc<Shared>,
        fanout: Arc<Fanout>,
        speakers: Arc<SpeakerRoutes>,
        config: WireConfig,
    ) -> io::Result<Self> {
        let epoll = Epoll::new()?;
        epoll.add(shared.wake.as_raw_fd(), libc::EPOLLIN as u32, WAKE)?;
        assert!(shared.listeners.len() <= MAX_LISTENERS, "checked by Wire::new");
        for (i, listener) in shared.listeners.iter().enumerate() {
            epoll.add(listener.as_raw_fd(), libc::EPOLLIN as u32, FIRST_LISTENER + i as u64)?;
        }
        let ctx = Ctx { fanout, speakers, config, events: Vec::new(), counters: Arc::clone(&shared) };
        Ok(Self {
            shared,
            epoll,
            conns: IdMap::default(),
            handshakes: Handshakes::new(config.max_handshakes_per_address, config.max_handshakes),
            ctx,
            releasing: Vec::new(),
            scratch: vec![0; READ_CHUNK],
            tokens: Vec::new(),
            more: Vec::new(),
            listeners_more: Vec::new(),
            passes: 0,
            parked: Parked::new(),
            next_sweep: Instant::now() + SWEEP,
        })
    }

    pub(crate) fn run(mut self) -> Leftovers {
        while !self.shared.stop.load(Ordering::Acquire) {
            self.pass();
        }
        for (_, mut conn) in std::mem::take(&mut self.conns) {
            conn.finish(&mut self.ctx, 1001, "the server is shutting down", true);
            self.releasing.push((conn.id, conn.fd));
        }
        self.publish();
        Leftovers(self.releasing)
    }

    fn pass(&mut self) {
        let now = Instant::now();
        // Parked speakers wake the reader every frame at most: a sweep then waits for one of those wake-ups.
        let sweep_at = if self.parked.is_empty() { self.next_sweep } else { self.next_sweep + FRAME };
        let mut timeout = sweep_at.saturating_duration_since(now);
        if !self.releasing.is_empty() {
            timeout = timeout.min(RELEASE_POLL);
        }
        if let Some(at) = self.parked.next() {
            timeout = timeout.min(at.saturating_duration_since(now));
        }
        self.passes += 1;
        let carried = std::mem::take(&mut self.more);
        for id in &carried {
            if let Some(conn) = self.conns.get_mut(id) {
                conn.carried = false; // its turn comes below, once; a turn that leaves it full carries it again
            }
        }
        let listeners_carried = std::mem::take(&mut self.listeners_more);
        if !carried.is_empty() || !listeners_carried.is_empty() {
            timeout = Duration::ZERO; // their bytes, or connections, are waiting already
        }
        let mut tokens = std::mem::take(&mut self.tokens);
        self.epoll.wait_events(&mut tokens, timeout).expect("epoll_wait on the reader's own epoll");
        // First: these have the least margin (`READ_AHEAD`), and what epoll tells of may take a while.
        self.read_parked();
        for (token, bits) in tokens.drain(..) {
            match token {
                WAKE => self.shared.wake.drain(),
                token if token >= FIRST_LISTENER => self.accept_all((token - FIRST_LISTENER) as usize),
                conn => {
                    // After the peer's FIN, read on to the end even past a short read.
                    let ending = bits & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
                    if ending && let Some(conn) = self.conns.get_mut(&conn) {
                        conn.ending = true; // read to the end, in this turn and, if it does not get there, the next
                    }
                    self.read(conn, false, None);
                }
            }
        }
        self.tokens = tokens;
        for listener in listeners_carried {
            self.accept_all(listener);
        }
        for id in carried {
            // Unless epoll already gave it this pass's turn (new bytes came).
            if self.conns.get(&id).is_some_and(|conn| conn.last_turn != self.passes) {
                self.read(id, false, None);
            }
        }
        self.commands();
        let now = Instant::now();
        if now >= self.next_sweep {
            self.next_sweep = now + SWEEP;
            // A system call: once a sweep, not once a pass.
            self.shared.counters.reader_cpu_ns.store(thread_cpu_ns(), Ordering::Relaxed);
            let routed = self.shared.counters.audio_routed.load(Ordering::Relaxed);
            self.parked.sweep(routed, self.ctx.config.park_max_rate, SWEEP);
            let parked = self.conns.values().filter(|conn| conn.parked.is_some()).count();
            self.shared.counters.parked.store(parked as u64, Ordering::Relaxed);
            let ids: Vec<u64> = self.conns.keys().copied().collect();
            for id in ids {
                if let Some(conn) = self.conns.get_mut(&id) {
                    conn.sweep(&mut self.ctx, now);
                }
                self.retire_if_done(id);
            }
            let conns = &self.conns;
            self.handshakes.sweep(|id| conns.get(&id).is_some_and(|conn| conn.handshaking));
        }
        self.publish();
        self.release();
    }

    /// Reads every speaker parked for a time now past, in the order of their times.
    fn read_parked(&mut self) {
        let now = Instant::now();
        let routed = |shared: &Shared| shared.counters.audio_routed.load(Ordering::Relaxed);
        while let Some((at, ids)) = self.parked.take_due(now) {
            let before = routed(&self.shared);
            for id in ids {
                if self.conns.get(&id).is_some_and(|conn| conn.parked == Some(at)) {
                    self.read(id, false, Some(at));
                }
            }
            // Only this thread counts audio: what these reads took.
            let took = routed(&self.shared) - before;
            self.shared.counters.audio_at_tick.fetch_add(took, Ordering::Relaxed);
        }
    }

    /// Reads `id`'s socket until it would block (or its reading is paused, or
    /// its turn of `READS_PER_TURN` is over), handling what arrives as it comes;
    /// `parked_for`: the time it was parked for, when this is that read.
    fn read(&mut self, id: u64, to_the_end: bool, parked_for: Option<Instant>) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
        conn.last_turn = self.passes;
        let to_the_end = to_the_end || conn.ending;
        let mut reads = 0;
        while conn.reading(&self.ctx) {
            if reads == READS_PER_TURN {
                if !std::mem::replace(&mut conn.carried, true) {
                    self.more.push(id);
                }
                break;
            }
            reads += 1;
            match sys::recv(&conn.fd, &mut self.scratch) {
                Ok(0) => {
                    conn.handle(&mut self.ctx); // what came before the end still counts
                    conn.ended(&mut self.ctx);
                }
                Ok(n) => {
                    self.shared.counters.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
                    conn.last_received = Instant::now();
                    conn.inbuf.extend_from_slice(&self.scratch[..n]);
                    conn.handle(&mut self.ctx);
                    if n < self.scratch.len() && !to_the_end {
                        // A short read emptied the socket: with edge-triggered epoll the
                        // next bytes (or FIN) to arrive bring a new event, so the read that
                        // would only say EAGAIN (a system call per packet) is skipped.
                        break;
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => conn.ended(&mut self.ctx),
            }
        }
        if let Some(conn) = self.conns.get_mut(&id) {
            self.parked.settle(conn, parked_for, &self.epoll, &mut self.ctx);
        }
        self.retire_if_done(id);
    }

    fn commands(&mut self) {
        let commands = std::mem::take(&mut *lock(&self.shared.commands));
        for command in commands {
            match command {
                Command::Accept(id) => {
                    if let Some(conn) = self.conns.get_mut(&id) {
                        conn.accept(&mut self.ctx);
                        conn.handle(&mut self.ctx); // frames that came with the request
                        self.read(id, true, None);
                    }
                }
                Command::Refuse { conn, response } => {
                    if let Some(conn) = self.conns.get_mut(&conn) {
                        conn.refuse(&response, &mut self.ctx);
                    }
                    self.retire_if_done(conn);
                }
                Command::Close { conn, code, reason } => {
                    if let Some(conn) = self.conns.get_mut(&conn) {
                        conn.close(&mut self.ctx, code, &reason);
                    }
                    self.retire_if_done(conn);
                }
                Command::InjectPanic(id) => {
                    if let Some(conn) = self.conns.get_mut(&id) {
                        conn.panic_next = true;
                    }
                }
                Command::Taken(id) => {
                    if let Some(conn) = self.conns.get_mut(&id) {
                        let was_paused = !conn.reading(&self.ctx);
                        conn.pending = conn.pending.saturating_sub(1);
                        if was_paused && conn.reading(&self.ctx) {
                            conn.handle(&mut self.ctx); // what it held back, then the socket
                            self.read(id, true, None);
                        }
                    }
                }
            }
        }
    }

    /// Counts `id` out of the handshakes once it has left its own, and retires it once it is done. Every
    /// turn, command and sweep that may change a connection's phase ends here.
    fn retire_if_done(&mut self, id: u64) {
        if let Some(conn) = self.conns.get_mut(&id)
            && conn.handshaking
            && conn.phase != Phase::Handshake
        {
            conn.handshaking = false;
            self.handshakes.finished(conn.peer);
        }
        if self.conns.get(&id).is_some_and(|conn| conn.phase == Phase::Done) {
            let conn = self.conns.remove(&id).expect("just seen");
            let _ = self.epoll.delete(conn.fd.as_raw_fd());
            self.shared.counters.connections.fetch_sub(1, Ordering::Relaxed);
            self.releasing.push((id, conn.fd));
        }
    }

    fn publish(&mut self) {
        if self.ctx.events.is_empty() {
            return;
        }
        let first = {
            let mut events = lock(&self.shared.events);
            let first = events.is_empty();
            events.append(&mut self.ctx.events);
            first
        };
        if first {
            self.shared.ready.notify();
        }
    }

    fn release(&mut self) {
        let fanout = &self.ctx.fanout;
        // Dropping a released descriptor closes it.
        self.releasing.retain(|(id, _)| !fanout.released(*id));
    }
}
