"""What a space keeps on disk, and the interface it keeps it through.

A space writes before it answers: a post, a removal, a change of speaker policy, an invitation to speak
(and its use), the end of the space, the moment its last host or co-host left (and their return), a
recording started or stopped, its parts and every consent are durable before anyone is told of them. The
store keeps every post; a space holds only its latest ones. Event numbers are reserved in blocks of
`SEQ_BLOCK`: the space records a high-water mark before it passes it, so a space restored after a server
restart numbers its events above every number it ever gave out (a jump, never a reuse).

The server gives the directory a `SpaceStore` backed by SQLite (`gateway/space_store.py`); without one
(`NO_STORE`), spaces live in memory only.
"""

from __future__ import annotations

from typing import Literal, Protocol

import msgspec

from actors.space.events import SpaceEvent
from actors.space.recorder import PartFinished, PartStarted
from actors.space.values import Churn, Post, Recording, Role, SpaceState, SpaceStatus, SpeakerPolicy

SEQ_BLOCK = 1000


NoteKind = Literal["consent_given", "consent_declined", "consent_withdrawn", "recording_started", "recording_stopped"]


class RecordingNote(msgspec.Struct, frozen=True):
    """An event of a recording, kept with it: `at_ms` from the recording's start; `kind` one of
    `consent_given`, `consent_declined`, `consent_withdrawn`, `recording_started`, `recording_stopped`;
    `user` who (None: the space's end stopped it)."""

    recording_id: str
    at_ms: int
    kind: NoteKind
    user: str | None


class RecordingWrite(msgspec.Struct, frozen=True):
    """What one change of a space does to its recordings, written in one transaction, in this order: a
    new recording (`created`, with the space's `title` and `host`), parts finished, a part started, notes,
    a recording ended (`ended`: its id and unix ms)."""

    created: Recording | None = None
    title: str = ""
    host: str = ""
    parts_finished: tuple[PartFinished, ...] = ()
    part_started: PartStarted | None = None
    notes: tuple[RecordingNote, ...] = ()
    ended: tuple[str, int] | None = None

    def __bool__(self) -> bool:
        return bool(self.created or self.parts_finished or self.part_started or self.notes or self.ended)


class UnfinishedPart(msgspec.Struct, frozen=True):
    """A part file never closed properly (the server stopped or was killed while writing it)."""

    recording_id: str
    part: int
    path: str


class StoredSpace(msgspec.Struct, frozen=True):
    """A live space as the store had it: enough to bring it back after a restart."""

    space_id: str
    title: str
    host: str
    created_at: int
    seq_reserved: int
    timeline: tuple[Post, ...]  # the latest `RECENT_POSTS`, oldest first
    removed: tuple[str, ...]
    description: str = ""
    topics: tuple[str, ...] = ()
    speaker_policy: SpeakerPolicy = SpeakerPolicy.EVERYONE
    invited: tuple[str, ...] = ()  # standing invitations to speak, the oldest first
    host_name: str = ""
    post_count: int = 0  # how many posts the space has had: the last post's id
    unmoderated_since: int | None = None  # ms: when its last host or co-host left; None if one was present
    recording: Recording | None = None  # the recording it was writing (no consents; `first_part` its next part)


class SpaceStore(Protocol):
    async def space_created(self, state: SpaceState) -> None: ...
    async def post_shared(self, space_id: str, post: Post) -> None: ...
    async def participant_removed(self, space_id: str, user: str) -> None: ...
    async def speaker_policy_changed(self, space_id: str, policy: SpeakerPolicy) -> None: ...
    async def speaker_invited(self, space_id: str, user: str, at: int) -> None: ...
    async def invitation_used(self, space_id: str, user: str) -> None: ...
    async def space_ended(self, space_id: str, at: int) -> None: ...
    async def unmoderated(self, space_id: str, since: int | None) -> None: ...
    async def restarted(self, at: int) -> None: ...
    async def post(self, space_id: str, post_id: int) -> Post | None: ...
    async def reserve_seq(self, space_id: str, up_to: int) -> None: ...
    async def live_spaces(self) -> list[StoredSpace]: ...
    async def recording_changed(self, space_id: str, write: RecordingWrite) -> None: ...
    async def unfinished_parts(self) -> list[UnfinishedPart]: ...
    async def parts_repaired(self, parts: list[PartFinished]) -> None: ...
    def stage_events(self, before: SpaceState, after: SpaceState, events: list[SpaceEvent], churn: Churn) -> None:
        """A commit's events and its listeners' arrivals and departures, before its writes: the store may write
        its own record of them with those."""

    async def flush_events(self, space_id: str) -> None:
        """After a commit's writes: whatever of `stage_events` no write took is written now."""


class NoStore:
    """Spaces in memory only (tests, embedding)."""

    async def space_created(self, state: SpaceState) -> None:
        pass

    async def post_shared(self, space_id: str, post: Post) -> None:
        pass

    async def participant_removed(self, space_id: str, user: str) -> None:
        pass

    async def speaker_policy_changed(self, space_id: str, policy: SpeakerPolicy) -> None:
        pass

    async def speaker_invited(self, space_id: str, user: str, at: int) -> None:
        pass

    async def invitation_used(self, space_id: str, user: str) -> None:
        pass

    async def space_ended(self, space_id: str, at: int) -> None:
        pass

    async def unmoderated(self, space_id: str, since: int | None) -> None:
        pass

    async def restarted(self, at: int) -> None:
        pass

    async def post(self, space_id: str, post_id: int) -> Post | None:
        return None  # only the latest posts exist, in the space's state

    async def reserve_seq(self, space_id: str, up_to: int) -> None:
        pass

    async def live_spaces(self) -> list[StoredSpace]:
        return []

    async def recording_changed(self, space_id: str, write: RecordingWrite) -> None:
        pass

    async def unfinished_parts(self) -> list[UnfinishedPart]:
        return []

    async def parts_repaired(self, parts: list[PartFinished]) -> None:
        pass

    def stage_events(self, before: SpaceState, after: SpaceState, events: list[SpaceEvent], churn: Churn) -> None:
        pass

    async def flush_events(self, space_id: str) -> None:
        pass


NO_STORE = NoStore()


def restored(stored: StoredSpace, now_ms: int) -> SpaceState:
    """The state of a space brought back after a restart: its title, host, description, topics, latest
    posts, removals, speaker policy and standing invitations; nobody is connected yet (the host, rejoining,
    is host again), and events number on above the reservation, posts above the last one.

    A space that was recording records on, into a new part (`first_part`), with nobody's consent yet.

    No host or co-host is present: if one was when the server stopped, the time they went is not known,
    and it is taken to be `now_ms`, the restart (late, never early: the space gets its whole grace)."""
    return SpaceState(
        space_id=stored.space_id,
        title=stored.title,
        host=stored.host,
        status=SpaceStatus.LIVE,
        roles={},
        on_mic=(),
        timeline=stored.timeline,
        post_count=stored.post_count,
        seq=stored.seq_reserved,
        created_at=stored.created_at,
        removed=stored.removed,
        speaker_policy=stored.speaker_policy,
        invited=stored.invited,
        description=stored.description,
        topics=stored.topics,
        names={stored.host: stored.host_name or stored.host},
        unmoderated_since=now_ms if stored.unmoderated_since is None else stored.unmoderated_since,
        recording=stored.recording,
    )


__all__ = [
    "NO_STORE",
    "SEQ_BLOCK",
    "NoStore",
    "RecordingNote",
    "RecordingWrite",
    "Role",
    "SpaceStore",
    "StoredSpace",
    "UnfinishedPart",
    "restored",
]
