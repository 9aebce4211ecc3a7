//! The latency histogram: exact below 256 µs, within 1% above, percentiles by rank, and windows
//! that can be read and emptied while frames are being recorded.

use std::sync::Arc;

use loadpool::{BadPercentile, LatencyHistogram, Percentiles};

#[test]
fn small_values_are_exact() {
    let h = LatencyHistogram::default();
    (1..=100).for_each(|v| h.record(v));
    assert_eq!(h.percentiles(&[0.0, 1.0, 50.0, 99.0, 100.0]).unwrap().values, vec![1, 1, 50, 99, 100]);
}

#[test]
fn percentiles_of_a_wide_spread_are_within_one_percent() {
    let h = LatencyHistogram::default();
    // 1 µs to 10 s, evenly.
    (1..=100_000u64).for_each(|i| h.record(i * 100));
    for (p, exact) in [(50.0, 5_000_000.0), (90.0, 9_000_000.0), (99.0, 9_900_000.0), (100.0, 10_000_000.0)] {
        let got = h.percentiles(&[p]).unwrap().values[0] as f64;
        assert!(got >= exact && got <= exact * 1.01, "p{p}: {got} for {exact}");
    }
    assert_eq!(h.count(), 100_000);
}

#[test]
fn every_value_lands_in_a_bucket_at_most_one_percent_above_it() {
    let h = LatencyHistogram::default();
    let mut v = 1u64;
    while v < 1 << 40 {
        h.reset();
        h.record(v);
        let got = h.percentiles(&[50.0]).unwrap().values[0];
        assert!(got >= v && (got - v) as f64 <= v as f64 / 100.0, "{v} -> {got}");
        v = v * 21 / 20 + 1;
    }
}

#[test]
fn an_empty_histogram_reports_zeros_and_bad_percentiles_are_refused() {
    let h = LatencyHistogram::default();
    assert_eq!(h.percentiles(&[50.0, 99.0]).unwrap(), Percentiles { count: 0, values: vec![0, 0] });
    assert_eq!(h.percentiles(&[101.0]), Err(BadPercentile(101.0)));
    assert!(h.percentiles(&[f64::NAN]).is_err());
    assert_eq!(h.percentiles(&[-1.0]), Err(BadPercentile(-1.0)));
}

#[test]
fn a_reset_starts_a_new_window() {
    let h = LatencyHistogram::default();
    (0..10).for_each(|_| h.record(1_000_000));
    h.reset();
    (0..10).for_each(|_| h.record(100));
    assert_eq!(h.percentiles(&[100.0]).unwrap().values, vec![100]);
    assert_eq!(h.take_percentiles(&[50.0]).unwrap(), Percentiles { count: 10, values: vec![100] });
    assert_eq!(h.count(), 0, "take empties the histogram");
}

#[test]
fn windows_taken_while_another_thread_records_lose_no_value() {
    let h = Arc::new(LatencyHistogram::default());
    let writer = {
        let h = Arc::clone(&h);
        std::thread::spawn(move || (0..300_000).for_each(|i| h.record(i % 5_000)))
    };
    let mut total = 0;
    while !writer.is_finished() {
        total += h.take_percentiles(&[50.0]).unwrap().count;
    }
    writer.join().unwrap();
    total += h.take_percentiles(&[50.0]).unwrap().count;
    assert_eq!(total, 300_000);
}
