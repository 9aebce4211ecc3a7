"""The event-loop stall histogram behind `stoa_event_loop_stall_seconds`, made from the loop watch's buckets."""

from __future__ import annotations

from gateway.metrics import StallSnapshot


def test_from_counts_makes_cumulative_buckets_ending_at_infinity() -> None:
    snapshot = StallSnapshot.from_counts([0.001, 0.01], [3, 2, 1], 0.5)
    assert list(snapshot.buckets) == [(0.001, 3), (0.01, 5), (float("inf"), 6)]
    assert snapshot.sum_s == 0.5
