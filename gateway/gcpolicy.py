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
- Frozen objects that later die are freed by reference counting, as usual; only a reference cycle among
  frozen objects would stay. So the objects that outlive a freeze must not end in cycles: a session
  breaks its one cycle (with its space link) when it ends, and `tests/gateway/test_gc_policy.py` churns
  thousands of connections through freezes and checks that nothing is left. As a safety net, every
  `sweep_s` the policy unfreezes everything and collects it all, but only while the frozen set is small
  enough (`sweep_budget` objects) that the pause stays short: a quiet server gives back anything leaked.
  CPython counts the frozen set by walking it (`gc.get_freeze_count()`: 0.1-0.2 s at 10,000
  connections, itself a stall), so the policy keeps its own count instead: what each freeze added
  (`len(gc.get_objects())` just before it, the survivors of a collection of at most `young_budget`),
  an upper bound, since frozen objects that die are not counted out; a sweep counts exactly again.

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


class GcPolicy:
    def __init__(
        self,
        *,
        check_s: float = 0.1,
        young_budget: int = 25_000,
        sweep_s: float = 60.0,
        sweep_budget: int = 200_000,
    ) -> None:
        self.check_s = check_s
        self.young_budget = young_budget
        self.sweep_s = sweep_s
        self.sweep_budget = sweep_budget
        self._freezes = 0
        self._frozen_at_most = 0
        self._sweeps = 0
        self._swept = 0

    def stats(self) -> GcPolicyStats:
        return GcPolicyStats(self._frozen_at_most, self._freezes, self._sweeps, self._swept)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Apply the policy until cancelled."""
        thresholds = gc.get_threshold()
        young0, young1 = thresholds[0], thresholds[1]
        gc.set_threshold(young0, young1, NO_FULL_COLLECTIONS)
        per_collection = young0 * (young1 + 1)  # the most one collection of generation 1 makes old
        try:
            gc.collect()
            gc.freeze()  # what start-up made
            self._frozen_at_most = gc.get_freeze_count()  # once, while it is small
            task_status.started()
            last_sweep = time.monotonic()
            while True:
                await trio.sleep(self.check_s)
                if gc.get_count()[2] * per_collection >= self.young_budget:
                    self.collect_and_freeze()
                now = time.monotonic()
                if now - last_sweep >= self.sweep_s:
                    last_sweep = now
                    if self._frozen_at_most + gc.get_count()[2] * per_collection <= self.sweep_budget:
                        self._sweep()
        finally:
            gc.unfreeze()
            gc.set_threshold(*thresholds)

    def collect_and_freeze(self) -> None:
        """Collect the unfrozen objects and freeze the survivors now (what the policy does past its budget)."""
        gc.collect()  # the frozen objects are not walked: this pause is bounded by the unfrozen ones
        self._frozen_at_most += len(gc.get_objects())  # the survivors (the unfrozen ones only)
        gc.freeze()
        self._freezes += 1

    def _sweep(self) -> None:
        gc.collect()  # the unfrozen garbage first, so what the next collection frees had been frozen
        gc.unfreeze()
        freed = gc.collect()
        self._frozen_at_most = len(gc.get_objects())
        gc.freeze()
        self._sweeps += 1
        self._swept += freed
        if freed:
            log.info("gc sweep freed %d objects that had been frozen", freed)
