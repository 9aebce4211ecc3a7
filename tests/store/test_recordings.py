"""Recordings in the store: a recording's parts and events written with the change that makes them, in one
transaction; its duration from its finished parts; the listing (public, and private to its host), retention
and two-step deletion; what a restart needs (unfinished parts, live recordings)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio

from store import (
    BadArgument,
    Database,
    FinishedPart,
    NewRecording,
    NewRecordingPart,
    RecordingChanges,
    RecordingEvent,
    add_recording_event,
    add_recording_part,
    create_recording,
    create_space,
    delete_recording,
    deleted_recordings,
    expired_recordings,
    finish_recording,
    finish_recording_part,
    get_recording,
    list_recordings,
    live_recordings,
    open_database,
    part_count,
    purge_recording,
    record_changes,
    recording_events,
    recording_parts,
    set_recording_visibility,
    unfinished_recording_parts,
)
from tests.store.conftest import CEILING, CHEAP_HASHER


def path_of(recording_id: str, part: int) -> str:
    return f"recordings/{recording_id}/part-{part}.opus"


async def recorded_space(
    db: Database, space_id: str = "s1", recording_id: str = "r-01", started_at: int = 10_000
) -> None:
    await create_space(db, space_id, "A recorded space", "u1", 1000, 1)
    await record_changes(
        db,
        RecordingChanges(
            created=(NewRecording(recording_id, space_id, "u1", "A recorded space", started_at),),
            parts_added=(NewRecordingPart(recording_id, 0, path_of(recording_id, 0), 0),),
            events=(RecordingEvent(recording_id, 0, "recording_started", "u1"),),
        ),
    )


async def test_a_recording_its_parts_and_events_are_kept_in_order_and_its_duration_follows_its_parts(
    db: Database,
) -> None:
    with trio.fail_after(CEILING):
        await recorded_space(db)
        live = await get_recording(db, "r-01")
        assert live is not None and live.ended_at is None and live.duration_ms == 0
        assert live.visibility == "public" and live.host_id == "u1" and live.space_id == "s1"
        await add_recording_event(db, RecordingEvent("r-01", 1500, "consent_declined", "u2"))
        await add_recording_event(db, RecordingEvent("r-01", 4000, "consent_given", "u2"))
        await finish_recording_part(db, FinishedPart("r-01", 0, 60_000, 120_000))
        await add_recording_part(db, NewRecordingPart("r-01", 1, path_of("r-01", 1), 65_000))
        await finish_recording_part(db, FinishedPart("r-01", 1, 5_000, 9_000))
        await finish_recording(db, "r-01", 80_000)
        await finish_recording(db, "r-01", 99_000)  # an ended recording keeps its end

        done = await get_recording(db, "r-01")
        assert done is not None and done.ended_at == 80_000
        assert done.duration_ms == 70_000, "the end of its last part on the recording's timeline"
        parts = await recording_parts(db, "r-01")
        assert [(p.part, p.offset_ms, p.duration_ms, p.bytes, p.finished) for p in parts] == [
            (0, 0, 60_000, 120_000, True),
            (1, 65_000, 5_000, 9_000, True),
        ]
        assert [p.path for p in parts] == ["recordings/r-01/part-0.opus", "recordings/r-01/part-1.opus"]
        events = await recording_events(db, "r-01")
        assert [(e.at_ms, e.kind, e.user) for e in events] == [
            (0, "recording_started", "u1"),
            (1500, "consent_declined", "u2"),
            (4000, "consent_given", "u2"),
        ]
        assert await part_count(db, "r-01") == 2 and await part_count(db, "r-none") == 0


async def test_one_change_is_written_whole_or_not_at_all(db: Database) -> None:
    """A change of a space writes its recording rows and `also` (its webhook rows) in one transaction: if
    any of it fails, none of it is kept."""
    with trio.fail_after(CEILING):
        await create_space(db, "s1", "A recorded space", "u1", 1000, 1)
        changes = RecordingChanges(
            created=(NewRecording("r-01", "s1", "u1", "A recorded space", 10_000),),
            parts_added=(NewRecordingPart("r-01", 0, path_of("r-01", 0), 0),),
        )

        def fail(conn: sqlite3.Connection) -> None:
            raise RuntimeError("the outbox's write failed")

        with pytest.raises(RuntimeError):
            await record_changes(db, changes, also=fail)
        assert await get_recording(db, "r-01") is None and await recording_parts(db, "r-01") == []
        await record_changes(db, changes)  # the control: the same change, written
        assert await get_recording(db, "r-01") is not None


async def test_an_unknown_event_kind_or_visibility_is_refused(db: Database) -> None:
    with trio.fail_after(CEILING):
        await recorded_space(db)
        with pytest.raises(sqlite3.IntegrityError):
            await add_recording_event(db, RecordingEvent("r-01", 0, "consent_maybe", "u2"))  # type: ignore[arg-type]
        with pytest.raises(BadArgument):
            await set_recording_visibility(db, "r-01", "friends")  # type: ignore[arg-type]


async def test_private_recordings_are_listed_to_their_host_only_newest_first_and_paged(db: Database) -> None:
    with trio.fail_after(CEILING):
        await create_space(db, "s1", "Space", "u1", 1000, 1)
        for i in range(5):
            await create_recording(db, NewRecording(f"r-0{i}", "s1", "u1", "Space", 10_000 + i))
        assert await set_recording_visibility(db, "r-03", "private")
        assert not await set_recording_visibility(db, "r-99", "private")

        everyone = await list_recordings(db)
        assert [r.id for r in everyone] == ["r-04", "r-02", "r-01", "r-00"]
        host = await list_recordings(db, viewer="u1")
        assert [r.id for r in host] == ["r-04", "r-03", "r-02", "r-01", "r-00"]
        assert [r.id for r in await list_recordings(db, viewer="u2")] == [r.id for r in everyone]
        first = await list_recordings(db, viewer="u1", limit=2)
        rest = await list_recordings(db, viewer="u1", before=(first[-1].started_at, first[-1].id), limit=10)
        assert [r.id for r in first + rest] == [r.id for r in host]
        assert await list_recordings(db, space_id="other") == []
        with pytest.raises(BadArgument):
            await list_recordings(db, limit=0)


async def test_retention_finds_recordings_ended_before_a_moment_and_deletion_takes_two_steps(db: Database) -> None:
    with trio.fail_after(CEILING):
        await recorded_space(db, recording_id="r-01", started_at=10_000)
        await finish_recording(db, "r-01", 20_000)
        await create_recording(db, NewRecording("r-02", "s1", "u1", "Space", 30_000))
        await finish_recording(db, "r-02", 40_000)
        await create_recording(db, NewRecording("r-03", "s1", "u1", "Space", 50_000))  # still recording

        assert [r.id for r in await expired_recordings(db, 35_000)] == ["r-01"]
        assert [r.id for r in await expired_recordings(db, 10**12)] == ["r-01", "r-02"]

        paths = await delete_recording(db, "r-01", at=60_000)
        assert paths == ["recordings/r-01/part-0.opus"]
        assert await get_recording(db, "r-01") is None, "hidden at once"
        assert [r.id for r in await list_recordings(db)] == ["r-03", "r-02"]
        assert [r.id for r in await expired_recordings(db, 10**12)] == ["r-02"]
        assert await deleted_recordings(db) == ["r-01"]
        assert await recording_parts(db, "r-01") != [], "its files can still be found until purged"
        await purge_recording(db, "r-01")
        assert await deleted_recordings(db) == [] and await recording_parts(db, "r-01") == []
        assert await recording_events(db, "r-01") == []
        await purge_recording(db, "r-02")  # not deleted: purging does nothing
        assert await get_recording(db, "r-02") is not None


async def test_a_restart_finds_the_unfinished_parts_and_the_recordings_still_live(tmp_path: Path) -> None:
    path = tmp_path / "stoa.db"
    with trio.fail_after(CEILING):
        async with open_database(path, hasher=CHEAP_HASHER) as db:
            await recorded_space(db, "s1", "r-01")
            await recorded_space(db, "s2", "r-02")
            await finish_recording_part(db, FinishedPart("r-02", 0, 1000, 2000))
            await finish_recording(db, "r-02", 12_000)
        async with open_database(path, hasher=CHEAP_HASHER) as db:
            unfinished = await unfinished_recording_parts(db)
            assert [(p.recording_id, p.part, p.path) for p in unfinished] == [("r-01", 0, path_of("r-01", 0))]
            assert [r.id for r in await live_recordings(db)] == ["r-01"]
