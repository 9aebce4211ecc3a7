"""How long the client waits before each reconnection attempt: exponential backoff with full jitter.

Full jitter (a uniform random wait between 0 and the exponential ceiling) spreads the reconnections of many
clients dropped at the same moment (a server restart, a network blip) over the whole interval, instead of
bringing them back together in waves.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

BACKOFF_FIRST_S = 0.5
"""The ceiling of the first wait; each later attempt doubles it."""

BACKOFF_MAX_S = 30.0
"""The ceiling never grows beyond this."""


@dataclass(frozen=True)
class Backoff:
    """Before attempt `n` (0 for the first after a drop), wait a uniform random time in
    [0, min(max_s, first_s * 2**n)]."""

    first_s: float = BACKOFF_FIRST_S
    max_s: float = BACKOFF_MAX_S

    def ceiling(self, attempt: int) -> float:
        return min(self.max_s, self.first_s * 2.0 ** min(attempt, 62))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        return (rng or random).uniform(0.0, self.ceiling(attempt))


DEFAULT_BACKOFF = Backoff()
