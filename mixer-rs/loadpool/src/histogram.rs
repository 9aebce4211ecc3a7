//! The latency histogram: log-linear buckets of microseconds, written by the pool thread (one
//! atomic add per frame) and read, or emptied, from any thread without stopping it.
//!
//! Values under 256 µs have a bucket each; above, every power of two is cut into 128 equal
//! buckets, so a bucket is never wider than 1/128 (0.8%) of its values. Values from 2^40 µs
//! (12 days) on share the last bucket. 4,352 buckets, 34 KiB.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const SUB_BITS: u32 = 7;
const SUB_BUCKETS: u64 = 1 << SUB_BITS;
/// Values below this are counted exactly.
const LINEAR: u64 = 2 * SUB_BUCKETS;
const LINEAR_BITS: u32 = SUB_BITS + 1;
const MAX_BITS: u32 = 40;
const BUCKETS: usize = (LINEAR + (MAX_BITS - LINEAR_BITS) as u64 * SUB_BUCKETS) as usize;

/// A percentile outside 0..=100 (or NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BadPercentile(pub f64);

impl std::fmt::Display for BadPercentile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "percentile {} is not within 0..=100", self.0)
    }
}

/// Percentiles over one window, and how many values the window held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Percentiles {
    pub count: u64,
    /// One value (µs) per percentile asked for, in the same order.
    pub values: Vec<u64>,
}

pub struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self { buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect() }
    }
}

impl LatencyHistogram {
    pub fn record(&self, micros: u64) {
        self.buckets[bucket_of(micros)].fetch_add(1, Relaxed);
    }

    /// Values recorded since the start or the last reset.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    /// The value at each percentile (0 to 100): the highest value of the bucket holding the
    /// ceil(p% of n)-th smallest value, so never under the true value and at most 0.8% over it.
    /// All zeros while the histogram is empty.
    pub fn percentiles(&self, ps: &[f64]) -> Result<Percentiles, BadPercentile> {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        percentiles_of(&counts, ps)
    }

    /// Like `percentiles`, and empties the histogram in the same pass: a frame recorded meanwhile
    /// lands in this window or the next, never in neither.
    pub fn take_percentiles(&self, ps: &[f64]) -> Result<Percentiles, BadPercentile> {
        check(ps)?;
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.swap(0, Relaxed)).collect();
        percentiles_of(&counts, ps)
    }

    /// The non-empty buckets as (highest value, count), lowest first.
    pub fn buckets(&self) -> Vec<(u64, u64)> {
        let counts = self.buckets.iter().map(|b| b.load(Relaxed));
        counts.enumerate().filter(|&(_, c)| c > 0).map(|(i, c)| (highest_in(i), c)).collect()
    }

    pub fn reset(&self) {
        self.buckets.iter().for_each(|b| b.store(0, Relaxed));
    }
}

fn check(ps: &[f64]) -> Result<(), BadPercentile> {
    match ps.iter().find(|p| !(0.0..=100.0).contains(*p)) {
        Some(&p) => Err(BadPercentile(p)),
        None => Ok(()),
    }
}

fn percentiles_of(counts: &[u64], ps: &[f64]) -> Result<Percentiles, BadPercentile> {
    check(ps)?;
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return Ok(Percentiles { count: 0, values: vec![0; ps.len()] });
    }
    let values = ps
        .iter()
        .map(|p| {
            let rank = ((p / 100.0 * total as f64).ceil() as u64).clamp(1, total);
            let mut seen = 0;
            let index = counts.iter().position(|&c| {
                seen += c;
                seen >= rank
            });
            highest_in(index.expect("rank <= total"))
        })
        .collect();
    Ok(Percentiles { count: total, values })
}

pub(crate) fn bucket_of(micros: u64) -> usize {
    if micros < LINEAR {
        return micros as usize;
    }
    let exp = 63 - micros.leading_zeros();
    if exp >= MAX_BITS {
        return BUCKETS - 1;
    }
    let sub = (micros >> (exp - SUB_BITS)) & (SUB_BUCKETS - 1);
    (LINEAR + u64::from(exp - LINEAR_BITS) * SUB_BUCKETS + sub) as usize
}

/// The highest value that falls in bucket `index`.
pub(crate) fn highest_in(index: usize) -> u64 {
    let index = index as u64;
    if index < LINEAR {
        return index;
    }
    let exp = LINEAR_BITS + ((index - LINEAR) / SUB_BUCKETS) as u32;
    let sub = (index - LINEAR) % SUB_BUCKETS;
    let width = 1u64 << (exp - SUB_BITS);
    (1u64 << exp) + sub * width + width - 1
}
