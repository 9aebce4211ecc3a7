//! `TickPool`: a few threads that tick every talking space of the server, each
//! at its own 20 ms deadlines, from one deadline-ordered queue. It starts with
//! `threads` of them, adds one whenever a space's tick is taken late (up to
//! `max_threads`, and never more than there are talking spaces), and an added
//! thread ends after 5 s without work. So a server where nobody talks keeps
//! its `threads`, and a machine whose cores are shared with other work still
//! gets its ticks done: the OS shares a core among runnable threads, so two
//! threads competing with many others get too small a share (measured on a
//! loaded 2-core machine: 20 talking spaces on 2 fixed threads lost a fifth of
//! their frames; on 16, none).
//!
//! But not many more than the cores: `default_max_threads` is twice them,
//! within 4 to 64. On a saturated machine ticks are always somewhat late, so
//! the pool grows to its bound, and past a few threads each added one costs
//! more than it brings: the threads contend for the queue's lock and malloc's, are
//! preempted mid-tick with the spaces they hold, and touch more cache. 200
//! conversation spaces on 2 cores (`bench.spaces_bench`, one run each, side by
//! side): at most 64 threads, 97.6-98.3% coverage, the server's queues
//! overflowing 85-134 packets a second; at most 8, 99.69%; at most 4, 99.80%,
//! with no packet dropped, and the tick threads' CPU from 0.34 to 0.25 core;
//! at most 2, 98.0% (ticks skipped). One run each, on a quiet machine; the
//! loaded-machine case above was not measured again with the bound.
//!
//! Wake-ups cost more than ticks here (a silent or pass-through tick takes
//! tens of µs, a futex sleep and wake-up as much again), so the pool makes
//! few: (1) a space's first deadline is rounded up to the pool's `GRID` (2 ms),
//! and every later one is 20 ms after it, so spaces share deadlines and a
//! thread that wakes ticks all those due in one go; (2) one thread at a time
//! sleeps until the earliest deadline (the timer), the others until told,
//! so a deadline wakes one thread, not all; (3) that thread ticks the spaces
//! due with it in a row, and another (the next timer) takes one only once it
//! is `HELP_AFTER` late (before these: 200 talking spaces woke 64 threads
//! 65,000 times a second). See `next`.
use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::lock;
use crate::pressure::ServerLoad;
use crate::space::Slot;
use crate::speakers::SpeakerRoutes;
use crate::tick_times::{PoolStats, TickTimes};

/// One space due for a tick at `deadline`. Each space is in the queue at most
/// once (its `scheduled` flag), and is put back only after its tick ends, so
/// no two threads ever tick the same space.
struct Due {
    deadline: Instant,
    order: u64,
    slot: Arc<Slot>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.order) == (other.deadline, other.order)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    /// Reversed: `BinaryHeap` is a max-heap, and the earliest deadline must come out first.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.deadline, other.order).cmp(&(self.deadline, self.order))
    }
}

/// The queue, whether a thread sleeps until its earliest deadline, and how many threads tick now.
#[derive(Default)]
struct Queue {
    due: BinaryHeap<Due>,
    timer_taken: bool,
    busy: usize,
}

pub(crate) struct PoolShared {
    queue: Mutex<Queue>,
    /// The one thread waiting for the earliest deadline waits here.
    timer: Condvar,
    /// Every other waiting thread waits here, until told there is work or the timer is free.
    idle: Condvar,
    /// Deadlines of spaces that start ticking are on this grid, `GRID` apart.
    pub(crate) epoch: Instant,
    stop: AtomicBool,
    order: AtomicU64,
    /// Spaces in the queue or being ticked now: the talking spaces, and those recording.
    pub(crate) talking: AtomicUsize,
    /// The listeners the talking spaces' last audience messages reached, summed (what the fan-out's
    /// writers send each frame to: `batching.rs`, the send budget is the server's), and whether the
    /// writers keep up (`pressure.rs`).
    pub(crate) load: Arc<ServerLoad>,
    min_threads: usize,
    max_threads: usize,
    /// Threads alive.
    alive: AtomicUsize,
    /// Every thread started; the pool's drop joins them. Also guards growth against a stop.
    handles: Mutex<Vec<JoinHandle<()>>>,
    times: TickTimes,
}

/// A tick taken this late means no thread was free when it fell due.
const LATE: Duration = Duration::from_millis(5);
/// A thread beyond `min_threads` ends after this long without a tick.
const IDLE_EXIT: Duration = Duration::from_secs(5);
/// Spaces start ticking on deadlines this far apart (ten a frame): a space
/// waits at most this much longer for its first tick, and a pool thread wakes
/// at most 500 times a second, however many spaces talk.
pub(crate) const GRID: Duration = Duration::from_millis(2);
/// A space due while a thread ticks others is left to it (ticked in a row) until this late.
const HELP_AFTER: Duration = Duration::from_millis(1);

