//! A space's registration with the `TickPool`: `Slot`, what the pool ticks
//! (its mixer, where its frames go, its frame numbering, its batch), here;
//! `Driver`, its owner's handle, in `handle`. It holds no thread: the pool
//! ticks it while anyone talks, and forgets it while nobody does.

mod handle;

pub use handle::{Driver, DriverStats};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use fanout::{Fanout, Stream};
use mixer_core::Mixer;
use recording::StatsReader;

use crate::batch::{Batch, Outlet};
use crate::pool::PoolShared;
use crate::pressure::ServerLoad;
use crate::record::{Running, record};
use crate::speaking::Speaking;
use crate::{FRAME, MAX_BEHIND, lock};

pub(crate) struct Slot {
    pub(crate) mixer: Arc<Mixer>,
    fanout: Arc<Fanout>,
    audience_group: u64,
    /// The audience group's stream, which each tick's shared frame is appended to (none if the group was gone).
    stream: Option<Arc<Stream>>,
    /// The server's audience (the pool's: `batching.rs`), which this space's joins while it talks,
    /// and the writers' pressure (`pressure.rs`).
    server: Arc<ServerLoad>,
    /// Speaker input id -> the connection that hears its own stream.
    routes: Mutex<BTreeMap<u64, u64>>,
    /// In the pool's queue or being ticked: never queued twice.
    scheduled: AtomicBool,
    /// The deadline it was last queued for, in ns since the pool's epoch; 0 while not queued (`next_tick`).
    pub(crate) queued_for: AtomicU64,
    pub(crate) stopped: AtomicBool,
    /// A recording is starting or running: the space ticks even while nobody talks.
    pub(crate) recording: AtomicBool,
    /// The running recording's figures, readable without waiting for a tick.
    pub(crate) recording_stats: Mutex<Option<StatsReader>>,
    /// What a tick changes; held for the whole tick, so `stop` waits for one under way.
    pub(crate) state: Mutex<SlotState>,
    next_seq: AtomicU64,
    ticks: AtomicU64,
    skipped: AtomicU64,
    messages: AtomicU64,
    tick_errors: AtomicU64,
    /// Copies of the batch's figures, readable without waiting for a tick.
    frames_per_message: AtomicUsize,
    batch_switches: AtomicU64,
    /// Who talks, told to everyone in the space (`speaking.rs`); none until `Driver::tell_speaking`.
    speaking: Mutex<Option<Speaking>>,
    /// Set when a tick panicked (a bug): the space ticks no more, and its owner ends it (`Driver::failure`).
    failure: Mutex<Option<String>>,
    /// For tests of that: the next tick panics (`Driver::inject_panic`).
    panic_next: AtomicBool,
}

pub(crate) struct SlotState {
    batch: Batch,
    next_seq: u64,
    pub(crate) recording: Option<Running>,
    /// The last tick found the mixer inactive (the space ticks for its recording alone).
    idle: bool,
}

impl Slot {
    pub(crate) fn mixer(&self) -> &Mixer {
        &self.mixer
    }

    /// Packets were pushed: start ticking if quiet. Costs one atomic load when
    /// the space is ticking already (every packet but a talk spurt's first).
    pub(crate) fn notify(self: &Arc<Self>, pool: &PoolShared) {
        // A stale `true` is harmless: the tick thread that clears it looks at the mixer again after.
        if self.scheduled.load(Ordering::Relaxed) {
            return;
        }
        if self.mixer.is_active() {
            self.wake(pool);
        }
    }

