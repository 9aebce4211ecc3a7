//! `Pool`: the handle the harness holds, and the one thread ("stoa-loadpool") that runs every
//! listener of the pool.
//!
//! The thread's loop, in order: start the connections the ramp-up allows by now (`STARTS_PER_PASS`
//! at most); once a second, end connections that waited too long and sample the thread's CPU clock
//! (every 100 ms); for a pool of speakers whose clock runs, send every slot now due (`speak`); if
//! the last wait found work (and not a full batch), linger (`PoolConfig::linger_us`, never past the
//! next slot's due time); wait for readiness (level-triggered epoll, at most 1,024 events a wait,
//! and never past the next slot's due time; not at all while the ramp-up is behind) and hand each
//! event to its connection. `stop` sets a flag and wakes the loop through an eventfd; every open
//! WebSocket then sends a close frame, and the loop ends when all are closed or after 2 s.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::conn::{CLOSE_TIMEOUT, Conn, Env};
use crate::histogram::{BadPercentile, Percentiles};
use crate::speech::{self, Speaker};
use crate::stats::{ListenerState, ListenerStats, PoolStats, Scheduling, Shared, bump};
use crate::sys::{self, Poller, READABLE, Waker};

mod maps;

const WAKE_TOKEN: u64 = u64::MAX;
const EVENTS_PER_WAIT: usize = 1024;
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// Connections started between two waits for readiness, at most. A burst (`connect_per_s` far above what
/// one thread connects) would otherwise start them all before any had sent its upgrade request: each
/// would hold a half-open handshake at the server for as long as the whole burst took to start, where a
/// real client sends its request as soon as it is connected (and a server that caps handshakes in
/// progress, as Stoa's does, would rightly make such a crowd wait).
const STARTS_PER_PASS: usize = 64;
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Descriptors kept free for the rest of the process (the epoll, the eventfd, Python's own).
const SPARE_FILES: u64 = 64;
/// A capture clock of at most a day of slots (a bitmap of 540 KiB per member).
const MAX_SLOTS: u64 = 24 * 3600 * 50;
/// A speaker's packet that leaves more than one slot after it was due is a fault of the harness.
pub const LATE_SEND_US: u64 = 20_000;

/// What a pool is asked to do.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub host: String,
    pub port: u16,
    pub space_id: String,
    /// One listener per user, in this order.
    pub users: Vec<String>,
    /// Listeners of several spaces on one thread: the space each user joins, one per user.
    /// Empty: every user joins `space_id`.
    pub spaces: Vec<String>,
    /// Ramp-up: at most this many connections started per second.
    pub connect_per_s: f64,
    /// A frame later than this (µs, `now - captured_at`) counts as late.
    pub late_after_us: u64,
    /// The run's capture clock: slot 0 in µs of unix time (0: none; a pool of speakers gets it
    /// from `start_speaking`), and how many slots each member's bitmap holds.
    pub clock_t0_us: u64,
    pub clock_slots: u64,
    /// A pool of speakers: one per user (its token, space and script), and `space_id` unused.
    /// Empty: the users are listeners of `space_id`, joining as guests.
    pub speakers: Vec<Speaker>,
    /// After a wait that found work, the thread sleeps this long (µs, 0: never; never past a
    /// speaker's next slot) before it waits again. Arrivals meanwhile queue in their sockets,
    /// read together by the next wait, instead of each waking the thread: on loopback the
    /// server's sending thread runs the wake-up (an inter-processor interrupt in a VM), so a
    /// harness woken for every message costs the server it measures. Latency is still the kernel's
    /// arrival stamp, but a read that takes two messages of one connection stamps both with the
    /// later one's arrival (`PoolStats::restamped`): lingering can overstate latency, never understate it.
    pub linger_us: u64,
}

/// Why a pool could not start.
#[derive(Debug)]
pub enum PoolError {
    BadArgument(String),
    Io(io::Error),
}

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadArgument(why) => f.write_str(why),
            Self::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PoolError {}

