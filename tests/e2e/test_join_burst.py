"""A burst of listeners joining a space where 13 people talk: everyone admitted, nobody refused, and the
snapshots read by Python listeners spread through the burst are right (participants, listener_count, the
joiner itself, the next event's number). Through the join benchmark's own code against a real server
process; CI runs a few hundred, `STOA_SLOW=1` 10,000. Speed is the benchmark's (`bench/joins_bench.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from bench.joins_bench import burst, space_handles
from bench.loop_server import running
from gateway.server import DATABASE_FILE
from loadtest.accounts import seed
from tests.conftest import slow_enabled

pytestmark = pytest.mark.serial  # a burst of joins admitted in time

SPEAKERS = 13


async def test_a_burst_of_listeners_is_admitted_with_correct_snapshots(tmp_path: Path) -> None:
    listeners, witnesses = (10_000, 40) if slow_enabled() else (300, 8)
    data = tmp_path / "data"
    data.mkdir()
    # The host and speakers are seeded, as the load harness seeds its own: not 26 argon2 hashes on the server.
    accounts = await seed(data / DATABASE_FILE, space_handles(SPEAKERS))
    with trio.fail_after(240):
        async with running(data, tmp_path / "server.log") as server:
            # (no stall is checked here: the benchmark measures them; the row goes without the last seconds')
            row = await burst(server, listeners, SPEAKERS, witnesses, accounts=accounts, loop_report_s=0)
    assert row["admitted"] == listeners and row["refused"] == 0, row
    assert row["witnesses_checked"] == witnesses
    assert row["snapshot_errors"] == [], row["snapshot_errors"]