    /// Ticks once, for `deadline`; returns the next deadline, or `None` when the
    /// mixer has gone quiet (what was batched is then sent) and nothing is
    /// recorded, or the driver stopped.
    ///
    /// While recording, every tick hands the recorder one packet, mixer or
    /// not, so the file keeps the space's time. A mixer that wakes while the
    /// space ticks for its recording alone waits one tick before it plays:
    /// the playout delay a wake-up from the pool's queue gives (`wake`), so
    /// that its first packet has a frame's time to be joined by the next.
    pub(crate) fn tick(&self, deadline: Instant) -> Option<Instant> {
        let mut st = lock(&self.state);
        if self.stopped.load(Ordering::SeqCst) {
            return None;
        }
        if self.panic_next.swap(false, Ordering::Relaxed) {
            panic!("a panic injected by a test (Driver::inject_panic)");
        }
        let active = self.mixer.is_active();
        let recording = st.recording.is_some();
        let play = active && !st.idle;
        st.idle = !active && recording;
        let mut recorded = false;
        if play {
            match if recording { self.mixer.tick_recording() } else { self.mixer.tick() } {
                Ok(out) => {
                    let seq = st.next_seq;
                    st.next_seq += 1;
                    self.ticks.fetch_add(1, Ordering::Relaxed);
                    let sent = st.batch.add(
                        seq,
                        &out,
                        &lock(&self.routes),
                        &self.outlet(),
                        self.audience_group,
                        &self.server,
                    );
                    self.sent(&st, sent);
                    self.speak(&out.mixed, seq, deadline);
                    if let Some(running) = &mut st.recording {
                        record(&mut running.recorder, Some(&out));
                        recorded = true;
                    }
                }
                Err(_) => {
                    self.tick_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if let Some(running) = st.recording.as_mut().filter(|_| !recorded) {
            record(&mut running.recorder, None);
        }
        let mut next = deadline + FRAME;
        let now = Instant::now();
        if now > next + MAX_BEHIND {
            let missed = ((now - next).as_micros() / FRAME.as_micros()) as u32;
            st.next_seq += u64::from(missed);
            self.skipped.fetch_add(u64::from(missed), Ordering::Relaxed);
            next += FRAME * missed;
            if let Some(running) = &mut st.recording {
                // The recording keeps the space's time: what was skipped is silence there.
                running.recorder.push_silence(u64::from(missed));
            }
        }
        self.next_seq.store(st.next_seq, Ordering::Relaxed);
        if self.mixer.is_active() {
            return Some(next);
        }
        self.flush(&mut st);
        // Quiet: its audience no longer counts in the server's, recording or not.
        st.batch.withdraw(&self.server);
        // A quiet mixer has no talkers; the space stays queued until that has been told, and while it records.
        let untold = self.speak(&[], st.next_seq, deadline);
        if untold || st.recording.is_some() {
            return Some(next);
        }
        st.idle = false;
        None
    }

    /// This tick's talkers, told to everyone when they changed (at most one
    /// message per `speaking::MIN_INTERVAL`); returns whether a change still waits.
    fn speak(&self, mixed: &[u64], frame_seq: u64, now: Instant) -> bool {
        let mut speaking = lock(&self.speaking);
        let Some(speaking) = speaking.as_mut() else { return false };
        if let Some(message) = speaking.observe(mixed, frame_seq, now) {
            // A member this overflows is closing already, and the fan-out reports it.
            let _ = self.fanout.broadcast(speaking.group(), &message);
        }
        speaking.pending()
    }

    /// The deadline of its next tick not yet taken, while it ticks: what the wire's reader reads its speakers
    /// together for (`SpeakerRoutes::push`). Behind now while a late tick thread has not taken it yet (a
    /// packet pushed then still plays at it); the one after while that tick runs.
    pub(crate) fn next_tick(&self, pool: &PoolShared) -> Option<Instant> {
        let queued_for = self.queued_for.load(Ordering::Relaxed);
        (queued_for != 0).then(|| pool.epoch + std::time::Duration::from_nanos(queued_for))
    }

    /// Ticks skipped so far (see `tick`).
    pub(crate) fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    fn flush(&self, st: &mut SlotState) {
        let sent = st.batch.flush(&self.outlet(), self.audience_group, &self.server);
        self.sent(st, sent);
    }

    fn outlet(&self) -> Outlet<'_> {
        Outlet { fanout: &self.fanout, stream: self.stream.as_deref() }
    }

    fn sent(&self, st: &SlotState, messages: u64) {
        self.messages.fetch_add(messages, Ordering::Relaxed);
        self.frames_per_message.store(st.batch.frames(), Ordering::Relaxed);
        self.batch_switches.store(st.batch.switches, Ordering::Relaxed);
    }

    /// Queues a first tick one frame from now (the playout delay: each talker's
    /// next packet is then usually there when needed), on the pool's grid, unless already queued.
    pub(crate) fn wake(self: &Arc<Self>, pool: &PoolShared) {
        if self.stopped.load(Ordering::SeqCst) || self.scheduled.load(Ordering::Relaxed) {
            return;
        }
        if !self.scheduled.swap(true, Ordering::SeqCst) {
            pool.talking.fetch_add(1, Ordering::Relaxed);
            pool.schedule(Arc::clone(self), pool.first_deadline(Instant::now()));
        }
    }

    /// A tick panicked with `what`: the space is stopped (never ticked again) and its failure kept for its
    /// owner. Its state may be half changed, so nothing of it is sent or used after.
    pub(crate) fn fail(&self, what: String) {
        lock(&self.failure).get_or_insert(what);
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// After a tick that found the mixer quiet: out of the queue, unless a
    /// packet came in meanwhile (its `notify` saw the space still scheduled).
    pub(crate) fn went_quiet(self: &Arc<Self>, pool: &PoolShared) {
        self.queued_for.store(0, Ordering::Relaxed);
        self.scheduled.store(false, Ordering::SeqCst);
        pool.talking.fetch_sub(1, Ordering::Relaxed);
        // A recording that started meanwhile found the space still scheduled, as a packet would.
        if self.mixer.is_active() || self.recording.load(Ordering::SeqCst) {
            self.wake(pool);
        }
    }
}
