"""How long the client waits before each reconnection attempt: exponential backoff with full jitter, a drained
server's clients spread over 0-2 s, and the server's `Retry-After` honoured.

Full jitter (a uniform random wait between 0 and the exponential ceiling) spreads the reconnections of many
clients dropped at the same moment (a server restart, a network blip) over the whole interval, instead of
bringing them back together in waves. A drain (close 4004) is such a moment by design: the first wait after it
is uniform over 0 to 2 s (docs/protocol.md, Close codes). A refused handshake (HTTP 503 while a server drains,
429 past the connections per address) may say when to come back (`Retry-After`): the next wait is that long,
plus the usual jittered wait on top (so clients refused together do not come back together either).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

BACKOFF_FIRST_S = 0.5
"""The ceiling of the first wait; each later attempt doubles it."""

BACKOFF_MAX_S = 30.0
"""The ceiling never grows beyond this."""

DRAINING = 4004
DRAIN_SPREAD_S = 2.0
"""After a close with 4004 (the server drains), the first wait is uniform over 0 to this."""

RETRY_AFTER_MAX_S = 300.0
"""A `Retry-After` is honoured up to this many seconds (a longer one is cut to it)."""


@dataclass(frozen=True)
class Backoff:
    """Before attempt `n` (0 for the first after a drop), wait a uniform random time in
    [0, min(max_s, first_s * 2**n)]; see `wait` for a drain and a `Retry-After`."""

    first_s: float = BACKOFF_FIRST_S
    max_s: float = BACKOFF_MAX_S
    drain_spread_s: float = DRAIN_SPREAD_S

    def ceiling(self, attempt: int) -> float:
        return min(self.max_s, self.first_s * 2.0 ** min(attempt, 62))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        return (rng or random).uniform(0.0, self.ceiling(attempt))

    def wait(
        self,
        attempt: int,
        *,
        close_code: int | None = None,
        retry_after_s: float | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """The wait before attempt `attempt` after a connection closed with `close_code`, the last attempt having
        been refused with `retry_after_s` (None: it said nothing, or there was no refusal)."""
        if retry_after_s is not None:
            return min(retry_after_s, RETRY_AFTER_MAX_S) + self.delay(attempt, rng)
        if attempt == 0 and close_code == DRAINING:
            return (rng or random).uniform(0.0, self.drain_spread_s)
        return self.delay(attempt, rng)


def retry_after_s(headers: Iterable[tuple[bytes, bytes]], now: float | None = None) -> float | None:
    """The seconds a refused handshake's `Retry-After` asks for (RFC 9110: delay-seconds or an HTTP date), from
    0 to `RETRY_AFTER_MAX_S`; None when it has none, or none that parses."""
    for name, value in headers:
        if name.lower() != b"retry-after":
            continue
        text = value.decode("latin-1").strip()
        if text.isascii() and text.isdigit():
            return min(float(int(text)), RETRY_AFTER_MAX_S)
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000": UTC, as every HTTP date is
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
        return min(max(0.0, seconds), RETRY_AFTER_MAX_S)
    return None


DEFAULT_BACKOFF = Backoff()