impl From<io::Error> for PoolError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

struct Control {
    stop: AtomicBool,
    waker: Waker,
}

/// A running pool of listeners. Dropping it stops it.
pub struct Pool {
    shared: Arc<Shared>,
    control: Arc<Control>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Pool {
    /// Checks the arguments, resolves the host, and starts the pool thread.
    pub fn start(config: PoolConfig) -> Result<Self, PoolError> {
        if !(config.connect_per_s.is_finite() && config.connect_per_s > 0.0) {
            return Err(PoolError::BadArgument(format!(
                "connect_per_s must be > 0, not {}",
                config.connect_per_s
            )));
        }
        let limit = sys::open_files_limit()?;
        if config.users.len() as u64 + SPARE_FILES > limit {
            return Err(PoolError::BadArgument(format!(
                "{} listeners need as many open files, and this process may open {limit}: \
                 spread the listeners over several processes",
                config.users.len()
            )));
        }
        let addr = (config.host.as_str(), config.port).to_socket_addrs()?.next().ok_or_else(|| {
            PoolError::Io(io::Error::new(io::ErrorKind::NotFound, format!("{} has no address", config.host)))
        })?;
        let host_header = if config.host.contains(':') {
            format!("[{}]:{}", config.host, config.port)
        } else {
            format!("{}:{}", config.host, config.port)
        };
        if !config.speakers.is_empty() && config.speakers.len() != config.users.len() {
            return Err(PoolError::BadArgument(format!(
                "{} speakers for {} users: give one per user",
                config.speakers.len(),
                config.users.len()
            )));
        }
        if !config.spaces.is_empty() && config.spaces.len() != config.users.len() {
            return Err(PoolError::BadArgument(format!(
                "{} spaces for {} users: give one per user, or none",
                config.spaces.len(),
                config.users.len()
            )));
        }
        if let Some(Err(why)) = config.speakers.iter().map(|s| s.script.check()).find(Result::is_err) {
            return Err(PoolError::BadArgument(why));
        }
        if config.clock_slots > MAX_SLOTS {
            return Err(PoolError::BadArgument(format!("clock_slots must be at most {MAX_SLOTS}")));
        }
        let shared = Arc::new(Shared::new(config.users, (config.clock_t0_us, config.clock_slots)));
        let control = Arc::new(Control { stop: AtomicBool::new(false), waker: Waker::new()? });
        let poller = Poller::new()?;
        poller.add(control.waker.fd(), READABLE, WAKE_TOKEN)?;
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let env = Env {
            shared: Arc::clone(&shared),
            poller,
            host_header,
            space_id: config.space_id,
            spaces: config.spaces,
            speakers: config.speakers,
            late_after_us: config.late_after_us,
            rng: seed | 1,
            scratch: Vec::new(),
        };
        let thread_control = Arc::clone(&control);
        let (rate, linger) = (config.connect_per_s, Duration::from_micros(config.linger_us));
        let thread = std::thread::Builder::new()
            .name("stoa-loadpool".into())
            .spawn(move || run(env, &thread_control, addr, rate, linger))?;
        Ok(Self { shared, control, thread: Mutex::new(Some(thread)) })
    }

    pub fn stats(&self) -> PoolStats {
        self.shared.pool_stats()
    }

    /// How a pool of speakers' thread is scheduled (`sys::prefer_this_thread`): "realtime", "nice" (-10) or
    /// "normal"; "" for listeners, or before the thread started.
    pub fn scheduling(&self) -> &'static str {
        Scheduling::from_u8(self.shared.scheduling.load(Relaxed)).as_str()
    }

    /// One entry per user, in the order given.
    pub fn listeners(&self) -> Vec<ListenerStats> {
        self.shared.listener_stats()
    }

    /// Latency (µs) at each percentile over the frames since the start or the last reset.
    pub fn latency_percentiles(&self, ps: &[f64]) -> Result<Percentiles, BadPercentile> {
        self.shared.latency.percentiles(ps)
    }

