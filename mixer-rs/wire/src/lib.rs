//! Stoa's client sockets, read side: the listening socket, the WebSocket
//! handshake, every frame a client sends, ping/pong, the close handshake and
//! the keepalive, on one reader thread (epoll). Every byte written to a
//! client still goes through the `fanout` crate's writer, handshake answers
//! and control frames included, so one queue per connection keeps order.
//!
//! Speakers' `audio` never reaches Python: the reader recognises it
//! (`audio.rs`) and pushes it into the space's mixer through the tick pool's
//! `SpeakerRoutes`, which the spaces keep in step with who may speak. The
//! owner (the Python gateway) sees coarse events only, many per wake-up of
//! one eventfd: a connection's upgrade request (it decides: `accept` or
//! `refuse`), its other messages, a count of its audio that had no route (at
//! most one a second), and its end. Pure Rust; `mixer-rs/src/wire.rs` is its
//! thin binding.
//!
//! Modules: `sys` (the system calls; the crate's only `unsafe`), `handshake`
//! (the upgrade request and answers), `handshakes` (how many are in progress,
//! per address and in all), `address` (the key a peer's address is counted
//! by: an IPv6 client by its /64), `frames` (reading and writing frames),
//! `audio` (the `audio` message), `pace` (how fast a connection may send
//! it), `conn` (one connection's state machine), `reader` (the thread), and
//! here the `Wire` handle.

#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod address;
pub mod audio;
mod config;
mod conn;
pub mod frames;
pub mod handshake;
mod handshakes;
mod pace;
mod parked;
mod reader;
mod sys;

pub use config::{Parking, Scheduling, WireConfig};
pub use handshakes::{MAX_HANDSHAKES, MAX_HANDSHAKES_PER_ADDRESS};
pub use pace::{
    AUDIO_BURST, AUDIO_OVER_PACE, AUDIO_PER_SECOND, AUDIO_TOO_FAST, AudioPace, PaceLimits, Paced,
};

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::{self, JoinHandle};

use driver::SpeakerRoutes;
use fanout::Fanout;
use fanout::os::EventFd;

/// The close code of a connection that answered no ping.
pub const KEEPALIVE_TIMEOUT: u16 = 4001;

/// What the owner hears about a connection, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A valid upgrade request: the owner answers with `accept` or `refuse`.
    Opened { conn: u64, peer: String, path: String, origins: Vec<String> },
    /// A binary message the reader did not take itself.
    Message { conn: u64, data: Vec<u8> },
    /// `packets` audio messages came from a connection with no route since
    /// the last such event (the first of a burst at once, then at most one a second).
    AudioUnrouted { conn: u64, packets: u64 },
    /// The connection is over (after `Opened`, and unless refused): the
    /// close's code and reason: the server's (`by_server`: the owner's
    /// `Wire::close`, or the wire's own, such as a protocol error), or the
    /// client's, 1006 if none came.
    Closed { conn: u64, code: u16, reason: String, by_server: bool },
}

/// A snapshot of a wire's counters, since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WireStats {
    /// Connections open now (handshakes included).
    pub connections: u64,
    pub accepted: u64,
    /// Requests that were not a valid upgrade, or timed out before one.
    pub bad_handshakes: u64,
    /// Connections closed at accept: their address (an IPv6 one's /64) had `max_handshakes_per_address` in
    /// progress.
    pub handshakes_refused: u64,
    /// Handshakes ended to make room for a newer one, `max_handshakes` being in progress.
    pub handshakes_evicted: u64,
    /// Messages handed to the owner.
    pub messages: u64,
    /// Audio messages pushed into a mixer by the reader.
    pub audio_routed: u64,
    /// Audio messages from connections without a route.
    pub audio_unrouted: u64,
    /// Audio messages dropped unread for coming faster than `WireConfig::audio_pace` allows.
    pub audio_over_pace: u64,
    pub bytes_read: u64,
    /// Audio messages (of `audio_routed`) read at their space's tick, from a parked speaker.
    pub audio_at_tick: u64,
    /// Speakers parked, as the reader counted them at its last sweep (every 250 ms).
    pub parked: u64,
    /// CPU time of the reader thread, as it measured it after its last pass.
    pub reader_cpu_ns: u64,
}

