"""Recordings of spaces as the store keeps them: the recording, its parts (Ogg Opus files in the data folder)
and its events (consent given, declined, withdrawn; started, stopped).

A recording is one stretch of a space recorded, from `set_recording` on (or the space's start) to off (or the
space's end). It is written in parts: part 0 from its start, and one more each time the server comes back
while the space still records (a server restart or a crash): `offset_ms` places each part on the recording's
own timeline (milliseconds from its start, wall clock), so a replay joins them up and keeps the gap. A part
is `finished` once its file was closed properly (or repaired after a crash) and its duration and size are
known. `path` is relative to the data folder: `recordings/<recording id>/part-<n>.opus`.

The space actor writes what a change of its recording needs in one transaction (`record_changes`), with the
webhook outbox's rows for it (`also`). Deleting is two steps, so that no row ever names a file already gone
while the files of a deleted recording can always be found: `delete_recording` hides the recording and
returns its files' paths, the caller removes the files, then `purge_recording` removes the rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Literal

import msgspec

from store._db import Database
from store._errors import BadArgument

Also = Callable[[sqlite3.Connection], None] | None

Visibility = Literal["public", "private"]
EventKind = Literal["consent_given", "consent_declined", "consent_withdrawn", "recording_started", "recording_stopped"]
MAX_LISTED = 100


class StoredRecording(msgspec.Struct, frozen=True):
    """A recording: times in unix ms; `ended_at` None while it records; `duration_ms` its timeline's length
    (the end of its last finished part); `host_id` the host's user id (`u<account id>`)."""

    id: str
    space_id: str
    host_id: str
    title: str
    started_at: int
    ended_at: int | None
    duration_ms: int
    visibility: Visibility
    deleted: bool


class RecordingPart(msgspec.Struct, frozen=True):
    recording_id: str
    part: int
    path: str
    """Relative to the data folder."""
    offset_ms: int
    """Where the part starts on the recording's timeline (ms from the recording's start)."""
    duration_ms: int
    bytes: int
    finished: bool


class RecordingEvent(msgspec.Struct, frozen=True):
    recording_id: str
    at_ms: int
    """Ms from the recording's start."""
    kind: EventKind
    user: str | None
    """Who: the consenting person, or who turned recording on or off (None: the space's end stopped it)."""


class NewRecording(msgspec.Struct, frozen=True):
    id: str
    space_id: str
    host_id: str
    title: str
    started_at: int
    visibility: Visibility = "public"


class NewRecordingPart(msgspec.Struct, frozen=True):
    recording_id: str
    part: int
    path: str
    offset_ms: int


class FinishedPart(msgspec.Struct, frozen=True):
    recording_id: str
    part: int
    duration_ms: int
    bytes: int


class RecordingChanges(msgspec.Struct, frozen=True):
    """What one change of a space does to its recordings, applied in this order in one transaction."""

    created: tuple[NewRecording, ...] = ()
    parts_finished: tuple[FinishedPart, ...] = ()
    parts_added: tuple[NewRecordingPart, ...] = ()
    events: tuple[RecordingEvent, ...] = ()
    finished: tuple[tuple[str, int], ...] = ()
    """(recording id, ended_at ms) of the recordings that end."""

    def __bool__(self) -> bool:
        return bool(self.created or self.parts_finished or self.parts_added or self.events or self.finished)


# -- writing ----------------------------------------------------------------------------------------------


async def record_changes(db: Database, changes: RecordingChanges, *, also: Also = None) -> None:
    """Apply `changes` (and `also`) in one transaction."""

    def write(conn: sqlite3.Connection) -> None:
        apply_changes(conn, changes)
        if also is not None:
            also(conn)

    await db.write(write)


def apply_changes(conn: sqlite3.Connection, changes: RecordingChanges) -> None:
    for r in changes.created:
        _check_visibility(r.visibility)
        conn.execute(
            "INSERT INTO recordings (id, space_id, host_id, title, started_at, visibility) VALUES (?, ?, ?, ?, ?, ?)",
            (r.id, r.space_id, r.host_id, r.title, r.started_at, r.visibility),
        )
    for f in changes.parts_finished:
        _finish_part(conn, f)
    for p in changes.parts_added:
        conn.execute(
            "INSERT INTO recording_parts (recording_id, part, path, offset_ms) VALUES (?, ?, ?, ?)",
            (p.recording_id, p.part, p.path, p.offset_ms),
        )
    for e in changes.events:
        conn.execute(
            "INSERT INTO recording_events (recording_id, at_ms, kind, user) VALUES (?, ?, ?, ?)",
            (e.recording_id, max(0, e.at_ms), e.kind, e.user),
        )
    for recording_id, ended_at in changes.finished:
        conn.execute("UPDATE recordings SET ended_at = ? WHERE id = ? AND ended_at IS NULL", (ended_at, recording_id))
        _update_duration(conn, recording_id)


