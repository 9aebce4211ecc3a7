//! `Mixer`: a space's mixer, safe to share between the network thread that
//! pushes packets and the worker thread that runs ticks. It pairs the ingress
//! (its own short lock) with the engine (locked for a whole tick).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::engine::Engine;
use crate::gate::{LEVEL_FLOOR_DBFS, MAX_MIXED_LIMIT};
use crate::ingress::{Accepted, Ingress};
use crate::input::Input;
use crate::output::{Counters, DropReason, MixerStats, TickOutput, bump};
use crate::queue::Frame;
use crate::{MAX_PACKET_BYTES, MixerError};

/// A mixer's settings, fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixerConfig {
    /// Opus bitrate of every output, in bit/s.
    pub bitrate: i32,
    /// Opus encoder complexity, 0-10.
    pub complexity: i32,
    /// Packets an input may hold ahead of playing (at 20 ms each).
    pub max_queue: usize,
    /// Ticks of loss concealment after an input's last real packet before it
    /// counts as idle (drops out of the mix).
    pub hangover_ticks: u32,
    /// The most talkers one tick mixes, the loudest first (1..=13); the
    /// others' packets are still decoded, but left out of the mix.
    pub max_mixed: usize,
    /// Frames below this level (dBFS, -127..=0) are silence: an input talks
    /// only while its frames reach it, and silence is never mixed or encoded.
    pub silence_dbfs: i32,
    /// Ticks an input stays talking after its last loud frame, so that the
    /// gaps between words do not cut it out of the mix.
    pub hold_ticks: u32,
}

impl Default for MixerConfig {
    fn default() -> Self {
        Self {
            bitrate: 32_000,
            complexity: 5,
            max_queue: 6,
            hangover_ticks: 5,
            max_mixed: 4,
            silence_dbfs: -50,
            hold_ticks: 10,
        }
    }
}

/// The largest `max_queue` accepted: 5 s of audio is no longer a jitter buffer.
pub const MAX_QUEUE_LIMIT: usize = 250;

/// A space's mixer.
///
/// `push`, `add_input`, `remove_input`, `set_consent`, `has_input`,
/// `is_active` and `stats` never wait for a running `tick`; they take effect
/// from the next tick on.
pub struct Mixer {
    config: MixerConfig,
    ingress: Mutex<Ingress>,
    engine: Mutex<Engine>,
    counters: Counters,
    /// Whether the engine may have audio: set when a tick drains packets,
    /// and to the engine's own `is_active` when each tick ends.
    engine_active: AtomicBool,
}

