//! `ServerLoad`: what a space's batching needs to know of the whole server:
//! the talking spaces' audience (`batching.rs`), and whether the fan-out's
//! writers keep up (`Pressure`).
//!
//! Why the writers' own measure. The audience says what the sends cost; it
//! does not say what else the machine does. 200 spaces of 50 listeners cost
//! the writers the sends one space of 10,000 does, but they also mix 200
//! conversations and read 200 spaces' speakers, on the same cores: measured on
//! this project's 2-core machine (README, Many conversations), at 5
//! frames per message the writers were busy 96 to 97% of the time and a
//! frame waited for a pass of 90 to 130 ms (p99 over 250 ms), while at 10
//! they were busy 60 to 73% with passes of 2 to 5 ms; one space of 10,000 at
//! 5 frames held its target, and at 10 did not (its listeners are all due at
//! once). No audience threshold tells the two apart; the writers can.
//!
//! What saturation is. Busy alone is not it: one space of 10,000 keeps the
//! writers in a pass most of each 100 ms (all its listeners are due at each
//! publication), yet each listener is visited once a publication. Saturated
//! writers fall behind the publications: a visit finds its listener still
//! owed frames from before the publication before the last (`Follow::late` in
//! the fan-out), so a frame waited more than a whole publication period.
//!
//! The rule. Windows of `WINDOW`: `SATURATED_WINDOWS` in a row in which the
//! writers were busy at least `SATURATED_PERCENT` of the time and at least
//! `LATE_PERCENT` of their visits were late raise the pressure (one saturated
//! window is not enough; a burst that lasts, such as thousands joining over
//! seconds, may be): each talking space, at its next message, moves one step
//! above the frames per message it had, and stays at least there; while the
//! saturation lasts, every `SATURATED_WINDOWS` raise it again, up to
//! `MAX_LEVEL` raises not yet lowered. Windows with the writers busy at most `RELAXED_PERCENT`, for
//! `RELAX_AFTER` in a row, lower it: each space's floor goes down a step (the
//! audience's own step still applies above it), again every `RELAX_AFTER`
//! of calm while raises are left to undo. Anything between holds, so a server
//! that batching took out of saturation does not fall back into it.
//!
//! The busy share is credited as each pass ends, so a window of long passes
//! reads a little under or over what it was; two windows in a row smooth
//! that. A space that went quiet takes the pressure as it finds it when it
//! talks again (`Batch::track_pressure`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fanout::WritersLoad;

/// The writers' busy share is taken over windows this long.
pub const WINDOW: Duration = Duration::from_millis(500);
/// A window with the writers in passes this share of the time (or more), and this share of their
/// visits (or more) late, raises the pressure.
pub const SATURATED_PERCENT: u64 = 90;
pub const LATE_PERCENT: u64 = 10;
/// Saturated windows in a row that raise it (and each as many more, while it lasts).
pub const SATURATED_WINDOWS: u32 = 2;
/// Raises not yet lowered at most: enough to take a space from 1 frame to the top step (1, 2, 3, 5, 10).
pub const MAX_LEVEL: u64 = crate::batching::STEPS.len() as u64 - 1;
/// Windows at this share (or less), for `RELAX_AFTER` in a row, lower it.
pub const RELAXED_PERCENT: u64 = 50;
pub const RELAX_AFTER: Duration = Duration::from_secs(5);

/// The server's figures every space's batching reads and writes (one per `TickPool`).
#[derive(Debug)]
pub(crate) struct ServerLoad {
    /// The listeners the talking spaces' last audience messages reached, summed.
    pub audience: AtomicUsize,
    pub pressure: Pressure,
}

impl ServerLoad {
    /// Its first window of the writers' busy share starts at `now`.
    pub(crate) fn new(now: Instant) -> Self {
        Self { audience: AtomicUsize::new(0), pressure: Pressure::new(now) }
    }
}

impl Default for ServerLoad {
    fn default() -> Self {
        Self::new(Instant::now())
    }
}

/// Raised and lowered from the writers' busy share (the module's notes); a
/// space follows by counting: `raised` and `lowered` only grow.
#[derive(Debug)]
pub(crate) struct Pressure {
    sample: Mutex<Sample>,
    raised: AtomicU64,
    lowered: AtomicU64,
}

#[derive(Debug)]
struct Sample {
    at: Instant,
    load: WritersLoad,
    /// The first of the relaxed windows in a row so far.
    calm_since: Option<Instant>,
    /// Saturated windows in a row, since the last raise.
    saturated: u32,
}

impl Pressure {
    fn new(now: Instant) -> Self {
        Self {
            sample: Mutex::new(Sample {
                at: now,
                load: WritersLoad::default(),
                calm_since: None,
                saturated: 0,
            }),
            raised: AtomicU64::new(0),
            lowered: AtomicU64::new(0),
        }
    }

