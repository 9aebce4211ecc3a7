"""Replays: finding recordings (`list_recordings`), one recording with its download links (`get_recording`),
and the host's choices (`delete_recording`, `set_recording_visibility`). Who may see a recording: anyone when
it is public, only its host when it is private; to anyone else a private recording does not exist
(`no_such_recording`), so its existence is not given away.
"""

from __future__ import annotations

import time

import store
from actors.space import errors as space_errors
from gateway import identity, protocol as p
from gateway.context import Caller
from gateway.errors import NoSuchRecording, RecordingInProgress
from gateway.handlers.accounts import my_account
from gateway.replays import Scope, remove_recording_files

Reply = p.Reply

MAX_PARTS = 100
"""`get_recording` lists at most this many parts (a new part begins at each server restart during the
recording)."""


async def list_recordings(c: Caller, m: p.ListRecordings) -> Reply:
    db = c.services.db
    if m.mine and c.account is None:
        return p.Recordings(ref=m.ref, recordings=[], more=False)  # a guest hosts nothing
    before = None if m.before is None else (m.before, m.before_id or "")
    found = await store.list_recordings(
        db, viewer=c.user, space_id=m.space_id, host_id=c.user if m.mine else None, before=before, limit=m.limit + 1
    )
    names: dict[str, str] = {}
    summaries = [await _summary(db, recording, names) for recording in found[: m.limit]]
    return p.Recordings(ref=m.ref, recordings=summaries, more=len(found) > m.limit)


async def get_recording(c: Caller, m: p.GetRecording) -> Reply:
    db = c.services.db
    recording = await _visible(c, m.recording_id)
    scope = Scope.HOST if _is_host(c, recording) else Scope.PUBLIC
    link = c.services.replays.links.mint(recording.id, scope, time.time())
    parts = await store.recording_parts(db, recording.id)
    wire_parts = [
        p.RecordingPart(
            part=part.part,
            offset_ms=part.offset_ms,
            duration_ms=part.duration_ms,
            bytes=part.bytes,
            finished=part.finished,
            url=link.part_url(recording.id, part.part),
        )
        for part in parts[:MAX_PARTS]
    ]
    summary = await _summary(db, recording, {}, len(parts))
    return p.RecordingDetail(ref=m.ref, recording=summary, parts=wire_parts, expires_at=link.expires_at_ms)


async def delete_recording(c: Caller, m: p.DeleteRecording) -> Reply:
    """The record is hidden first (no link works from then on), then the files go, then the rows."""
    recording = await _hosted(c, m.recording_id, "deletes it")
    if recording.ended_at is None:
        raise RecordingInProgress("the recording is still running: stop it (set_recording) first")
    db = c.services.db
    paths = await store.delete_recording(db, recording.id, db.now_ms())
    await remove_recording_files(c.services.replays.data_dir, recording.id, paths)
    await store.purge_recording(db, recording.id)
    return None


async def set_recording_visibility(c: Caller, m: p.SetRecordingVisibility) -> Reply:
    recording = await _hosted(c, m.recording_id, "chooses who may play it")
    if not await store.set_recording_visibility(c.services.db, recording.id, m.visibility):
        raise NoSuchRecording(f"no recording {m.recording_id!r}")  # deleted meanwhile
    return None


def _is_host(c: Caller, recording: store.StoredRecording) -> bool:
    return c.account is not None and recording.host_id == c.user


async def _visible(c: Caller, recording_id: str) -> store.StoredRecording:
    """The recording if the sender may see it; `no_such_recording` otherwise (private ones included)."""
    recording = await store.get_recording(c.services.db, recording_id)
    if recording is None or (recording.visibility != "public" and not _is_host(c, recording)):
        raise NoSuchRecording(f"no recording {recording_id!r}")
    return recording


async def _hosted(c: Caller, recording_id: str, what: str) -> store.StoredRecording:
    my_account(c)
    recording = await _visible(c, recording_id)
    if not _is_host(c, recording):
        raise space_errors.NotAllowed(f"only the recording's host {what}")
    return recording


async def _summary(
    db: store.Database, recording: store.StoredRecording, names: dict[str, str], parts: int | None = None
) -> p.RecordingSummary:
    """The wire's view of `recording`; `names` caches hosts' handles over one reply."""
    if parts is None:
        parts = await store.part_count(db, recording.id)
    name = names.get(recording.host_id)
    if name is None:
        account = identity.account_id_of(recording.host_id)
        name = names[recording.host_id] = "" if account is None else (await store.get_account_by_id(db, account)).handle
    return p.RecordingSummary(
        recording_id=recording.id,
        space_id=recording.space_id,
        title=recording.title,
        host=recording.host_id,
        host_name=name,
        started_at=recording.started_at,
        ended_at=recording.ended_at,
        duration_ms=recording.duration_ms,
        visibility=recording.visibility,
        part_count=parts,
    )
