//! The space driver: a small pool of tick threads for the whole server that
//! ticks every talking space's mixer every 20 ms and hands the frames straight
//! to the fan-out. A space where nobody talks costs no thread and no wake-up.
//!
//! Why threads, and not the event loop: the audio clock must not wait for
//! anything the event loop does. In Python, a burst of joins, a slow request,
//! or a garbage collection of a heap holding 10,000 connections (700 ms,
//! measured) stops the loop; a tick driven from it stops too, and every
//! listener hears it. Here nothing on the audio path takes the GIL: packets
//! reach the mixer through its ingress lock, frames leave through the
//! fan-out's queues.
//!
//! Why a shared pool, not a thread per space. A thread per live space, parked
//! while idle, cost 10,000 threads for 10,000 live spaces (an OS thread is a
//! kernel task and a stack: tens of KiB resident each, and thread limits). A
//! thread started for each talk spurt and ended after it would still mean a
//! spawn per spurt and a context switch per space per tick. A pool serves any
//! number of spaces: a space is an entry in one queue ordered by deadline,
//! present only while its mixer is active. Ticks cost at most about 2.5 ms (13
//! talkers; silence and pass-through far less), so on a machine of its own two
//! threads keep dozens of talking spaces on time, and one slow tick delays only
//! the spaces due behind it. On a machine shared with other work, the OS gives
//! each runnable thread its share, and two threads get too little of it: the
//! pool adds a thread whenever a tick is taken late, up to one per talking
//! space (what the thread-per-space design had) or `max_threads`, and an added
//! thread ends after 5 s without work (`pool.rs`). Idle: one thread sleeps
//! until the earliest deadline, the others until told there is work, and a silent space is a few hundred bytes of
//! registration (`space.rs`).
//!
//! Order of work per tick of one space: `Mixer::tick` (drain ingress, decode,
//! gate, mix, encode), then the frames join the batches (the audience's shared
//! stream, and each routed speaker's own: its mix-minus while it is in the
//! mix, the shared mix otherwise): each speaker's goes out at once, one
//! `send_audio` a tick; the audience's is batched, and every N ticks encoded
//! once as an `audio` message and queued with one `broadcast_audio` for the
//! audience group, N chosen per space from the audience's size (`batching`);
//! then, if the voices in the mix changed, a `speaking` message for everyone
//! in the space (`speaking`: at most 4 a second).
//! Last, while the space records, the tick hands its `Recorder` one packet
//! (`record.rs`: the listeners' frame, the recording's own mix, or silence),
//! which a second's page at a time goes to the recording's writer thread.
//!
//! Timing: a space's first tick comes one frame after the packet that woke it
//! (playout delay), rounded up to the pool's 2 ms grid so that spaces share
//! deadlines and a thread's wake-up serves several (`pool.rs`), then every
//! 20 ms on a monotonic clock. A recording space
//! ticks all the while (its file keeps the space's time); a mixer that wakes
//! then plays from the tick after the one that found it awake, for the same
//! playout delay. A late tick is
//! caught up at once; more than `MAX_BEHIND` late, the missed ticks are skipped
//! and counted into the frames' `seq`, so listeners see the gap. Once its
//! mixer is inactive a space sends what is batched (and, once the rate
//! allows, that nobody talks) and leaves the queue; the next accepted packet
//! (`Driver::notify`) puts it back. A space is in the queue at most once and
//! put back only after its tick, so no two threads ever tick it at the same
//! time. Lock order: a space's state, then its mixer's locks (released before
//! its speaking set is taken), then the fan-out's; the queue's lock is held
//! alone.

#![forbid(unsafe_code)]

mod batch;
mod batching;
mod pool;
mod pressure;
mod record;
mod space;
mod speakers;
mod speaking;
mod tick_times;
mod wire;

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub use batching::{Batching, DOWN_PERCENT, LISTENERS_PER_FRAME, STEPS};
pub use pool::{TickPool, default_max_threads};
pub use record::RecordError;
pub use recording::{RecordingStats, repair};
pub use space::{Driver, DriverStats};
pub use speakers::{Pushed, SpeakerRoutes};
pub use speaking::{MIN_INTERVAL as SPEAKING_MIN_INTERVAL, Speaking};
pub use tick_times::{PoolStats, TICK_BUCKETS_US};
pub use wire::{WireFrame, encode_audio};

pub const FRAME: Duration = Duration::from_millis(20);
/// Further behind than this, missed ticks are skipped rather than caught up.
pub const MAX_BEHIND: Duration = Duration::from_millis(200);
pub const MAX_FRAMES_PER_MESSAGE: usize = 10;

thread_local! {
    /// Inside `contained` on this thread.
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, catching a panic in it (a bug): `Err` with its message. For the work of one unit on a thread
/// that serves many (a space's tick on a pool thread, one connection's bytes on the reader): the caller
/// fails that unit alone and the thread goes on with the others.
pub fn contained<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    let outer = CONTAINED.with(|inside| inside.replace(true)); // nested: still inside the outer one after
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|inside| inside.set(outer));
    result.map_err(|payload| panic_message(&*payload))
}

/// Whether this thread runs `contained` work now: a panic hook tells a panic that will be caught, and
/// fail one unit, from one that ends its thread.
pub fn in_contained() -> bool {
    CONTAINED.with(Cell::get)
}

/// A panic's message, from its payload (`panic!` with a literal or a format), or a placeholder.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