impl PoolShared {
    /// The first deadline of a space that starts ticking at `now`: one frame
    /// later (the playout delay), rounded up to the grid.
    pub(crate) fn first_deadline(&self, now: Instant) -> Instant {
        let grid = GRID.as_nanos();
        let since = (now + crate::FRAME).saturating_duration_since(self.epoch).as_nanos();
        self.epoch + Duration::from_nanos(u64::try_from(since.div_ceil(grid) * grid).unwrap_or(u64::MAX))
    }

    /// Puts `slot` in the queue for a tick at `deadline`.
    pub(crate) fn schedule(&self, slot: Arc<Slot>, deadline: Instant) {
        self.put(slot, deadline, false);
    }

    /// `schedule`, by a pool thread that calls `next` right after (and so
    /// takes the timer itself if no thread has it: none needs waking for that).
    fn put(&self, slot: Arc<Slot>, deadline: Instant, by_pool_thread: bool) {
        let order = self.order.fetch_add(1, Ordering::Relaxed);
        let since =
            u64::try_from(deadline.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        slot.queued_for.store(since.max(1), Ordering::Relaxed);
        let mut queue = lock(&self.queue);
        queue.due.push(Due { deadline, order, slot });
        let earliest = queue.due.peek().is_some_and(|top| top.order == order);
        if earliest && queue.timer_taken {
            // The timer sleeps until a later deadline: it must take this one.
            self.timer.notify_one();
        } else if !queue.timer_taken && !by_pool_thread {
            self.idle.notify_one();
        }
    }

    /// Waits for the earliest due space; `None`
    /// once the pool stops, or when this thread is one too many (idle since
    /// `last_work` for `IDLE_EXIT`, with more than `min_threads` alive).
    /// `finished`: the thread comes back from a tick.
    ///
    /// A thread back from a tick takes the next due space at once, so spaces
    /// due together are ticked in a row; a thread that waited takes a due
    /// space only once it is `HELP_AFTER` late while another thread ticks (the
    /// timer waits until then). Whenever spaces are queued, some thread is the
    /// timer or about to be: a thread that takes a space, or retires, while
    /// none is, wakes one.
    fn next(&self, last_work: Instant, finished: bool) -> Option<(Arc<Slot>, Instant)> {
        let mut queue = lock(&self.queue);
        if finished {
            queue.busy -= 1;
        }
        let mut waited = false;
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return None;
            }
            let now = Instant::now();
            let slack = if waited && queue.busy > 0 { HELP_AFTER } else { Duration::ZERO };
            if queue.due.peek().is_some_and(|top| top.deadline + slack <= now) {
                let top = queue.due.pop()?;
                queue.busy += 1;
                if !queue.timer_taken && !queue.due.is_empty() {
                    self.idle.notify_one();
                }
                return Some((top.slot, top.deadline));
            }
            let idle_until =
                (self.alive.load(Ordering::SeqCst) > self.min_threads).then(|| last_work + IDLE_EXIT);
            if idle_until.is_some_and(|until| until <= now) && self.retire() {
                if !queue.timer_taken && !queue.due.is_empty() {
                    self.idle.notify_one();
                }
                return None;
            }
            queue = match queue.due.peek().map(|top| top.deadline) {
                Some(deadline) if !queue.timer_taken => {
                    let until = deadline + if queue.busy > 0 { HELP_AFTER } else { Duration::ZERO };
                    queue.timer_taken = true;
                    let mut queue = self
                        .timer
                        .wait_timeout(queue, until.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    queue.timer_taken = false;
                    queue
                }
                _ => match idle_until {
                    Some(until) => {
                        self.idle.wait_timeout(queue, until - now).unwrap_or_else(PoisonError::into_inner).0
                    }
                    None => self.idle.wait(queue).unwrap_or_else(PoisonError::into_inner),
                },
            };
            waited = true;
        }
    }

