//! The tick pool's counters (`TickPool::stats`): ticks by duration, late and skipped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds, in µs, of the tick-duration histogram's buckets (a last
/// bucket takes the rest): a silent or pass-through tick takes tens of µs,
/// 13 talkers about 2.5 ms, and a tick over 20 ms makes its space late.
pub const TICK_BUCKETS_US: [u64; 10] = [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 20_000, 50_000];

/// The pool's counters, bumped by each tick thread (relaxed atomics: a few
/// per tick, no lock), read by `TickPool::stats`.
#[derive(Default)]
pub(crate) struct TickTimes {
    buckets: [AtomicU64; TICK_BUCKETS_US.len() + 1],
    sum_ns: AtomicU64,
    late: AtomicU64,
    skipped: AtomicU64,
}

/// A snapshot of the pool's counters since it started (each read on its own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Ticks done, of every space (each a pass over one space: mix, encode, queue).
    pub ticks: u64,
    /// Ticks taken more than 5 ms after their deadline (no thread was free).
    pub late: u64,
    /// Ticks skipped by spaces more than 200 ms behind (their frames' `seq` jumps).
    pub skipped: u64,
    /// Ticks per duration bucket (`TICK_BUCKETS_US`, then the rest): not cumulative.
    pub duration_buckets: Vec<u64>,
    pub duration_sum_ns: u64,
}

impl TickTimes {
    pub(crate) fn record(&self, took: Duration, skipped: u64) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = TICK_BUCKETS_US.iter().position(|&bound| us <= bound).unwrap_or(TICK_BUCKETS_US.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        if skipped > 0 {
            self.skipped.fetch_add(skipped, Ordering::Relaxed);
        }
    }

    /// A tick taken late (more than `pool::LATE` after its deadline).
    pub(crate) fn late(&self) {
        self.late.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> PoolStats {
        let duration_buckets: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        PoolStats {
            ticks: duration_buckets.iter().sum(),
            late: self.late.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            duration_buckets,
            duration_sum_ns: self.sum_ns.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tick_lands_in_the_bucket_of_its_duration() {
        let times = TickTimes::default();
        times.record(Duration::from_micros(30), 0);
        times.record(Duration::from_micros(50), 0);
        times.record(Duration::from_micros(51), 0);
        times.record(Duration::from_millis(3), 2);
        times.record(Duration::from_secs(1), 0);
        let stats = times.snapshot();
        assert_eq!(stats.ticks, 5);
        assert_eq!(stats.skipped, 2);
        assert_eq!(stats.duration_buckets[0], 2, "50 µs is in the 50 µs bucket (le)");
        assert_eq!(stats.duration_buckets[1], 1);
        assert_eq!(stats.duration_buckets[6], 1, "3 ms: the 5 ms bucket");
        assert_eq!(stats.duration_buckets[TICK_BUCKETS_US.len()], 1, "beyond the last bound");
        assert_eq!(stats.duration_sum_ns, 1_003_131_000);
    }
}
