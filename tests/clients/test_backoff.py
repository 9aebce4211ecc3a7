"""The client's reconnection backoff: exponential ceilings, full jitter under them; and which closes it
reconnects after (the close-code table of docs/protocol.md)."""

from __future__ import annotations

import random

from stoa_client import BACKOFF_FIRST_S, BACKOFF_MAX_S, Backoff, should_reconnect


def test_the_ceiling_doubles_from_the_first_wait_up_to_the_cap() -> None:
    backoff = Backoff()
    assert [backoff.ceiling(n) for n in range(4)] == [BACKOFF_FIRST_S * 2**n for n in range(4)]
    assert backoff.ceiling(10) == backoff.ceiling(10_000) == BACKOFF_MAX_S


def test_waits_are_spread_over_the_whole_interval_under_the_ceiling() -> None:
    backoff, rng = Backoff(), random.Random(7)
    waits = [backoff.delay(3, rng) for _ in range(2000)]
    assert all(0 <= w <= backoff.ceiling(3) for w in waits)
    # Full jitter: clients dropped together come back spread out, not in a wave.
    quarters = [sum(q * 1.0 <= w < (q + 1) * 1.0 for w in waits) for q in range(4)]  # ceiling(3) is 4 s
    assert all(400 < count < 600 for count in quarters), quarters


def test_the_client_reconnects_after_exactly_the_closes_the_table_says() -> None:
    again = {None, 1001, 1006, 1011, 4000, 4001, 4003, 4004, 4100}
    never = {1000, 1003, 1008, 1009, 4002, 4005}
    assert all(should_reconnect(code) for code in again)
    assert not any(should_reconnect(code) for code in never)