    /// `latency_percentiles`, then a reset, losing no frame between them.
    pub fn take_latency_percentiles(&self, ps: &[f64]) -> Result<Percentiles, BadPercentile> {
        self.shared.latency.take_percentiles(ps)
    }

    /// Empties both latency histograms.
    pub fn reset_latency(&self) {
        self.shared.latency.reset();
        self.shared.read_latency.reset();
    }

    /// The latency histogram's non-empty buckets, as (highest value in µs, count): histograms of
    /// several pools add up bucket by bucket.
    pub fn latency_buckets(&self) -> Vec<(u64, u64)> {
        self.shared.latency.buckets()
    }

    /// The same for the latency as the harness read the frames (`conn/read.rs`).
    pub fn read_latency_buckets(&self) -> Vec<(u64, u64)> {
        self.shared.read_latency.buckets()
    }

    /// Measures latency (listeners) or send lag (speakers) only for the slots `start..end` of the
    /// capture clock.
    pub fn set_window(&self, start: u64, end: u64) {
        self.shared.window.set(start, end);
    }

    /// A pool of speakers: starts the capture clock at `t0_us` (µs of unix time). Slot `k` is sent
    /// at `t0 + 20 ms · (k + 1)` by every speaker whose script has a packet for it and that has
    /// joined by then, stamped `captured_at = t0 + 20 ms · k`.
    pub fn start_speaking(&self, t0_us: u64) {
        self.shared.pace.start(t0_us);
        self.control.waker.wake();
    }

    /// No more packets from now on (the connections stay open).
    pub fn stop_speaking(&self) {
        self.shared.pace.stop();
    }

    /// How late speakers' packets left after their slot was due (µs), at each percentile.
    pub fn send_lag_percentiles(&self, ps: &[f64]) -> Result<Percentiles, BadPercentile> {
        self.shared.send_lag.percentiles(ps)
    }