def _finish_part(conn: sqlite3.Connection, f: FinishedPart) -> None:
    conn.execute(
        "UPDATE recording_parts SET duration_ms = ?, bytes = ?, finished = 1 WHERE recording_id = ? AND part = ?",
        (max(0, f.duration_ms), max(0, f.bytes), f.recording_id, f.part),
    )
    _update_duration(conn, f.recording_id)


def _update_duration(conn: sqlite3.Connection, recording_id: str) -> None:
    conn.execute(
        "UPDATE recordings SET duration_ms = coalesce((SELECT max(offset_ms + duration_ms) FROM recording_parts"
        " WHERE recording_id = ? AND finished = 1), 0) WHERE id = ?",
        (recording_id, recording_id),
    )


async def create_recording(db: Database, recording: NewRecording, *, also: Also = None) -> None:
    await record_changes(db, RecordingChanges(created=(recording,)), also=also)


async def add_recording_part(db: Database, part: NewRecordingPart, *, also: Also = None) -> None:
    await record_changes(db, RecordingChanges(parts_added=(part,)), also=also)


async def finish_recording_part(db: Database, part: FinishedPart, *, also: Also = None) -> None:
    """The part's file is closed (or repaired): its duration and size; the recording's duration follows."""
    await record_changes(db, RecordingChanges(parts_finished=(part,)), also=also)


async def add_recording_event(db: Database, event: RecordingEvent, *, also: Also = None) -> None:
    await record_changes(db, RecordingChanges(events=(event,)), also=also)


async def finish_recording(db: Database, recording_id: str, ended_at: int, *, also: Also = None) -> None:
    """The recording ends at `ended_at` (ms); a recording already ended keeps its end."""
    await record_changes(db, RecordingChanges(finished=((recording_id, ended_at),)), also=also)


async def set_recording_visibility(db: Database, recording_id: str, visibility: Visibility) -> bool:
    """Public (anyone may list and replay it) or private (its host only). False if no such recording."""
    _check_visibility(visibility)

    def update(conn: sqlite3.Connection) -> bool:
        return bool(
            conn.execute(
                "UPDATE recordings SET visibility = ? WHERE id = ? AND deleted_at IS NULL", (visibility, recording_id)
            ).rowcount
        )

    return await db.write(update)


async def delete_recording(db: Database, recording_id: str, at: int) -> list[str]:
    """Hide the recording from every read (`get_recording` answers None) and return its files' paths
    (relative to the data folder), for the caller to remove before `purge_recording`. [] if unknown."""

    def update(conn: sqlite3.Connection) -> list[str]:
        conn.execute("UPDATE recordings SET deleted_at = coalesce(deleted_at, ?) WHERE id = ?", (at, recording_id))
        rows = conn.execute("SELECT path FROM recording_parts WHERE recording_id = ? ORDER BY part", (recording_id,))
        return [str(row[0]) for row in rows]

    return await db.write(update)


async def purge_recording(db: Database, recording_id: str) -> None:
    """Remove a deleted recording's rows (its parts and events with it), once its files are gone."""
    await db.write(lambda conn: conn.execute("DELETE FROM recordings WHERE id = ? AND deleted_at IS NOT NULL",
                                             (recording_id,)))  # fmt: skip


# -- reading ----------------------------------------------------------------------------------------------


async def get_recording(db: Database, recording_id: str) -> StoredRecording | None:
    """The recording, live or ended; None if unknown or deleted."""

    def select(conn: sqlite3.Connection) -> StoredRecording | None:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM recordings WHERE id = ? AND deleted_at IS NULL", (recording_id,)
        ).fetchone()
        return None if row is None else _recording(row)

    return await db.read(select)