#[derive(Debug)]
pub(crate) enum Command {
    Accept(u64),
    Refuse { conn: u64, response: Vec<u8> },
    Close { conn: u64, code: u16, reason: String },
    Taken(u64),
    InjectPanic(u64),
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub connections: AtomicU64,
    pub accepted: AtomicU64,
    pub bad_handshakes: AtomicU64,
    pub handshakes_refused: AtomicU64,
    pub handshakes_evicted: AtomicU64,
    pub messages: AtomicU64,
    pub audio_routed: AtomicU64,
    pub audio_unrouted: AtomicU64,
    pub audio_over_pace: AtomicU64,
    pub bytes_read: AtomicU64,
    pub audio_at_tick: AtomicU64,
    pub parked: AtomicU64,
    pub reader_cpu_ns: AtomicU64,
}

/// What the owner's threads and the reader share.
pub(crate) struct Shared {
    /// The listening sockets (duplicates of the caller's): the reader accepts on them, `Wire::stop_listening`
    /// shuts them down. Owned here, so that their numbers stay theirs while the wire or its reader lives.
    pub listeners: Vec<OwnedFd>,
    pub commands: Mutex<Vec<Command>>,
    /// Wakes the reader (commands, stop).
    pub wake: EventFd,
    pub events: Mutex<Vec<Event>>,
    /// Readable while events wait for the owner.
    pub ready: EventFd,
    pub stop: AtomicBool,
    pub counters: Counters,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The read side of every client socket: one thread, and the handle its owner calls.
///
/// Thread-safe. Connection ids are the fan-out's (each socket is registered
/// there at accept). Resource handling: `shutdown` stops the reader and ends
/// every connection; descriptors are closed once the fan-out's writer has
/// released them (at once if the fan-out was shut down first).
pub struct Wire {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<reader::Leftovers>>>,
    fanout: Arc<Fanout>,
    scheduling: Scheduling,
}

impl Wire {
    /// Serves the listening sockets `listeners` (every address of the server's
    /// host name, at most 64; a duplicate of each is taken: the caller closes
    /// its own). Starts the reader thread, "stoa-wire".
    pub fn new(
        listeners: &[RawFd],
        fanout: Arc<Fanout>,
        speakers: Arc<SpeakerRoutes>,
        config: WireConfig,
    ) -> io::Result<Self> {
        if listeners.is_empty() || listeners.len() > reader::MAX_LISTENERS {
            let message = format!("a wire serves 1 to {} listening sockets", reader::MAX_LISTENERS);
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        let listeners = listeners.iter().map(|&fd| sys::dup_listener(fd)).collect::<io::Result<Vec<_>>>()?;
        // A connection is accepted once its first bytes (the request, from a real client) have come: one
        // that sends nothing never counts as a handshake in progress until this is over (`handshakes.rs`).
        let defer = config.defer_accept.as_secs_f64().ceil() as i32;
        for listener in &listeners {
            sys::set_int_option(listener, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT, defer)?;
        }
        let shared = Arc::new(Shared {
            listeners,
            commands: Mutex::default(),
            wake: EventFd::new()?,
            events: Mutex::default(),
            ready: EventFd::new()?,
            stop: AtomicBool::new(false),
            counters: Counters::default(),
        });
        let mut reader = reader::Reader::new(Arc::clone(&shared), Arc::clone(&fanout), speakers, config)?;
        let (told, scheduled) = mpsc::sync_channel(1);
        let thread = thread::Builder::new().name("stoa-wire".into()).spawn(move || {
            let scheduling = if config.realtime { sys::run_first() } else { Scheduling::Normal };
            reader.parked.enabled = match config.parking {
                Parking::WhenRealtime => scheduling == Scheduling::Realtime,
                Parking::Always => true,
                Parking::Never => false,
            };
            let _ = told.send(scheduling);
            reader.run()
        })?;
        let scheduling = scheduled.recv().unwrap_or(Scheduling::Normal);
        Ok(Self { shared, thread: Mutex::new(Some(thread)), fanout, scheduling })
    }

    /// How the reader thread runs: what `WireConfig::realtime` asked for and the system allowed.
    pub fn scheduling(&self) -> Scheduling {
        self.scheduling
    }

    /// Readable while events wait: the owner waits on it, then calls `take_events`.
    pub fn event_fd(&self) -> RawFd {
        self.shared.ready.as_raw_fd()
    }

    /// Every event since the last call, oldest first.
    pub fn take_events(&self) -> Vec<Event> {
        self.shared.ready.drain();
        std::mem::take(&mut *lock(&self.shared.events))
    }

    /// Completes the handshake of an `Opened` connection; a no-op if it is gone.
    pub fn accept(&self, conn: u64) {
        self.command(Command::Accept(conn));
    }

    /// Answers an `Opened` connection's upgrade with `status`, `headers` and
    /// `body`, and closes it (no `Closed` event follows).
    pub fn refuse(&self, conn: u64, status: u16, headers: &[(String, String)], body: &[u8]) {
        let response = handshake::refusal(status, headers, body);
        self.command(Command::Refuse { conn, response });
    }

    /// Starts the close handshake with `code` and `reason` (cut to fit a
    /// frame); `Closed` follows when the client answers, or after
    /// `close_timeout`. A no-op if it is closing or gone.
    pub fn close(&self, conn: u64, code: u16, reason: &str) {
        self.command(Command::Close { conn, code, reason: reason.to_owned() });
    }

    /// Stops taking connections: every listening socket is shut down, so that a client's connect is refused
    /// at once (and those waiting to be accepted are reset), while the connections open go on. For the end of
    /// a drain: the owner stops answering upgrades then, and a connection accepted after that would wait,
    /// unanswered, until `shutdown`. Idempotent; the first failure to shut one down is returned (the others
    /// are still tried).
    pub fn stop_listening(&self) -> io::Result<()> {
        let mut result = Ok(());
        for listener in &self.shared.listeners {
            match sys::stop_listening(listener) {
                // Not connected: it was stopped already (Linux says so for a second shutdown).
                Err(err) if err.raw_os_error() == Some(libc::ENOTCONN) => {}
                Err(err) if result.is_ok() => result = Err(err),
                _ => {}
            }
        }
        result
    }

    /// For tests of a fault in reading a client's bytes: `conn`'s next bytes make the reader panic there
    /// (contained: the connection is closed with 1011, the reader goes on).
    pub fn inject_panic(&self, conn: u64) {
        self.command(Command::InjectPanic(conn));
    }

    /// The owner is done with one of `conn`'s messages (see `max_pending_messages`).
    pub fn taken(&self, conn: u64) {
        self.command(Command::Taken(conn));
    }

    fn command(&self, command: Command) {
        let first = {
            let mut commands = lock(&self.shared.commands);
            commands.push(command);
            commands.len() == 1
        };
        // The reader drains its eventfd before it takes the commands: one
        // wake-up per batch is enough.
        if first {
            self.shared.wake.notify();
        }
    }

    pub fn stats(&self) -> WireStats {
        let c = &self.shared.counters;
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        WireStats {
            connections: read(&c.connections),
            accepted: read(&c.accepted),
            bad_handshakes: read(&c.bad_handshakes),
            handshakes_refused: read(&c.handshakes_refused),
            handshakes_evicted: read(&c.handshakes_evicted),
            messages: read(&c.messages),
            audio_routed: read(&c.audio_routed),
            audio_unrouted: read(&c.audio_unrouted),
            audio_over_pace: read(&c.audio_over_pace),
            bytes_read: read(&c.bytes_read),
            audio_at_tick: read(&c.audio_at_tick),
            parked: read(&c.parked),
            reader_cpu_ns: read(&c.reader_cpu_ns),
        }
    }

    /// Stops listening (`stop_listening`) and stops the reader; every connection
    /// still open is closed by the fan-out (which flushes what it holds), and its
    /// descriptor closed once released. Idempotent. Call it after `Fanout::shutdown`, so that every descriptor
    /// is released and closed; one the writer still held would be left open
    /// (never closed early: a reused number must never receive someone else's bytes).
    pub fn shutdown(&self) {
        let Some(thread) = lock(&self.thread).take() else { return };
        // Nobody accepts from here on: connects are refused rather than left in the backlog (the sockets
        // themselves close with the wire).
        let _ = self.stop_listening();
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify();
        // A panic in the reader is a bug, already reported by the panic hook;
        // its descriptors are then leaked rather than closed too early.
        if let Ok(leftovers) = thread.join() {
            leftovers.release(&self.fanout);
        }
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        self.shutdown();
    }
}
