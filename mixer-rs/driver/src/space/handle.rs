//! `Driver`, a space's owner's handle on its registration: start, speakers'
//! routes, who is talking, recording, stats, stop. A child of `space`, so it
//! reaches the `Slot`'s state the pool ticks.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use fanout::Fanout;
use mixer_core::Mixer;

use super::{Slot, SlotState};
use crate::batch::Batch;
use crate::batching::Batching;
use crate::lock;
use crate::pool::{PoolShared, TickPool};
use crate::speakers::SpeakerRoutes;
use crate::speaking::Speaking;
use crate::wire::audio_prefix;

/// Counters of a driver since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverStats {
    pub ticks: u64,
    pub skipped_ticks: u64,
    pub messages: u64,
    pub tick_errors: u64,
    /// Frames per message of the audience's stream now.
    pub frames_per_message: usize,
    /// Times the frames per message changed.
    pub batch_switches: u64,
}

/// A space's driver; `stop` (or drop) sends what is batched and unregisters it.
pub struct Driver {
    pub(crate) slot: Arc<Slot>,
    pub(crate) pool: Arc<PoolShared>,
    speakers: Arc<SpeakerRoutes>,
}

impl Driver {
    /// Registers a space with `pool`. Frames are numbered from `first_seq` (a
    /// restarted space continues where its previous driver stopped); the
    /// audience's frames per message follow `batching`.
    pub fn start(
        pool: &TickPool,
        mixer: Arc<Mixer>,
        fanout: Arc<Fanout>,
        audience_group: u64,
        batching: Batching,
        first_seq: u64,
    ) -> Self {
        let batch = Batch::new(batching);
        let stream = fanout.open_stream(audience_group, &audio_prefix(), batching.max_frames());
        let slot = Arc::new(Slot {
            mixer,
            fanout,
            audience_group,
            stream,
            server: Arc::clone(&pool.shared.load),
            frames_per_message: AtomicUsize::new(batch.frames()),
            batch_switches: AtomicU64::new(0),
            routes: Mutex::new(BTreeMap::new()),
            scheduled: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            recording: AtomicBool::new(false),
            recording_stats: Mutex::new(None),
            state: Mutex::new(SlotState { batch, next_seq: first_seq, recording: None, idle: false }),
            next_seq: AtomicU64::new(first_seq),
            queued_for: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            tick_errors: AtomicU64::new(0),
            speaking: Mutex::new(None),
            failure: Mutex::new(None),
            panic_next: AtomicBool::new(false),
        });
        let driver = Self { slot, pool: Arc::clone(&pool.shared), speakers: Arc::clone(&pool.routes) };
        driver.notify(); // a mixer that outlived a previous driver may hold packets already
        driver
    }

    /// Speaker `input` is at connection `conn`: from the next flush on it
    /// hears its own stream there, and from now on the `audio` that `conn`
    /// sends goes to `input` (the pool's `SpeakerRoutes`). A route `input` had
    /// to another connection is replaced.
    pub fn route(&self, input: u64, conn: u64) {
        let old = lock(&self.slot.routes).insert(input, conn);
        if let Some(old) = old.filter(|&old| old != conn) {
            self.speakers.clear(old, &self.slot, input);
        }
        self.speakers.set(conn, &self.slot, &self.pool, input);
    }

    /// Speaker `input` has no connection here any more (it left, was muted,
    /// moved off the mic, or reconnected): its stream and its audio stop.
    pub fn unroute(&self, input: u64) {
        if let Some(conn) = lock(&self.slot.routes).remove(&input) {
            self.speakers.clear(conn, &self.slot, input);
        }
    }

    /// From now on, whenever the voices in the mix change, everyone in fan-out
    /// group `everyone` is told who talks in `space_id` (`speaking.rs`).
    pub fn tell_speaking(&self, space_id: &str, everyone: u64) {
        *lock(&self.slot.speaking) = Some(Speaking::new(space_id, everyone));
    }

    /// Mixer input `input` speaks for user `user` (told by that id when it talks).
    pub fn name_input(&self, input: u64, user: &str) {
        if let Some(speaking) = lock(&self.slot.speaking).as_mut() {
            speaking.name(input, user);
        }
    }

    /// Input `input` is gone: no longer named.
    pub fn forget_input(&self, input: u64) {
        if let Some(speaking) = lock(&self.slot.speaking).as_mut() {
            speaking.forget(input);
        }
    }

    /// Queues who talks now for connection `conn`, a newcomer (after its
    /// `joined`), unless nobody does. Under the same lock as the changes, so
    /// `conn` gets the sets in the order they were sent.
    pub fn send_speaking(&self, conn: u64) {
        let speaking = lock(&self.slot.speaking);
        if let Some(message) = speaking.as_ref().and_then(Speaking::current) {
            self.slot.fanout.send(conn, &message);
        }
    }

    /// `speaking` messages sent to everyone so far.
    pub fn speaking_messages(&self) -> u64 {
        lock(&self.slot.speaking).as_ref().map_or(0, Speaking::messages)
    }

    /// Packets were pushed: start ticking if quiet. Costs one atomic load when
    /// the space is ticking already (every packet but a talk spurt's first).
    pub fn notify(&self) {
        self.slot.notify(&self.pool);
    }

    /// The `seq` the next frame will carry.
    pub fn next_seq(&self) -> u64 {
        self.slot.next_seq.load(Ordering::Relaxed)
    }

    /// Why the space's tick failed (a panic's message: a bug), once it has; the space is then stopped,
    /// and its owner should end it (the server ends it as `failed`).
    pub fn failure(&self) -> Option<String> {
        lock(&self.slot.failure).clone()
    }

    /// For tests of a failing tick: the space's next tick panics.
    pub fn inject_panic(&self) {
        self.slot.panic_next.store(true, Ordering::Relaxed);
    }

    pub fn stats(&self) -> DriverStats {
        let s = &self.slot;
        DriverStats {
            ticks: s.ticks.load(Ordering::Relaxed),
            skipped_ticks: s.skipped.load(Ordering::Relaxed),
            messages: s.messages.load(Ordering::Relaxed),
            tick_errors: s.tick_errors.load(Ordering::Relaxed),
            frames_per_message: s.frames_per_message.load(Ordering::Relaxed),
            batch_switches: s.batch_switches.load(Ordering::Relaxed),
        }
    }

    /// No more ticks and no more routes; what is batched is sent now (after a tick under way
    /// ends), and a recording is finished. Idempotent.
    pub fn stop(&self) {
        // A failed space was stopped by its tick thread, but its routes and recording are still to go.
        let failed = lock(&self.slot.failure).is_some();
        if self.slot.stopped.swap(true, Ordering::SeqCst) && !failed {
            return;
        }
        let routes = std::mem::take(&mut *lock(&self.slot.routes));
        for (input, conn) in routes {
            self.speakers.clear(conn, &self.slot, input);
        }
        {
            let mut st = lock(&self.slot.state);
            if !failed {
                self.slot.flush(&mut st); // not a failed tick's batch: it may be half changed
            }
            st.batch.withdraw(&self.slot.server);
            self.slot.next_seq.store(st.next_seq, Ordering::Relaxed);
        }
        self.stop_recording();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop();
    }
}