async def list_recordings(
    db: Database,
    *,
    viewer: str | None = None,
    space_id: str | None = None,
    host_id: str | None = None,
    before: tuple[int, str] | None = None,
    limit: int = 50,
) -> list[StoredRecording]:
    """Recordings newest first (by `started_at`, then id), live ones included: the public ones, and the
    private ones whose host is `viewer`; only `space_id`'s or `host_id`'s when given. Page with the last
    one's `(started_at, id)` as `before`. At most `MAX_LISTED`."""
    if not 1 <= limit <= MAX_LISTED:
        raise BadArgument("limit", f"1 to {MAX_LISTED}")
    where = ["deleted_at IS NULL", "(visibility = 'public' OR host_id = ?)"]
    args: list[object] = [viewer if viewer is not None else ""]
    if space_id is not None:
        where.append("space_id = ?")
        args.append(space_id)
    if host_id is not None:
        where.append("host_id = ?")
        args.append(host_id)
    if before is not None:
        where.append("(started_at, id) < (?, ?)")
        args += [before[0], before[1]]
    statement = (
        f"SELECT {_COLUMNS} FROM recordings WHERE {' AND '.join(where)} ORDER BY started_at DESC, id DESC LIMIT ?"
    )

    def select(conn: sqlite3.Connection) -> list[StoredRecording]:
        return [_recording(row) for row in conn.execute(statement, (*args, limit))]

    return await db.read(select)


async def recording_parts(db: Database, recording_id: str) -> list[RecordingPart]:
    """The recording's parts in order (deleted recordings' too: their files are still to remove)."""
    return await db.read(lambda conn: _parts(conn, "recording_id = ?", (recording_id,)))


async def recording_events(db: Database, recording_id: str) -> list[RecordingEvent]:
    """The recording's events in the order they happened."""

    def select(conn: sqlite3.Connection) -> list[RecordingEvent]:
        rows = conn.execute(
            "SELECT recording_id, at_ms, kind, user FROM recording_events WHERE recording_id = ? ORDER BY id",
            (recording_id,),
        )
        return [RecordingEvent(*row) for row in rows]

    return await db.read(select)


async def expired_recordings(db: Database, older_than_ms: int) -> list[StoredRecording]:
    """Recordings that ended before `older_than_ms` (unix ms) and are not deleted, oldest first."""

    def select(conn: sqlite3.Connection) -> list[StoredRecording]:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM recordings WHERE deleted_at IS NULL AND ended_at IS NOT NULL AND ended_at < ?"
            " ORDER BY ended_at",
            (older_than_ms,),
        )
        return [_recording(row) for row in rows]

    return await db.read(select)


async def deleted_recordings(db: Database) -> list[str]:
    """The ids of recordings deleted but not yet purged (a server stopped between the two steps)."""
    return await db.read(
        lambda conn: [str(r[0]) for r in conn.execute("SELECT id FROM recordings WHERE deleted_at IS NOT NULL")]
    )


async def unfinished_recording_parts(db: Database) -> list[RecordingPart]:
    """Parts whose file was never closed properly (the server stopped, or was killed, while writing them)."""
    return await db.read(lambda conn: _parts(conn, "finished = 0", ()))


async def live_recordings(db: Database) -> list[StoredRecording]:
    """Recordings not ended (the spaces still recording when the server stopped), oldest first."""

    def select(conn: sqlite3.Connection) -> list[StoredRecording]:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM recordings WHERE ended_at IS NULL AND deleted_at IS NULL ORDER BY started_at"
        )
        return [_recording(row) for row in rows]

    return await db.read(select)


async def part_count(db: Database, recording_id: str) -> int:
    """How many parts the recording has (the next part's number)."""
    statement = "SELECT coalesce(max(part) + 1, 0) FROM recording_parts WHERE recording_id = ?"
    return int(await db.read(lambda conn: conn.execute(statement, (recording_id,)).fetchone()[0]))


_COLUMNS = "id, space_id, host_id, title, started_at, ended_at, duration_ms, visibility, deleted_at"


def _recording(row: tuple[object, ...]) -> StoredRecording:
    rid, space_id, host_id, title, started_at, ended_at, duration_ms, visibility, deleted_at = row
    assert isinstance(rid, str) and isinstance(space_id, str) and isinstance(host_id, str)
    assert isinstance(title, str) and isinstance(started_at, int) and isinstance(duration_ms, int)
    assert ended_at is None or isinstance(ended_at, int)
    seen: Visibility = "private" if visibility == "private" else "public"
    return StoredRecording(
        rid, space_id, host_id, title, started_at, ended_at, duration_ms, seen, deleted_at is not None
    )


def _parts(conn: sqlite3.Connection, where: str, args: Sequence[object]) -> list[RecordingPart]:
    rows = conn.execute(
        "SELECT recording_id, part, path, offset_ms, duration_ms, bytes, finished FROM recording_parts"
        f" WHERE {where} ORDER BY recording_id, part",
        tuple(args),
    )
    return [RecordingPart(r, p, path, offset, duration, size, bool(done)) for r, p, path, offset, duration, size, done
            in rows]  # fmt: skip


def _check_visibility(visibility: str) -> None:
    if visibility not in ("public", "private"):
        raise BadArgument("visibility", "public or private")