    /// Closes every connection (close frame, then TCP close; at most 2 s) and joins the thread.
    /// Idempotent.
    pub fn stop(&self) {
        self.control.stop.store(true, Relaxed);
        self.control.waker.wake();
        let thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = thread {
            // The pool thread does not panic by design; if it did, the counters say where it was.
            let _ = thread.join();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The pool thread.
fn run(mut env: Env, control: &Control, addr: SocketAddr, rate: f64, linger: Duration) {
    if !env.speakers.is_empty() {
        // Where it is not allowed, the speakers' lag says how far the machine held them back.
        env.shared.scheduling.store(sys::prefer_this_thread() as u8, Relaxed);
    }
    let mut conns: Vec<Conn> = (0..env.shared.cells.len()).map(Conn::new).collect();
    let mut events = sys::empty_events(EVENTS_PER_WAIT);
    let started_at = Instant::now();
    let (mut started, mut last_sweep, mut last_cpu) = (0, started_at, started_at);
    let mut stop_deadline: Option<Instant> = None;
    let mut next_slot = 0;
    let mut found_work = false;
    loop {
        let now = Instant::now();
        if stop_deadline.is_none() && control.stop.load(Relaxed) {
            conns.iter_mut().for_each(|conn| conn.begin_close(&mut env));
            stop_deadline = Some(now + CLOSE_TIMEOUT);
        }
        let due = if stop_deadline.is_some() {
            started
        } else {
            let by_now = (now.duration_since(started_at).as_secs_f64() * rate) as usize + 1;
            conns.len().min(by_now).min(started + STARTS_PER_PASS)
        };
        for conn in &mut conns[started..due] {
            conn.start(&mut env, &addr);
        }
        started = due;
        if now.duration_since(last_sweep) >= SWEEP_EVERY || stop_deadline.is_some() {
            conns.iter_mut().for_each(|conn| conn.check_timeout(&mut env, now));
            last_sweep = now;
        }
        if now.duration_since(last_cpu) >= IDLE_WAIT {
            env.shared.counters.cpu_us.store(sys::thread_cpu_us(), Relaxed);
            last_cpu = now;
        }
        if let Some(deadline) = stop_deadline {
            if conns.iter().all(Conn::is_done) {
                break;
            }
            if now >= deadline {
                conns.iter_mut().for_each(|conn| conn.abandon(&mut env));
                break;
            }
        }
        let mut wait = if started < conns.len() && stop_deadline.is_none() {
            let next = started_at + Duration::from_secs_f64(started as f64 / rate);
            match next.checked_duration_since(now) {
                Some(until) => until.clamp(Duration::from_millis(1), IDLE_WAIT),
                None => Duration::ZERO, // behind: start the next ones as soon as these are seen to
            }
        } else {
            IDLE_WAIT
        };
        // The linger's ceiling: the wait's, or the next slot's due time to the µs (the wait rounds up).
        let mut nap_ceiling = wait;
        if stop_deadline.is_none()
            && let Some(t0_us) = env.shared.pace.running()
        {
            let until_next_us = speak(&mut env, &mut conns, t0_us, &mut next_slot);
            wait = wait.min(Duration::from_millis(until_next_us.div_ceil(1000)));
            nap_ceiling = wait.min(Duration::from_micros(until_next_us));
        }
        if found_work && stop_deadline.is_none() && !linger.is_zero() {
            let nap = linger.min(nap_ceiling);
            std::thread::sleep(nap);
            wait -= nap;
        }
        let ready = match env.poller.wait(&mut events, wait.as_millis() as i32) {
            Ok(ready) => ready,
            Err(e) => {
                fail_all(&mut env, &mut conns, &format!("epoll_wait: {e}"));
                break;
            }
        };
        // A full batch: more is ready now, so no lingering before the next wait.
        found_work = ready > 0 && ready < events.len();
        for event in &events[..ready] {
            let (token, flags) = (event.u64, event.events);
            if token == WAKE_TOKEN {
                control.waker.drain();
            } else {
                conns[token as usize].on_ready(&mut env, flags);
            }
        }
    }
    env.shared.counters.cpu_us.store(sys::thread_cpu_us(), Relaxed);
}

/// A pool of speakers: sends every slot due by now (from `next_slot` on) from every speaker that
/// has a packet for it, marks the slots sent and records how late each of the window left.
/// Returns the µs until the next slot is due.
fn speak(env: &mut Env, conns: &mut [Conn], t0_us: u64, next_slot: &mut u64) -> u64 {
    let (due, next_due_us) = speech::due(t0_us, *next_slot, sys::unix_us());
    for slot in due.clone() {
        let due_us = speech::due_at(t0_us, slot);
        for (index, conn) in conns.iter_mut().enumerate() {
            if !conn.send_audio(env, t0_us, slot) {
                continue;
            }
            let shared = &*env.shared;
            if slot < shared.clock.1 {
                shared.cells[index].slots.set(slot);
            }
            bump(&shared.counters.sent, 1);
            if shared.window.contains(slot) {
                let lag = sys::unix_us().saturating_sub(due_us);
                shared.send_lag.record(lag);
                if lag > LATE_SEND_US {
                    bump(&shared.counters.late_sends, 1);
                }
            }
        }
    }
    *next_slot = due.end;
    next_due_us.saturating_sub(sys::unix_us())
}

/// The loop cannot go on: every listener still running ends with `why`.
fn fail_all(env: &mut Env, conns: &mut [Conn], why: &str) {
    for (index, conn) in conns.iter_mut().enumerate() {
        if !conn.is_done() {
            env.shared.cells[index].set_error(why);
            let state = if env.shared.cells[index].state() == ListenerState::Joined {
                ListenerState::Closed
            } else {
                ListenerState::Failed
            };
            env.shared.set_state(index, state);
            conn.abandon(env);
        }
    }
}