    /// Takes the writers' figures so far (`load`) at `now`; a window that has
    /// passed is judged. Any thread may call it at any time: one that finds
    /// another judging goes on without waiting.
    pub(crate) fn observe(&self, now: Instant, load: WritersLoad) {
        let Ok(mut sample) = self.sample.try_lock() else { return };
        let wall = now.saturating_duration_since(sample.at);
        if wall < WINDOW {
            return;
        }
        let busy = u128::from(load.busy_ns.saturating_sub(sample.load.busy_ns)) * 100
            / (wall.as_nanos() * load.writers.max(1) as u128).max(1);
        let visits = load.visits.saturating_sub(sample.load.visits);
        let late = load.late_visits.saturating_sub(sample.load.late_visits);
        sample.at = now;
        sample.load = load;
        if busy >= u128::from(SATURATED_PERCENT) && late * 100 >= visits.max(1) * LATE_PERCENT {
            sample.calm_since = None;
            sample.saturated += 1;
            if sample.saturated == SATURATED_WINDOWS {
                sample.saturated = 0;
                if self.level() < MAX_LEVEL {
                    self.raised.fetch_add(1, Ordering::Relaxed);
                }
            }
            return;
        }
        sample.saturated = 0;
        if busy <= u128::from(RELAXED_PERCENT) {
            let since = *sample.calm_since.get_or_insert(now - wall);
            if now.saturating_duration_since(since) >= RELAX_AFTER {
                sample.calm_since = Some(now);
                if self.level() > 0 {
                    self.lowered.fetch_add(1, Ordering::Relaxed);
                }
            }
        } else {
            sample.calm_since = None;
        }
    }

    /// Raises not yet lowered (0 to `MAX_LEVEL`); only the judging thread changes it.
    fn level(&self) -> u64 {
        self.raised.load(Ordering::Relaxed) - self.lowered.load(Ordering::Relaxed)
    }

    /// (times raised, times lowered) so far: lowered never more than raised, raised never more than
    /// `MAX_LEVEL` past lowered.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.raised.load(Ordering::Relaxed), self.lowered.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// Windows of `WINDOW`, each (busy percent of 2 writers, percent of 100 visits late); the counts after each.
    fn run(windows: &[(u64, u64)]) -> Vec<(u64, u64)> {
        let start = Instant::now();
        let pressure = Pressure::new(start);
        let mut load = WritersLoad { writers: 2, ..WritersLoad::default() };
        let mut counts = Vec::new();
        for (i, &(busy, late)) in windows.iter().enumerate() {
            load.busy_ns += busy * 500 * MS * 2 / 100;
            load.visits += 100;
            load.late_visits += late;
            pressure.observe(start + WINDOW * (i as u32 + 1), load);
            counts.push(pressure.counts());
        }
        counts
    }

    #[test]
    fn saturated_windows_in_a_row_raise_busy_ones_hold_and_only_a_long_calm_lowers() {
        let mut windows = vec![(30, 0), (95, 20), (97, 40), (75, 0), (80, 0)];
        windows.extend([(40, 0); 12]);
        let counts = run(&windows);
        assert_eq!(counts[..5], [(0, 0), (0, 0), (1, 0), (1, 0), (1, 0)], "busy but not saturated: held");
        // Relaxed from the 6th window on: lowered once 5 s of them have passed (10 windows), not before.
        assert_eq!(counts[13], (1, 0));
        assert_eq!(counts[14], (1, 1));
        assert_eq!(counts[16], (1, 1));
        // Saturation that lasts raises again every `SATURATED_WINDOWS`, up to `MAX_LEVEL`; one saturated
        // window alone does not; a calm with nothing raised lowers nothing.
        assert_eq!(run(&[(95, 20); 6]).last(), Some(&(3, 0)));
        assert_eq!(run(&[(95, 20); 20]).last(), Some(&(MAX_LEVEL, 0)));
        assert_eq!(run(&[(10, 0); 30]).last(), Some(&(0, 0)));
        assert_eq!(run(&[(95, 20), (70, 0), (95, 20), (70, 0)]).last(), Some(&(0, 0)));
    }

    #[test]
    fn busy_writers_that_still_visit_every_listener_each_publication_are_not_saturated() {
        // One space of 10,000: in a pass nearly all the time, and a late visit now and then.
        assert_eq!(run(&[(97, 0), (99, 5), (95, 9)]).last(), Some(&(0, 0)));
        // Late visits on writers with time to spare: a stalled reader's, not the writers' load.
        assert_eq!(run(&[(60, 50)]).last(), Some(&(0, 0)));
    }

    #[test]
    fn a_busy_window_breaks_a_calm() {
        let mut windows = vec![(95, 20), (95, 20)];
        windows.extend([(40, 0); 9]);
        windows.push((60, 0));
        windows.extend([(40, 0); 9]);
        assert!(run(&windows).iter().all(|&(_, lowered)| lowered == 0));
        windows.push((40, 0)); // the 10th calm window in a row: 5 s
        assert_eq!(run(&windows).last(), Some(&(1, 1)));
    }

    #[test]
    fn a_reading_within_the_window_is_not_judged() {
        let start = Instant::now();
        let pressure = Pressure::new(start);
        let busy_ns = WINDOW.as_nanos() as u64 * 2;
        let load = WritersLoad { writers: 2, busy_ns, visits: 10, late_visits: 10 };
        pressure.observe(start + WINDOW / 2, load);
        assert_eq!(pressure.counts(), (0, 0));
        pressure.observe(start + WINDOW, load);
        let saturated = WritersLoad { busy_ns: busy_ns * 2, late_visits: 20, visits: 20, ..load };
        pressure.observe(start + WINDOW * 2, saturated);
        assert_eq!(pressure.counts(), (1, 0), "two whole windows, saturated, each judged once");
    }
}
