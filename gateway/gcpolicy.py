"""GcPolicy: the server's garbage-collection policy, which keeps every collection's pause short.

Why: CPython's full collections walk every tracked object. A connection holds about 150 of them (its
session, its WebSocket and protocol state, its tasks), so at 10,000 connections a full collection
walked 1.5 million objects and stopped the event loop for 0.2-1.3 s (speakers' packets waited, the space
fell silent), every few seconds, and freed nothing: nearly all of those objects live as long as their
connection.

The policy (docs/operations.md, "Garbage collection"):
- At start, collect once and `gc.freeze()` what exists (modules, classes, the server's own objects):
  the collector never walks them again.
- Young collections (generations 0 and 1) stay CPython's: they are short, and they free most garbage.
- Automatic full collections are off (the third threshold is out of reach). Instead this task looks every
  `check_s` at how many objects may have reached the old generation since the last freeze (each
  collection of generation 1 moves at most about `threshold0 * (threshold1 + 1)` objects there, and
  CPython counts those collections: an O(1) look); once that may pass `young_budget`, it collects (a
  full collection, but of the unfrozen objects only) and freezes the survivors. Each pause is bounded by
  about `young_budget` objects, and what is frozen has just survived a collection: it is live,
  long-lived state (connections, spaces).
- A burst outruns that bound: 3,000 joins a second make hundreds of thousands of old objects a second, and
  CPython's count is no true bound then (a young generation grows past its threshold while old objects
  die, as they do when thousands leave), so a collection found 60,000-200,000 and took 0.06-0.25 s, in
  the middle of the burst (the joins' own longest stall; `bench/joins_bench.py`). Counting them exactly
  (`gc.get_objects`) touches each one: 40 ms for 120,000 scattered through a busy server's memory, and
  a collection of the old objects took 1.7 µs each (a quiet second's 56,000: 94 ms). So the policy walks
  the old objects only when the server is quiet (the budget took at least `quiet_s`, a second, to fill,
  and less than a quarter of it came since the last look) and the estimate is within `collect_limit`;
  in a burst (joins, or a crowd leaving) it collects the young generations alone (a few ms) and freezes
  the rest unwalked (`unwalked_freezes`). What that leaves unexamined is what survived a
  young collection since the last freeze (under a second before): live then (sessions, their tasks,
  their places in their spaces). One that has since died in a reference cycle
  stays frozen until a sweep, the same risk as a live object frozen and later dead (below), which the
  same test covers with freezes forced unwalked throughout a churn of connections.
- Frozen objects that later die are freed by reference counting, as usual; only a reference cycle among
  frozen objects would stay. So the objects that outlive a freeze must not end in cycles: a session
  breaks its one cycle (with its space link) when it ends, and `tests/gateway/test_gc_policy.py` churns
  thousands of connections through freezes and checks that nothing is left. As a safety net, every
  `sweep_s` the policy unfreezes everything and collects it all, but only while the frozen set is small
  enough (`sweep_budget` objects) that the pause stays short: a quiet server gives back anything leaked.
  CPython counts the frozen set by walking it (`gc.get_freeze_count()`: 0.1-0.2 s at 10,000
  connections, itself a stall), so the policy keeps its own count instead: what each freeze added
  (`len(gc.get_objects())` just before it, the survivors of a collection of at most `young_budget`; after
  an unwalked freeze, the estimate of the old ones and the count of the young), an upper bound (but for
  that estimate), since frozen objects that die are not counted out; a sweep counts exactly again.

Resource handling: `run()` sets the thresholds and freezes; when it ends (cancelled included) it
unfreezes and restores the thresholds it found, so a test process that ran a server is left as it was.
"""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass

import trio

log = logging.getLogger("gateway.gc")

NO_FULL_COLLECTIONS = 2**31 - 1
"""A third threshold never reached: CPython starts no full collection by itself."""


@dataclass(frozen=True, slots=True)
class GcPolicyStats:
    """What the policy did since it started."""

    frozen_at_most: int
    """Objects frozen since the last sweep, or counted then: an upper bound of those frozen now."""
    freezes: int
    """Bounded collections followed by a freeze."""
    sweeps: int
    """Safety-net sweeps: everything unfrozen and collected."""
    swept: int
    """Objects the sweeps freed: cycles among frozen objects (a leak had they stayed frozen)."""
    unwalked_freezes: int
    """Of the freezes, those in a burst: the young generations collected, the old ones frozen unwalked."""
    longest_pause_ms: float
    """The longest pause of a freeze (its collection, the counting and the freeze)."""


