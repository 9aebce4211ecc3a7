"""LoopWatch: how long the event loop stalls, and how much of each stall is the garbage collector.

Every task of the server (speakers' packets, joins, keepalives) waits while any one step runs, so the
figure that matters is the longest stall, not the average. The server runs one `LoopWatch` (`serve()`);
`snapshot()` is what an operator or a metrics exporter reads.

How it measures:
- A Trio task sleeps `period_s` again and again; how late each wake-up is (measured on
  `time.perf_counter`) is a stall of the loop: something ran that long without letting the loop go.
- The loop thread's own CPU time over the same window (`time.thread_time`) tells a stall the loop spent
  working from one where it was not running at all (the OS ran something else: on a shared machine a
  stall's wall time can be several times its CPU time).
- `gc.callbacks` times every collection, by generation. The collector's time that falls between two
  wake-ups is that stall's share of garbage collection (a collection runs while Python code runs, so
  it delays the loop exactly as long as it takes).

Both go into bucketed counts (`Histogram`: non-cumulative counts per upper bound, plus count, sum and
max, as a Prometheus histogram needs), kept since the start and for the current interval (every
`interval_s`, 10 s by default, the interval is logged at WARNING if its longest stall passed the
threshold, and a new one begins). A stall over the threshold is also logged at once (at most once a
second), with its share of garbage collection.

Resource handling: `run()` adds one callback to `gc.callbacks` and removes it when it ends (cancelled
included). The callback may run on any thread that allocates (a worker thread's collection holds the
GIL, so it stalls the loop too); it touches only this object's counters.
"""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass

import trio

log = logging.getLogger("gateway.loop")

BUCKETS_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
"""Upper bounds (inclusive) of the histograms' buckets, in milliseconds; one more bucket counts the rest."""

GENERATIONS = 3


@dataclass(frozen=True, slots=True)
class Histogram:
    """Durations in buckets: `counts[i]` how many were at most `bounds_ms[i]` and over the bound before
    it; `counts[-1]` those over the last bound (so `len(counts) == len(bounds_ms) + 1`). Not cumulative."""

    bounds_ms: tuple[float, ...]
    counts: tuple[int, ...]
    count: int
    sum_ms: float
    max_ms: float

    def over(self, threshold_ms: float) -> int:
        """How many were over `threshold_ms`, which must be one of the bounds."""
        return sum(self.counts[self.bounds_ms.index(threshold_ms) + 1 :])


@dataclass(frozen=True, slots=True)
class GcGeneration:
    """The collections of one generation: their pauses, and what they freed."""

    generation: int
    pauses: Histogram
    cpu_ms: float
    """The collections' CPU time (their thread's) in all; less than the pauses' sum when the OS ran others."""
    max_cpu_ms: float
    collected: int
    uncollectable: int


@dataclass(frozen=True, slots=True)
class LoopStats:
    """What the loop went through over `seconds`: every wake-up's lateness (`stalls`), the longest stall
    and how much of it was garbage collection, and the collections of each generation."""

    seconds: float
    stalls: Histogram
    worst_stall_ms: float
    worst_stall_gc_ms: float
    worst_stall_cpu_ms: float
    """The loop thread's CPU time during the longest stall (less than the stall when the OS ran others)."""
    stall_gc_ms: float
    """The collector's time inside stalls over the threshold, in all."""
    gc: tuple[GcGeneration, ...]


@dataclass(frozen=True, slots=True)
class LoopSnapshot:
    since_start: LoopStats
    interval: LoopStats
    """The current interval (begun at most `interval_s` ago)."""
    previous: LoopStats | None
    """The last complete interval (the same object until the next one completes); None before the first."""
    threshold_ms: float


class _Buckets:
    __slots__ = ("count", "counts", "max_ms", "sum_ms")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS_MS) + 1)
        self.count = 0
        self.sum_ms = 0.0
        self.max_ms = 0.0

    def add(self, ms: float) -> None:
        i = 0
        while i < len(BUCKETS_MS) and ms > BUCKETS_MS[i]:
            i += 1
        self.counts[i] += 1
        self.count += 1
        self.sum_ms += ms
        if ms > self.max_ms:
            self.max_ms = ms

    def frozen(self) -> Histogram:
        return Histogram(BUCKETS_MS, tuple(self.counts), self.count, self.sum_ms, self.max_ms)