    /// One thread fewer, unless that would go under `min_threads`.
    fn retire(&self) -> bool {
        let min = self.min_threads;
        self.alive.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n > min).then(|| n - 1)).is_ok()
    }

    /// A tick was taken late (every thread busy, or the OS slow to run a free
    /// one: both mean too little CPU for the pool): one thread more, if there
    /// is room. Errors (the OS refused a thread) leave the pool as it is.
    fn grow(self: &Arc<Self>) {
        // More threads than talking spaces could never all have work.
        let max = self.max_threads.min(self.talking.load(Ordering::Relaxed).max(self.min_threads));
        if self.alive.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then(|| n + 1)).is_err()
        {
            return;
        }
        let mut handles = lock(&self.handles);
        if self.stop.load(Ordering::SeqCst) || spawn(self, &mut handles).is_err() {
            self.alive.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn spawn(shared: &Arc<PoolShared>, handles: &mut Vec<JoinHandle<()>>) -> io::Result<()> {
    handles.retain(|handle| !handle.is_finished());
    let shared = Arc::clone(shared);
    handles.push(thread::Builder::new().name("stoa-tick".into()).spawn(move || work(&shared))?);
    Ok(())
}

/// The server's tick threads. Dropping it stops and joins them.
pub struct TickPool {
    pub(crate) shared: Arc<PoolShared>,
    /// Which connection's audio goes to which of this pool's spaces (see `speakers.rs`).
    pub(crate) routes: Arc<SpeakerRoutes>,
}

/// The bound a pool grows to by default: twice the cores this process may run on, within 4 to 64 (see the
/// module's notes; a 1-core machine shared with other work still gets a few threads' share of it).
pub fn default_max_threads() -> usize {
    max_threads_for(thread::available_parallelism().map_or(2, |cores| cores.get()))
}

fn max_threads_for(cores: usize) -> usize {
    cores.saturating_mul(2).clamp(4, 64)
}

impl TickPool {
    /// Starts `threads` (at least 1) tick threads, named "stoa-tick"; the
    /// pool may grow to `max_threads` while ticks run late.
    pub fn new(threads: usize, max_threads: usize) -> io::Result<Self> {
        let threads = threads.max(1);
        let shared = Arc::new(PoolShared {
            queue: Mutex::new(Queue::default()),
            timer: Condvar::new(),
            idle: Condvar::new(),
            epoch: Instant::now(),
            stop: AtomicBool::new(false),
            order: AtomicU64::new(0),
            talking: AtomicUsize::new(0),
            load: Arc::new(ServerLoad::default()),
            min_threads: threads,
            max_threads: max_threads.max(threads),
            alive: AtomicUsize::new(threads),
            handles: Mutex::new(Vec::new()),
            times: TickTimes::default(),
        });
        let pool = Self { shared, routes: Arc::default() };
        {
            let mut handles = lock(&pool.shared.handles);
            for _ in 0..threads {
                spawn(&pool.shared, &mut handles)?;
            }
        }
        Ok(pool)
    }

    /// Threads alive now.
    pub fn threads(&self) -> usize {
        self.shared.alive.load(Ordering::SeqCst)
    }

    /// The speakers' routes of this pool's spaces, for the reader of client sockets.
    pub fn speaker_routes(&self) -> Arc<SpeakerRoutes> {
        Arc::clone(&self.routes)
    }

    /// Spaces ticking now (someone talks, or just stopped and their last frames are due, or it records).
    pub fn talking(&self) -> usize {
        self.shared.talking.load(Ordering::Relaxed)
    }

    /// Listeners of the talking spaces, as their last audience messages reached them, summed.
    pub fn audience(&self) -> usize {
        self.shared.load.audience.load(Ordering::Relaxed)
    }

    /// Times the fan-out's saturated writers raised every talking space's frames per message a step,
    /// and times a calm lowered it (`pressure.rs`).
    pub fn pressure(&self) -> (u64, u64) {
        self.shared.load.pressure.counts()
    }

    pub fn stats(&self) -> PoolStats {
        self.shared.times.snapshot()
    }
}

impl Drop for TickPool {
    fn drop(&mut self) {
        let handles = {
            let mut handles = lock(&self.shared.handles);
            self.shared.stop.store(true, Ordering::SeqCst); // under `handles`: no thread starts after this
            std::mem::take(&mut *handles)
        };
        {
            let _queue = lock(&self.shared.queue);
            self.shared.timer.notify_all();
            self.shared.idle.notify_all();
        }
        for thread in handles {
            // A panic in a tick thread is a bug; the panic hook has reported it.
            let _ = thread.join();
        }
        // Spaces still queued hold their mixers and the fan-out: let them go.
        lock(&self.shared.queue).due.clear();
    }
}

fn work(shared: &Arc<PoolShared>) {
    let mut last_work = Instant::now();
    let mut finished = false;
    while let Some((slot, deadline)) = shared.next(last_work, finished) {
        finished = true;
        let started = Instant::now();
        if started.saturating_duration_since(deadline) > LATE {
            shared.times.late();
            shared.grow();
        }
        let skipped = slot.skipped();
        // A panic in a space's tick (a bug) fails that space alone: its state cannot take every space's audio.
        let next = crate::contained(|| slot.tick(deadline)).unwrap_or_else(|what| {
            slot.fail(what);
            None
        });
        last_work = Instant::now();
        shared.times.record(last_work - started, slot.skipped() - skipped);
        if let Some(next) = next {
            shared.put(slot, next, true);
        } else {
            slot.went_quiet(shared);
        }
    }
}

#[cfg(test)]
mod tests;
