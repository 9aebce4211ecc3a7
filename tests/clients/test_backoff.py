"""The client's reconnection backoff: exponential ceilings, full jitter under them, a drain's clients spread
over 0-2 s, a `Retry-After` honoured; and which closes it reconnects after (the close-code table of
docs/protocol.md)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from stoa_client import (
    BACKOFF_FIRST_S,
    BACKOFF_MAX_S,
    DRAIN_SPREAD_S,
    RETRY_AFTER_MAX_S,
    Backoff,
    retry_after_s,
    should_reconnect,
)


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


def test_after_a_drain_the_first_wait_is_spread_over_0_to_2_s_then_the_usual_backoff() -> None:
    backoff, rng = Backoff(), random.Random(11)
    waits = [backoff.wait(0, close_code=4004, rng=rng) for _ in range(2000)]
    assert DRAIN_SPREAD_S == 2.0 and all(0 <= w <= DRAIN_SPREAD_S for w in waits)
    halves = [sum(h * 1.0 <= w < (h + 1) * 1.0 for w in waits) for h in range(2)]
    assert all(900 < count < 1100 for count in halves), halves  # the whole 2 s, evenly, not only 0-0.5 s
    # The control: any other close's first wait is under the first ceiling (0.5 s), and so is a drain's second.
    assert max(backoff.wait(0, close_code=1006, rng=rng) for _ in range(500)) <= BACKOFF_FIRST_S
    assert max(backoff.wait(1, close_code=4004, rng=rng) for _ in range(500)) <= backoff.ceiling(1)


def test_a_retry_after_is_waited_with_the_usual_jitter_on_top() -> None:
    backoff, rng = Backoff(), random.Random(5)
    waits = [backoff.wait(2, close_code=4004, retry_after_s=5.0, rng=rng) for _ in range(1000)]
    assert all(5.0 <= w <= 5.0 + backoff.ceiling(2) for w in waits)
    assert max(waits) - min(waits) > backoff.ceiling(2) / 2  # spread, not one instant for every client
    assert backoff.wait(0, retry_after_s=10_000.0, rng=rng) <= RETRY_AFTER_MAX_S + BACKOFF_FIRST_S


NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"retry-after", b"5")], 5.0),
        ([(b"content-type", b"text/plain"), (b"Retry-After", b" 10 ")], 10.0),
        ([(b"retry-after", b"0")], 0.0),
        ([(b"retry-after", b"999999999999")], RETRY_AFTER_MAX_S),
        ([(b"retry-after", format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True).encode())], 30.0),
        ([(b"retry-after", format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True).encode())], 0.0),
        ([(b"retry-after", b"soon")], None),
        ([(b"retry-after", b"-5")], None),
        ([(b"retry-after", "\u00b2".encode("latin-1"))], None),  # a digit to str.isdigit, not to HTTP
        ([], None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(headers: list[tuple[bytes, bytes]], expected: float) -> None:
    found = retry_after_s(headers, now=NOW)
    assert found == (None if expected is None else pytest.approx(expected))
