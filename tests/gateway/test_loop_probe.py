"""The event-loop lateness probe behind `stoa_event_loop_stall_seconds`: a loop held up is seen, as long as it
was held; a free loop is not."""

from __future__ import annotations

import time

import trio

from gateway.metrics import LoopProbe, StallSnapshot


def over(snapshot: StallSnapshot, seconds: float) -> int:
    """Stalls longer than `seconds` (a bucket bound)."""
    total = snapshot.buckets[-1][1]
    at_most = next(n for bound, n in snapshot.buckets if bound == seconds)
    return total - at_most


async def test_a_loop_held_up_shows_as_a_stall_as_long_as_it_was_held() -> None:
    probe = LoopProbe(interval_s=0.02)
    async with trio.open_nursery() as nursery:
        await nursery.start(probe.run)
        await trio.sleep(0.3)
        free = probe.stall_snapshot()  # the control: nothing held the loop
        time.sleep(0.3)  # noqa: ASYNC251 (the point: a step that never lets the loop go)
        await trio.sleep(0.1)
        held = probe.stall_snapshot()
        nursery.cancel_scope.cancel()
    assert free.buckets[-1][1] >= 5, "the probe samples"
    assert over(held, 0.25) == over(free, 0.25) + 1, "one stall over 250 ms more (a shared machine may add one)"
    assert held.sum_s - free.sum_s >= 0.25


def test_from_counts_makes_cumulative_buckets_ending_at_infinity() -> None:
    snapshot = StallSnapshot.from_counts([0.001, 0.01], [3, 2, 1], 0.5)
    assert list(snapshot.buckets) == [(0.001, 3), (0.01, 5), (float("inf"), 6)]
    assert snapshot.sum_s == 0.5
