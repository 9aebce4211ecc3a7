"""LoopWatch sees a stall of the event loop for about as long as it lasts, and tells the garbage
collector's share of it from other work. Real time (the clock is what is measured), loose upper bounds:
the machine is shared."""

from __future__ import annotations

import gc
import time

import pytest
import trio

from gateway.loopwatch import BUCKETS_MS, LoopWatch

pytestmark = pytest.mark.serial  # stalls measured in real time


class Node:
    """An object in a reference cycle: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


async def settle() -> None:
    """A few of the watch's wake-ups, so the last stall is recorded."""
    await trio.sleep(0.1)


async def test_a_blocking_call_is_seen_as_a_stall_of_about_its_length() -> None:
    watch = LoopWatch(period_s=0.005)
    async with trio.open_nursery() as nursery:
        await nursery.start(watch.run)
        await settle()
        before = watch.snapshot().since_start
        time.sleep(0.3)  # noqa: ASYNC251 (the deliberate stall: a blocking call on the event loop)
        await settle()
        after = watch.snapshot()
        nursery.cancel_scope.cancel()
    # The control: before the blocking call no stall was near its length.
    assert before.worst_stall_ms < 250, before
    assert 295 <= after.since_start.worst_stall_ms < 2000, after.since_start
    assert after.since_start.worst_stall_gc_ms < 50  # sleeping is not garbage collection
    assert after.since_start.worst_stall_cpu_ms < 150  # and not work: the loop's thread was asleep
    assert after.interval.worst_stall_ms == after.since_start.worst_stall_ms
    stalls = after.since_start.stalls
    assert stalls.over(50) >= 1 and stalls.over(200) >= 1
    assert sum(stalls.counts) == stalls.count and len(stalls.counts) == len(BUCKETS_MS) + 1
    assert stalls.max_ms == after.since_start.worst_stall_ms


async def test_a_collection_of_many_objects_is_attributed_to_the_garbage_collector() -> None:
    watch = LoopWatch(period_s=0.005)
    thresholds = gc.get_threshold()
    gc.disable()  # no collection but ours while the objects are made
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(watch.run)
            await settle()
            nodes: list[Node] = []
            for _ in range(40):  # made a little at a time: making them is not the stall measured
                nodes.extend(Node() for _ in range(10_000))
                await trio.sleep(0.001)
            await settle()
            before = watch.snapshot().since_start
            del nodes  # all garbage now, in cycles
            freed = gc.collect()
            await settle()
            after = watch.snapshot().since_start
            nursery.cancel_scope.cancel()
    finally:
        gc.enable()
        gc.set_threshold(*thresholds)
    assert freed >= 400_000
    full = after.gc[2]
    assert full.pauses.count == before.gc[2].pauses.count + 1
    assert full.collected - before.gc[2].collected >= 400_000
    pause_ms = full.pauses.max_ms
    assert pause_ms > 5  # 400,000 objects take a while to walk
    assert 0 < full.max_cpu_ms <= pause_ms + 1 and full.cpu_ms >= full.max_cpu_ms
    # The stall that held the collection is the longest, and nearly all of it was the collector.
    assert after.worst_stall_ms >= pause_ms * 0.9
    assert after.worst_stall_gc_ms >= pause_ms * 0.9
    assert after.worst_stall_gc_ms <= after.worst_stall_ms


async def test_each_interval_starts_afresh_and_the_totals_keep_everything() -> None:
    watch = LoopWatch(period_s=0.005, interval_s=0.2)
    async with trio.open_nursery() as nursery:
        await nursery.start(watch.run)
        await settle()
        time.sleep(0.12)  # noqa: ASYNC251 (a deliberate stall)
        await trio.sleep(0.4)  # at least one new interval begins after the stall
        snap = watch.snapshot()
        nursery.cancel_scope.cancel()
    assert snap.since_start.worst_stall_ms >= 115
    assert snap.interval.worst_stall_ms < 115
    assert snap.interval.stalls.count < snap.since_start.stalls.count
    assert snap.interval.seconds < snap.since_start.seconds
    assert snap.previous is not None and 0.2 <= snap.previous.seconds < 0.5


def test_the_threshold_is_a_bucket_bound_so_stalls_over_it_can_be_counted() -> None:
    try:
        LoopWatch(threshold_ms=42)
    except ValueError as e:
        assert "buckets" in str(e)
    else:
        raise AssertionError("a threshold between buckets was accepted")
