"""Replays: the recordings of spaces as clients find, play and manage them (`list_recordings`, `get_recording`,
`delete_recording`, `set_recording_visibility`). The audio itself is downloaded over HTTP from the links
`get_recording` hands out (docs/recording.md); nothing here grows with a recording's length.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from stoa_protocol._accounts import AccountRequest
from stoa_protocol._base import U63

MAX_RECORDINGS_PAGE = 50
"""`list_recordings` returns at most this many recordings."""

RecordingId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Visibility = Literal["public", "private"]


class RecordingRequest(AccountRequest, frozen=True):
    """A request about recordings (handled by `gateway/handlers/recordings.py`; in the account table of
    docs/authorization.md, not the space table: a recording outlives its space). Listing and getting public
    recordings are open to guests; deleting and the visibility are the host's."""


class ListRecordings(RecordingRequest, tag="list_recordings", frozen=True):
    """The recordings the sender may play, newest first: every public one and the sender's own private ones;
    only the sender's own with `mine`; only those of `space_id` with it. The next page: the last one's
    `started_at` as `before` and its `recording_id` as `before_id` (those listed after it in that order)."""

    space_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    mine: bool = False
    before: U63 | None = None
    before_id: RecordingId | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_RECORDINGS_PAGE)] = 20


class GetRecording(RecordingRequest, tag="get_recording", frozen=True):
    """One recording with its parts and short-lived download links."""

    recording_id: RecordingId


class DeleteRecording(RecordingRequest, tag="delete_recording", frozen=True):
    """The host deletes a recording that has ended: its files and its record."""

    recording_id: RecordingId


class SetRecordingVisibility(RecordingRequest, tag="set_recording_visibility", frozen=True):
    """The host makes a recording `public` (anyone may play it) or `private` (only the host)."""

    recording_id: RecordingId
    visibility: Visibility


class RecordingSummary(msgspec.Struct, frozen=True):
    """A recording as lists show it: times in ms of unix time, `ended_at` nil while it is still recording;
    `duration_ms` its length: from its start to the end of its last finished part."""

    recording_id: str
    space_id: str
    title: str
    host: str
    host_name: str
    started_at: int
    ended_at: int | None
    duration_ms: int
    visibility: Visibility
    part_count: int


class RecordingPart(msgspec.Struct, frozen=True):
    """One file of a recording. `offset_ms`: where it begins, in ms from the recording's start (wall clock: a
    replay plays it there, and is silent between two parts); `duration_ms` and `bytes` are 0 until it is
    `finished`; `url`: its download link, relative to the server's HTTP address, valid until the reply's
    `expires_at`."""

    part: int
    offset_ms: int
    duration_ms: int
    bytes: int
    finished: bool
    url: str


class Recordings(msgspec.Struct, frozen=True, tag_field="type", tag="recordings"):
    """The reply to `list_recordings`: newest first; `more` when older ones remain (ask again with the last
    one's `started_at` as `before` and its `recording_id` as `before_id`)."""

    ref: int
    recordings: list[RecordingSummary]
    more: bool


class RecordingDetail(msgspec.Struct, frozen=True, tag_field="type", tag="recording"):
    """The reply to `get_recording`: the recording, its parts in order with their links, and when the links
    stop working (ms of unix time): ask again for fresh ones after that."""

    ref: int
    recording: RecordingSummary
    parts: list[RecordingPart]
    expires_at: int