class GcPolicy:
    def __init__(
        self,
        *,
        check_s: float = 0.1,
        young_budget: int = 25_000,
        collect_limit: int = 30_000,
        quiet_s: float | None = 1.0,
        sweep_s: float = 60.0,
        sweep_budget: int = 200_000,
    ) -> None:
        self.check_s = check_s
        self.young_budget = young_budget
        self.collect_limit = collect_limit
        self.quiet_s = quiet_s
        self.sweep_s = sweep_s
        self.sweep_budget = sweep_budget
        self._freezes = 0
        self._frozen_at_most = 0
        self._sweeps = 0
        self._swept = 0
        self._unwalked = 0
        self._longest_pause_s = 0.0
        self._old_base = 0  # CPython's count of young collections at the last freeze (a freeze keeps it)
        self._frozen_at = 0.0

    def stats(self) -> GcPolicyStats:
        longest = round(self._longest_pause_s * 1000.0, 1)
        return GcPolicyStats(self._frozen_at_most, self._freezes, self._sweeps, self._swept, self._unwalked, longest)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Apply the policy until cancelled."""
        thresholds = gc.get_threshold()
        young0, young1 = thresholds[0], thresholds[1]
        gc.set_threshold(young0, young1, NO_FULL_COLLECTIONS)
        per_collection = young0 * (young1 + 1)  # the most one collection of generation 1 makes old
        try:
            gc.collect()
            gc.freeze()  # what start-up made
            self._old_base = gc.get_count()[2]
            self._frozen_at_most = gc.get_freeze_count()  # once, while it is small
            task_status.started()
            last_sweep = self._frozen_at = time.monotonic()
            looked = 0  # what had become old at the last look
            while True:
                await trio.sleep(self.check_s)
                made_old = self._young_collections() * per_collection
                now = time.monotonic()
                if made_old >= self.young_budget:
                    busy = self.quiet_s is not None and (
                        made_old - looked >= self.young_budget // 4 or now - self._frozen_at < self.quiet_s
                    )
                    self.freeze_old(made_old, burst=busy)
                    self._frozen_at, made_old = now, 0
                looked = made_old
                if now - last_sweep >= self.sweep_s:
                    last_sweep = now
                    if self._frozen_at_most + self._young_collections() * per_collection <= self.sweep_budget:
                        self._sweep()
        finally:
            gc.unfreeze()
            gc.set_threshold(*thresholds)

    def _young_collections(self) -> int:
        """Collections of generation 1 since the last freeze: each made at most so many objects old. A full
        collection by someone else (`gc.collect()`) resets CPython's count: the base follows it down, so the
        count never reads negative (which would hold freezing off until it climbed back)."""
        count = gc.get_count()[2]
        self._old_base = min(self._old_base, count)
        return count - self._old_base

    def freeze_old(self, made_old: int, *, burst: bool = False) -> None:
        """What the policy does past its budget (`made_old`: about so many objects became old since the
        last freeze; `burst`: the server is busy making them): `collect_and_freeze`, unless in a burst or
        past `collect_limit`; then the young generations collected and all frozen."""
        if not burst and made_old <= self.collect_limit:
            self.collect_and_freeze()
            return
        started = time.perf_counter()
        young = len(gc.get_objects(0)) + len(gc.get_objects(1))  # the few young ones: hot, a fraction of a ms
        gc.collect(1)
        self._freeze(started, made_old + young)
        self._unwalked += 1

    def collect_and_freeze(self) -> None:
        """Collect the unfrozen objects and freeze the survivors now."""
        started = time.perf_counter()
        gc.collect()  # the frozen objects are not walked: this pause is bounded by the unfrozen ones
        self._freeze(started, len(gc.get_objects()))  # the survivors (the unfrozen ones only)

    def _freeze(self, started: float, unfrozen: int) -> None:
        self._frozen_at_most += unfrozen
        gc.freeze()
        self._old_base = gc.get_count()[2]
        self._freezes += 1
        self._longest_pause_s = max(self._longest_pause_s, time.perf_counter() - started)

    def _sweep(self) -> None:
        gc.collect()  # the unfrozen garbage first, so what the next collection frees had been frozen
        gc.unfreeze()
        freed = gc.collect()
        self._frozen_at_most = len(gc.get_objects())
        gc.freeze()
        self._old_base = gc.get_count()[2]
        self._sweeps += 1
        self._swept += freed
        if freed:
            log.info("gc sweep freed %d objects that had been frozen", freed)
