//! The space driver: one thread per live space that ticks the space's mixer
//! every 20 ms and hands the frames straight to the fan-out.
//!
//! Why a thread of its own: the audio clock must not wait for anything the
//! event loop does. In Python, a burst of joins, a slow request, or a garbage
//! collection of a heap holding 10,000 connections (700 ms, measured) stops
//! the loop; a tick driven from it stops too, and every listener hears it.
//! Here nothing on the audio path takes the GIL: packets reach the mixer
//! through its ingress lock, frames leave through the fan-out's queues.
//!
//! Order of work per tick: `Mixer::tick` (drain ingress, decode, gate, mix,
//! encode), then the frames join the batches (the audience's shared stream,
//! and each routed speaker's own: its mix-minus while it is in the mix, the
//! shared mix otherwise); every `frames_per_message` ticks each batch is
//! encoded once as an `audio` message and queued: one `broadcast_audio` for
//! the audience group, one `send_audio` per speaker.
//!
//! Timing: deadlines on a monotonic clock, 20 ms apart, from the first tick
//! after one frame of playout delay. A late tick is caught up at once; more
//! than `MAX_BEHIND` late, the missed ticks are skipped and counted into the
//! frames' `seq`, so listeners see the gap. While the mixer is inactive the
//! thread parks on a condition variable until `notify` (idle costs nothing).

mod wire;

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use fanout::Fanout;
use mixer_core::{Mixer, TickOutput};

pub use wire::{WireFrame, encode_audio};

pub const FRAME: Duration = Duration::from_millis(20);
/// Further behind than this, missed ticks are skipped rather than caught up.
pub const MAX_BEHIND: Duration = Duration::from_millis(200);
pub const MAX_FRAMES_PER_MESSAGE: usize = 10;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counters of a driver since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverStats {
    pub ticks: u64,
    pub skipped_ticks: u64,
    pub messages: u64,
    pub tick_errors: u64,
}

struct Shared {
    mixer: Arc<Mixer>,
    fanout: Arc<Fanout>,
    audience_group: u64,
    frames_per_message: usize,
    /// Speaker input id -> the connection that hears its own stream.
    routes: Mutex<BTreeMap<u64, u64>>,
    woken: Mutex<bool>,
    wake: Condvar,
    stop: AtomicBool,
    next_seq: AtomicU64,
    ticks: AtomicU64,
    skipped: AtomicU64,
    messages: AtomicU64,
    tick_errors: AtomicU64,
}