class _Record:
    """The mutable side of one `LoopStats`."""

    __slots__ = ("collected", "gc_cpu_ms", "gc_max_cpu_ms", "gc_pauses", "stall_gc_ms", "stalls", "started",
                 "uncollectable", "worst_cpu_ms", "worst_gc_ms", "worst_ms")  # fmt: skip

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.stalls = _Buckets()
        self.worst_ms = 0.0
        self.worst_gc_ms = 0.0
        self.worst_cpu_ms = 0.0
        self.stall_gc_ms = 0.0
        self.gc_pauses = [_Buckets() for _ in range(GENERATIONS)]
        self.gc_cpu_ms = [0.0] * GENERATIONS
        self.gc_max_cpu_ms = [0.0] * GENERATIONS
        self.collected = [0] * GENERATIONS
        self.uncollectable = [0] * GENERATIONS

    def stall(self, ms: float, gc_ms: float, cpu_ms: float, threshold_ms: float) -> None:
        self.stalls.add(ms)
        if ms > self.worst_ms:
            self.worst_ms, self.worst_gc_ms, self.worst_cpu_ms = ms, gc_ms, cpu_ms
        if ms > threshold_ms:
            self.stall_gc_ms += gc_ms

    def collection(self, generation: int, ms: float, cpu_ms: float, collected: int, uncollectable: int) -> None:
        self.gc_pauses[generation].add(ms)
        self.gc_cpu_ms[generation] += cpu_ms
        self.gc_max_cpu_ms[generation] = max(self.gc_max_cpu_ms[generation], cpu_ms)
        self.collected[generation] += collected
        self.uncollectable[generation] += uncollectable

    def frozen(self) -> LoopStats:
        generations = tuple(
            GcGeneration(
                g,
                self.gc_pauses[g].frozen(),
                self.gc_cpu_ms[g],
                self.gc_max_cpu_ms[g],
                self.collected[g],
                self.uncollectable[g],
            )
            for g in range(GENERATIONS)
        )
        return LoopStats(
            seconds=time.perf_counter() - self.started,
            stalls=self.stalls.frozen(),
            worst_stall_ms=self.worst_ms,
            worst_stall_gc_ms=self.worst_gc_ms,
            worst_stall_cpu_ms=self.worst_cpu_ms,
            stall_gc_ms=self.stall_gc_ms,
            gc=generations,
        )


class LoopWatch:
    """Measures the event loop's stalls while `run()` runs (see the module's docstring)."""

    def __init__(self, *, period_s: float = 0.01, threshold_ms: float = 50.0, interval_s: float = 10.0) -> None:
        if threshold_ms not in BUCKETS_MS:
            raise ValueError(f"the threshold must be one of the buckets' bounds {BUCKETS_MS}")
        self.period_s = period_s
        self.threshold_ms = threshold_ms
        self.interval_s = interval_s
        self._total = _Record()
        self._interval = _Record()
        self._previous: LoopStats | None = None
        self._gc_started: float | None = None
        self._gc_cpu_started = 0.0
        self._gc_generation = 0
        self._gc_ms_since_wake = 0.0
        self._logged_at = -1.0

    def snapshot(self) -> LoopSnapshot:
        """The figures now (cheap: a few small tuples)."""
        return LoopSnapshot(self._total.frozen(), self._interval.frozen(), self._previous, self.threshold_ms)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Watch until cancelled."""
        gc.callbacks.append(self._on_gc)
        try:
            self._total = _Record()
            self._interval = _Record()
            task_status.started()
            period = self.period_s
            while True:
                before, cpu_before = time.perf_counter(), time.thread_time()
                await trio.sleep(period)
                now, cpu = time.perf_counter(), time.thread_time()
                late_ms = max(0.0, (now - before - period) * 1000.0)
                self._woke(late_ms, min(late_ms, (cpu - cpu_before) * 1000.0), now)
        finally:
            gc.callbacks.remove(self._on_gc)

    def _woke(self, late_ms: float, cpu_ms: float, now: float) -> None:
        gc_ms, self._gc_ms_since_wake = min(self._gc_ms_since_wake, late_ms), 0.0
        for record in (self._total, self._interval):
            record.stall(late_ms, gc_ms, cpu_ms, self.threshold_ms)
        if late_ms > self.threshold_ms and now - self._logged_at >= 1.0:
            self._logged_at = now
            log.warning(
                "event loop stalled %.0f ms (%.0f ms of it garbage collection; the loop's thread ran %.0f ms)",
                late_ms,
                gc_ms,
                cpu_ms,
            )
        if now - self._interval.started >= self.interval_s:
            self._end_interval()

    def _end_interval(self) -> None:
        stats = self._previous = self._interval.frozen()
        if stats.worst_stall_ms > self.threshold_ms:
            full = stats.gc[GENERATIONS - 1].pauses
            log.warning(
                "event loop: %d stalls over %.0f ms in %.0f s, the longest %.0f ms (%.0f ms garbage collection); "
                "%d full collections, the longest %.0f ms (%.0f ms of CPU)",
                stats.stalls.over(self.threshold_ms),
                self.threshold_ms,
                stats.seconds,
                stats.worst_stall_ms,
                stats.worst_stall_gc_ms,
                full.count,
                full.max_ms,
                stats.gc[GENERATIONS - 1].max_cpu_ms,
            )
        self._interval = _Record()

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        # Called around every collection, hundreds a second: kept short. The CPU clock (a system call
        # here, about 2 µs) is read for the older generations only; a young collection's CPU time is
        # counted as its wall time (it is rarely descheduled in its fraction of a millisecond).
        generation = info["generation"]
        if phase == "start":
            self._gc_generation = generation
            self._gc_cpu_started = time.thread_time() if generation else 0.0
            self._gc_started = time.perf_counter()
            return
        ended = time.perf_counter()
        started, self._gc_started = self._gc_started, None
        if started is None:  # the watch began during a collection
            return
        ms = (ended - started) * 1000.0
        cpu_ms = (time.thread_time() - self._gc_cpu_started) * 1000.0 if generation else ms
        self._gc_ms_since_wake += ms
        collected, uncollectable = info["collected"], info["uncollectable"]
        self._total.collection(generation, ms, cpu_ms, collected, uncollectable)
        self._interval.collection(generation, ms, cpu_ms, collected, uncollectable)
