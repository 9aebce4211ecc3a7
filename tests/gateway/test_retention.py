"""Retention (`gateway/replays/_retention.py`): a sweep deletes the recordings that ended longer ago than the
retention, their records (parts and events too) and their files, and nothing else; it finishes a delete cut
short, and removes a recording folder no record names once it has settled. A real store (SQLite file) and real
files; the store's clock is moved forward by the test."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import store
from gateway import config
from gateway.replays import DAY_S, Retention
from tests.store.conftest import CHEAP_HASHER, FakeClock

START_S = 1_700_000_000.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START_S)


@pytest.fixture
async def db(tmp_path: Path, clock: FakeClock) -> AsyncIterator[store.Database]:
    async with store.open_database(tmp_path / "stoa.db", clock=clock, hasher=CHEAP_HASHER) as database:
        yield database


async def record(db: store.Database, data: Path, rid: str, started_s: float, ended_s: float | None) -> list[Path]:
    """A recording of two parts, with their files (what the recorder leaves: real bytes on disk)."""
    space_id = f"space-{rid}"
    await store.create_space(db, space_id, "Morning show", "u1", int(started_s * 1000), 0)
    await store.create_recording(db, store.NewRecording(rid, space_id, "u1", "Morning show", int(started_s * 1000)))
    files = []
    for part in (0, 1):
        path = f"recordings/{rid}/part-{part}.opus"
        (data / path).parent.mkdir(parents=True, exist_ok=True)
        (data / path).write_bytes(b"OggS" + os.urandom(2000))
        files.append(data / path)
        await store.add_recording_part(db, store.NewRecordingPart(rid, part, path, part * 60_000))
        await store.finish_recording_part(db, store.FinishedPart(rid, part, 60_000, 2004))
    await store.add_recording_event(db, store.RecordingEvent(rid, 10, "consent_given", "u1"))
    if ended_s is not None:
        await store.finish_recording(db, rid, int(ended_s * 1000))
    return files


async def kept(db: store.Database, rid: str, files: list[Path]) -> bool:
    return (
        await store.get_recording(db, rid) is not None
        and len(await store.recording_parts(db, rid)) == 2
        and all(f.exists() for f in files)
    )


async def gone(db: store.Database, data: Path, rid: str) -> bool:
    return (
        await store.get_recording(db, rid) is None
        and await store.recording_parts(db, rid) == []
        and await store.recording_events(db, rid) == []
        and rid not in await store.deleted_recordings(db)
        and not (data / "recordings" / rid).exists()
    )


async def test_a_sweep_deletes_expired_recordings_with_their_records_and_files(
    db: store.Database, clock: FakeClock, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    now = START_S + 100 * DAY_S
    clock.now = now
    old = await record(db, data, "r-01d", now - 40 * DAY_S, now - 31 * DAY_S)
    recent = await record(db, data, "r-2ec", now - 31 * DAY_S, now - 30 * DAY_S + 60)
    running = await record(db, data, "r-3a1", now - 60 * DAY_S, None)  # still recording: never expires
    retention = Retention(db, data, 30 * DAY_S)

    swept = await retention.sweep()
    assert swept.recordings == 1
    assert await gone(db, data, "r-01d")
    assert not any(f.exists() for f in old)
    assert await kept(db, "r-2ec", recent)
    assert await kept(db, "r-3a1", running)

    # Nothing more until the recent one's time comes; then it goes too, the running one stays.
    assert (await retention.sweep()).recordings == 0
    clock.advance(120)
    assert (await retention.sweep()).recordings == 1
    assert await gone(db, data, "r-2ec")
    assert await kept(db, "r-3a1", running)

    # "forever": nothing expires.
    await store.finish_recording(db, "r-3a1", int(clock.now * 1000))
    clock.advance(365 * DAY_S)
    assert (await Retention(db, data, None).sweep()).recordings == 0
    assert await kept(db, "r-3a1", running)


async def test_a_sweep_finishes_a_delete_cut_short_and_removes_settled_orphan_folders(
    db: store.Database, clock: FakeClock, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    cut = await record(db, data, "r-c07", START_S, START_S + 600)
    await store.delete_recording(db, "r-c07", int(clock.now * 1000))  # hidden; files and rows left (a crash)
    assert await store.get_recording(db, "r-c07") is None and all(f.exists() for f in cut)

    settled = data / "recordings" / "r-0ff"
    settled.mkdir(parents=True)
    (settled / "part-0.opus").write_bytes(b"OggS")
    an_hour_ago = time.time() - 3700
    for path in (settled / "part-0.opus", settled):
        os.utime(path, (an_hour_ago, an_hour_ago))
    fresh = data / "recordings" / "r-f2e"  # a recorder's folder a moment before its record: kept
    fresh.mkdir(parents=True)
    (fresh / "part-0.opus").write_bytes(b"OggS")
    stranger = data / "recordings" / "notes"  # not a recording's folder: never touched
    stranger.mkdir()
    os.utime(stranger, (an_hour_ago, an_hour_ago))

    swept = await Retention(db, data, 30 * DAY_S).sweep()
    assert (swept.recordings, swept.orphan_folders) == (1, 1)
    assert await gone(db, data, "r-c07")
    assert not settled.exists()
    assert fresh.exists() and stranger.exists()


def test_the_retention_setting_reaches_the_servers_config() -> None:
    default = config.gateway_config(config.Settings())
    assert default.recording_retention_s == 30 * DAY_S and default.recording_link_lifetime_s == 600
    flagged = config.load(env={"STOA_RECORDINGS_RETENTION": "9"}, flags={"recordings__retention": "2.5"})
    assert config.gateway_config(flagged).recording_retention_s == 2.5 * DAY_S
    forever = config.load(env={"STOA_RECORDINGS_RETENTION": "forever"})
    assert config.gateway_config(forever).recording_retention_s is None