/// Locks, carrying on past a poisoned lock: every critical section here
/// leaves its data consistent at each step, so a panic elsewhere in it does
/// not make the data wrong.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Mixer {
    pub fn new(config: MixerConfig) -> Result<Self, MixerError> {
        if !(1..=MAX_QUEUE_LIMIT).contains(&config.max_queue) {
            return Err(MixerError::BadArgument { name: "max_queue", reason: "must be 1..=250" });
        }
        if !(1..=MAX_MIXED_LIMIT).contains(&config.max_mixed) {
            return Err(MixerError::BadArgument { name: "max_mixed", reason: "must be 1..=13" });
        }
        if !(LEVEL_FLOOR_DBFS..=0).contains(&config.silence_dbfs) {
            return Err(MixerError::BadArgument { name: "silence_dbfs", reason: "must be -127..=0" });
        }
        Ok(Self {
            config,
            // The engine checks bitrate and complexity as it builds its encoder.
            engine: Mutex::new(Engine::new(&config)?),
            ingress: Mutex::new(Ingress::new(config.max_queue * 2)),
            counters: Counters::default(),
            engine_active: AtomicBool::new(false),
        })
    }

    pub fn config(&self) -> &MixerConfig {
        &self.config
    }

    /// Makes `id` an input (a speaker); no-op if it is one.
    ///
    /// Costs no codec state until it talks: its decoder is built at its first
    /// packet, its mix-minus encoder the first time it is mixed with others.
    /// Never fails today; the `Result` keeps room for settings checked here.
    pub fn add_input(&self, id: u64) -> Result<(), MixerError> {
        if self.has_input(id) {
            return Ok(());
        }
        let input = Input::new(self.config.max_queue, self.config.bitrate, self.config.complexity);
        lock(&self.ingress).add(id, input);
        Ok(())
    }

    /// Removes input `id` at once: its queued packets are dropped, `push` to
    /// it is refused from now on, and its voice is absent from the next tick
    /// that starts after this call. No-op if absent.
    pub fn remove_input(&self, id: u64) {
        let dropped = lock(&self.ingress).remove(id);
        self.counters.drop(DropReason::Removed, dropped as u64);
    }

    pub fn has_input(&self, id: u64) -> bool {
        lock(&self.ingress).contains(id)
    }

    /// Whether input `id`'s voice may enter a recording (default: it may not).
    /// Takes effect from the next tick that starts after this call; an id that
    /// is not an input yet keeps it for when it becomes one, and removing an
    /// input forgets it.
    pub fn set_consent(&self, id: u64, consent: bool) {
        lock(&self.ingress).set_consent(id, consent);
    }

    /// Queues one Opus packet from input `id` for a coming tick.
    ///
    /// Refuses a packet over `MAX_PACKET_BYTES` before looking at anything
    /// else; returns false (and drops the packet) when `id` is not an input.
    pub fn push(&self, id: u64, mut frame: Frame) -> Result<bool, MixerError> {
        if frame.packet.len() > MAX_PACKET_BYTES {
            return Err(MixerError::PacketTooLarge { len: frame.packet.len() });
        }
        frame.arrived_at.get_or_insert_with(Instant::now);
        let leveled = frame.level.is_some();
        let accepted = lock(&self.ingress).push(id, frame);
        match accepted {
            Accepted::Unknown => {
                self.counters.drop(DropReason::NoInput, 1);
                return Ok(false);
            }
            Accepted::Queued => {}
            Accepted::QueuedDroppedOldest => self.counters.drop(DropReason::Overflow, 1),
        }
        bump(&self.counters.packets_in, 1);
        bump(&self.counters.packets_with_level, u64::from(leveled));
        Ok(true)
    }

    /// True while any input has packets waiting or is inside its hangover:
    /// the caller keeps ticking while true and stops when false. Packets of
    /// silence keep it true (their ticks are silent, and cost no encode).
    ///
    /// After a removal it may stay true until one more (silent) tick.
    pub fn is_active(&self) -> bool {
        // Read under the ingress lock: a tick that drains packets marks the
        // engine active under that same lock, so no moment reads as idle.
        let ingress = lock(&self.ingress);
        ingress.has_packets() || self.engine_active.load(Ordering::Acquire)
    }

    /// Runs one 20 ms tick. Driven by the caller's clock: no sleeping here.
    ///
    /// Fails only if libopus fails to encode valid PCM, which it does not
    /// with valid settings; the tick is then counted but its output lost.
    pub fn tick(&self) -> Result<TickOutput, MixerError> {
        self.run_tick(false)
    }

    /// `tick`, and the recording's frame too (`TickOutput::recording`): the
    /// voices mixed for listeners whose input consented, and only those.
    pub fn tick_recording(&self) -> Result<TickOutput, MixerError> {
        self.run_tick(true)
    }

    fn run_tick(&self, record: bool) -> Result<TickOutput, MixerError> {
        let mut engine = lock(&self.engine);
        let drained = {
            let mut ingress = lock(&self.ingress);
            if ingress.has_packets() {
                self.engine_active.store(true, Ordering::Release);
            }
            ingress.drain(engine.arrived())
        };
        engine.apply(drained, &self.counters);
        let result = engine.tick(&self.counters, record);
        let active = engine.is_active();
        if !active {
            engine.release();
            lock(&self.ingress).release();
        }
        self.engine_active.store(active, Ordering::Release);
        result
    }

    /// How many sets of Opus state the mixer holds now (its shared encoder,
    /// each playing input's codecs): 0 once it is quiet, however many inputs
    /// it has. Waits for a tick under way.
    pub fn codecs_held(&self) -> usize {
        lock(&self.engine).codecs_held()
    }

    pub fn stats(&self) -> MixerStats {
        self.counters.snapshot()
    }
}
