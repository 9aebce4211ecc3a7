//! `TickPool`'s unit tests: growth on late ticks, the default bound, deadlines on the grid.

use super::*;

#[test]
fn a_late_tick_adds_a_thread_up_to_the_maximum_and_the_talking_spaces() {
    let pool = TickPool::new(1, 3).unwrap();
    pool.shared.talking.store(2, Ordering::Relaxed);
    pool.shared.grow();
    assert_eq!(pool.threads(), 2);
    pool.shared.grow();
    assert_eq!(pool.threads(), 2, "no more threads than talking spaces");
    pool.shared.talking.store(10, Ordering::Relaxed);
    pool.shared.grow();
    pool.shared.grow();
    assert_eq!(pool.threads(), 3, "max_threads is a bound");
    assert_eq!(lock(&pool.shared.handles).len(), 3, "every thread started is joined on drop");
    pool.shared.talking.store(0, Ordering::Relaxed);
}

#[test]
fn the_default_bound_is_twice_the_cores_within_4_and_64() {
    let bounds: Vec<usize> = [1, 2, 3, 16, 32, 33, 1_000].map(max_threads_for).into();
    assert_eq!(bounds, [4, 4, 6, 32, 64, 64, 64]);
}

#[test]
fn a_first_deadline_is_a_frame_away_rounded_up_to_the_grid() {
    let pool = TickPool::new(1, 1).unwrap();
    let shared = &pool.shared;
    for offset_us in [0, 1, 999, 2_000, 2_001, 123_457] {
        let now = shared.epoch + Duration::from_micros(offset_us);
        let deadline = shared.first_deadline(now);
        let since = deadline - shared.epoch;
        assert_eq!(since.as_nanos() % GRID.as_nanos(), 0, "on the grid ({offset_us} µs)");
        assert!(deadline >= now + crate::FRAME && deadline < now + crate::FRAME + GRID, "{offset_us} µs");
    }
}

#[test]
fn a_thread_retires_only_above_the_minimum() {
    let pool = TickPool::new(1, 2).unwrap();
    assert!(!pool.shared.retire());
    pool.shared.talking.store(2, Ordering::Relaxed);
    pool.shared.grow();
    assert!(pool.shared.retire());
    assert_eq!(pool.threads(), 1);
    pool.shared.talking.store(0, Ordering::Relaxed);
}