/// A running driver; `stop` (or drop) ends its thread after a last flush.
pub struct Driver {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Driver {
    /// Starts the thread. Frames are numbered from `first_seq` (a restarted
    /// space continues where its previous driver stopped).
    pub fn start(
        mixer: Arc<Mixer>,
        fanout: Arc<Fanout>,
        audience_group: u64,
        frames_per_message: usize,
        first_seq: u64,
    ) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            mixer,
            fanout,
            audience_group,
            frames_per_message: frames_per_message.clamp(1, MAX_FRAMES_PER_MESSAGE),
            routes: Mutex::new(BTreeMap::new()),
            woken: Mutex::new(false),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            next_seq: AtomicU64::new(first_seq),
            ticks: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            tick_errors: AtomicU64::new(0),
        });
        let for_thread = Arc::clone(&shared);
        let thread = thread::Builder::new().name("stoa-space".into()).spawn(move || run(&for_thread, first_seq))?;
        Ok(Self { shared, thread: Mutex::new(Some(thread)) })
    }

    /// From the next flush on, speaker `input` hears its own stream on `conn`.
    pub fn route(&self, input: u64, conn: u64) {
        lock(&self.shared.routes).insert(input, conn);
    }

    pub fn unroute(&self, input: u64) {
        lock(&self.shared.routes).remove(&input);
    }

    /// Packets were pushed: wake the thread if it is parked.
    pub fn notify(&self) {
        *lock(&self.shared.woken) = true;
        self.shared.wake.notify_one();
    }

    /// The `seq` the next frame will carry.
    pub fn next_seq(&self) -> u64 {
        self.shared.next_seq.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> DriverStats {
        let s = &self.shared;
        DriverStats {
            ticks: s.ticks.load(Ordering::Relaxed),
            skipped_ticks: s.skipped.load(Ordering::Relaxed),
            messages: s.messages.load(Ordering::Relaxed),
            tick_errors: s.tick_errors.load(Ordering::Relaxed),
        }
    }

    /// Ends the thread (after flushing what is batched) and waits for it. Idempotent.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.notify();
        if let Some(thread) = lock(&self.thread).take() {
            // A panic in the driver is a bug; the panic hook has reported it.
            let _ = thread.join();
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(shared: &Shared, first_seq: u64) {
    let mut batch = Batch::default();
    // The mixer counts its ticks from 0; frames count on from `first_seq`.
    let mut offset = first_seq;
    while park(shared) {
        thread::sleep(FRAME); // one frame of playout delay: each talker's next packet is usually there
        let mut deadline = Instant::now();
        while shared.mixer.is_active() && !shared.stop.load(Ordering::SeqCst) {
            match shared.mixer.tick() {
                Ok(out) => {
                    let seq = out.seq + offset;
                    shared.next_seq.store(seq + 1, Ordering::Relaxed);
                    shared.ticks.fetch_add(1, Ordering::Relaxed);
                    batch.add(seq, &out, &lock(&shared.routes));
                    if batch.ticks >= shared.frames_per_message {
                        batch.flush(shared);
                    }
                }
                Err(_) => {
                    shared.tick_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            deadline += FRAME;
            let now = Instant::now();
            if now > deadline + MAX_BEHIND {
                let missed = ((now - deadline).as_micros() / FRAME.as_micros()) as u32;
                offset += u64::from(missed);
                shared.skipped.fetch_add(u64::from(missed), Ordering::Relaxed);
                deadline += FRAME * missed;
            }
            if let Some(wait) = deadline.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
        }
        batch.flush(shared);
    }
}

/// Waits until there is audio to mix (true) or the driver stops (false).
fn park(shared: &Shared) -> bool {
    let mut woken = lock(&shared.woken);
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        if *woken || shared.mixer.is_active() {
            *woken = false;
            if shared.mixer.is_active() {
                return true;
            }
        }
        woken = shared.wake.wait(woken).unwrap_or_else(PoisonError::into_inner);
    }
}

/// Frames waiting to be sent: the audience's, and each routed speaker's own.
#[derive(Default)]
struct Batch {
    ticks: usize,
    shared: Vec<WireFrame>,
    own: BTreeMap<u64, (u64, Vec<WireFrame>)>, // input -> (conn, frames)
}

impl Batch {
    fn add(&mut self, seq: u64, out: &TickOutput, routes: &BTreeMap<u64, u64>) {
        self.ticks += 1;
        let frame = |opus: &Vec<u8>| WireFrame { seq, captured_at: out.captured_at, opus: opus.clone() };
        if let Some(shared) = &out.shared {
            self.shared.push(frame(shared));
        }
        for (&input, &conn) in routes {
            let opus = if out.mixed.contains(&input) {
                out.minus.iter().find(|(id, _)| *id == input).map(|(_, opus)| opus)
            } else {
                out.shared.as_ref()
            };
            if let Some(opus) = opus {
                let entry = self.own.entry(input).or_insert_with(|| (conn, Vec::new()));
                entry.0 = conn;
                entry.1.push(frame(opus));
            }
        }
    }

    fn flush(&mut self, shared: &Shared) {
        self.ticks = 0;
        if !self.shared.is_empty() {
            let message = encode_audio(&self.shared);
            // An unknown group means the space is closing: nothing left to hear it.
            let _ = shared.fanout.broadcast_audio(shared.audience_group, &message);
            shared.messages.fetch_add(1, Ordering::Relaxed);
            self.shared.clear();
        }
        for (_, (conn, frames)) in std::mem::take(&mut self.own) {
            if !frames.is_empty() {
                shared.fanout.send_audio(conn, &encode_audio(&frames));
                shared.messages.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
