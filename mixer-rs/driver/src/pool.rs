//! `TickPool`: a few threads that tick every talking space of the server, each
//! at its own 20 ms deadlines, from one deadline-ordered queue.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crate::space::Slot;
use crate::lock;

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

pub(crate) struct PoolShared {
    due: Mutex<BinaryHeap<Due>>,
    wake: Condvar,
    stop: AtomicBool,
    order: AtomicU64,
    /// Spaces in the queue or being ticked now: the talking spaces.
    pub(crate) talking: AtomicUsize,
}

impl PoolShared {
    /// Puts `slot` in the queue for a tick at `deadline`.
    pub(crate) fn schedule(&self, slot: Arc<Slot>, deadline: Instant) {
        let order = self.order.fetch_add(1, Ordering::Relaxed);
        let earliest = {
            let mut due = lock(&self.due);
            due.push(Due { deadline, order, slot });
            due.peek().is_some_and(|top| top.order == order)
        };
        // A thread sleeping until a later deadline must wake to take this one.
        if earliest {
            self.wake.notify_one();
        }
    }

    /// Waits for the earliest due space; `None` once the pool stops.
    fn next(&self) -> Option<(Arc<Slot>, Instant)> {
        let mut due = lock(&self.due);
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return None;
            }
            let now = Instant::now();
            match due.peek() {
                Some(top) if top.deadline <= now => {
                    let top = due.pop()?;
                    // Another thread may take the next one meanwhile.
                    if due.peek().is_some_and(|next| next.deadline <= now) {
                        self.wake.notify_one();
                    }
                    return Some((top.slot, top.deadline));
                }
                Some(top) => {
                    let wait = top.deadline - now;
                    due = self.wake.wait_timeout(due, wait).unwrap_or_else(std::sync::PoisonError::into_inner).0;
                }
                None => due = self.wake.wait(due).unwrap_or_else(std::sync::PoisonError::into_inner),
            }
        }
    }
}

/// The server's tick threads. Dropping it stops and joins them.
pub struct TickPool {
    pub(crate) shared: Arc<PoolShared>,
    threads: Vec<JoinHandle<()>>,
}

impl TickPool {
    /// Starts `threads` (at least 1) tick threads, named "stoa-tick".
    pub fn new(threads: usize) -> io::Result<Self> {
        let shared = Arc::new(PoolShared {
            due: Mutex::new(BinaryHeap::new()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            order: AtomicU64::new(0),
            talking: AtomicUsize::new(0),
        });
        let mut pool = Self { shared, threads: Vec::new() };
        for _ in 0..threads.max(1) {
            let shared = Arc::clone(&pool.shared);
            pool.threads.push(thread::Builder::new().name("stoa-tick".into()).spawn(move || work(&shared))?);
        }
        Ok(pool)
    }

    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    /// Spaces ticking now (someone talks, or just stopped and their last frames are due).
    pub fn talking(&self) -> usize {
        self.shared.talking.load(Ordering::Relaxed)
    }
}

impl Drop for TickPool {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let _due = lock(&self.shared.due);
            self.shared.wake.notify_all();
        }
        for thread in self.threads.drain(..) {
            // A panic in a tick thread is a bug; the panic hook has reported it.
            let _ = thread.join();
        }
        // Spaces still queued hold their mixers and the fan-out: let them go.
        lock(&self.shared.due).clear();
    }
}

fn work(shared: &Arc<PoolShared>) {
    while let Some((slot, deadline)) = shared.next() {
        if let Some(next) = slot.tick(deadline) {
            shared.schedule(slot, next);
        } else {
            slot.went_quiet(shared);
        }
    }
}
