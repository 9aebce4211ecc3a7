"""The spaces' `SpaceStore`, backed by the embedded SQLite store (`store/`), and the reading of a
space's record (`get_space`) and of its older posts (`get_posts`), live or ended."""

from __future__ import annotations

import store
from actors.space import (
    RECENT_POSTS,
    Churn,
    Post,
    Recording,
    SpaceEvent,
    SpaceState,
    SpeakerPolicy,
    StoredSpace,
    domain,
)
from actors.space.persistence import RecordingWrite, UnfinishedPart
from actors.space.recorder import PartFinished
from gateway.webhooks import OutboxWrite, WebhookOutbox, space_started
from store import Database

Also = OutboxWrite | None


class SqliteSpaceStore:
    """With `outbox`, each change's webhook events are written in the change's transaction while it is enabled
    (see gateway/webhooks/_outbox.py)."""

    def __init__(self, db: Database, outbox: WebhookOutbox | None = None) -> None:
        self._db = db
        self._outbox = outbox

    def _take(self, space_id: str, extra: tuple[store.NewWebhookEvent, ...] = (), ended_at: int | None = None) -> Also:
        return None if self._outbox is None else self._outbox.take(space_id, extra, ended_at=ended_at)

    def _written(self, also: Also) -> None:
        if also is not None and self._outbox is not None:
            self._outbox.notify()

    def stage_events(self, before: SpaceState, after: SpaceState, events: list[SpaceEvent], churn: Churn) -> None:
        if self._outbox is not None:
            self._outbox.stage(before, after, events, churn)

    async def flush_events(self, space_id: str) -> None:
        if self._outbox is not None:
            await self._outbox.flush(space_id)

    async def space_created(self, state: SpaceState) -> None:
        also = self._take(state.space_id, (space_started(state),))
        await store.create_space(
            self._db,
            state.space_id,
            state.title,
            state.host,
            state.created_at,
            state.seq,
            description=state.description,
            topics=state.topics,
            speaker_policy=state.speaker_policy.value,
            host_name=state.name_of(state.host),
            also=also,
        )
        self._written(also)

    async def post_shared(self, space_id: str, post: Post) -> None:
        also = self._take(space_id)
        stored = store.StoredPost(post.id, post.user, post.text, post.at, post.name)
        await store.add_post(self._db, space_id, stored, also=also)
        self._written(also)

    async def participant_removed(self, space_id: str, user: str) -> None:
        also = self._take(space_id)
        await store.add_removal(self._db, space_id, user, also=also)
        self._written(also)

    async def speaker_policy_changed(self, space_id: str, policy: SpeakerPolicy) -> None:
        await store.set_speaker_policy(self._db, space_id, policy.value)

    async def speaker_invited(self, space_id: str, user: str, at: int) -> None:
        await store.add_invitation(self._db, space_id, user, at)

    async def invitation_used(self, space_id: str, user: str) -> None:
        await store.remove_invitation(self._db, space_id, user)

    async def space_ended(self, space_id: str, at: int) -> None:
        also = self._take(space_id, ended_at=at)
        await store.end_space(self._db, space_id, at, also=also)
        self._written(also)

    async def unmoderated(self, space_id: str, since: int | None) -> None:
        await store.set_unmoderated(self._db, space_id, since)

    async def restarted(self, at: int) -> None:
        await store.mark_unmoderated(self._db, at)

    async def post(self, space_id: str, post_id: int) -> Post | None:
        stored = await store.get_post(self._db, space_id, post_id)
        return None if stored is None else _post(stored)

    async def reserve_seq(self, space_id: str, up_to: int) -> None:
        await store.reserve_seq(self._db, space_id, up_to)

    async def recording_changed(self, space_id: str, write: RecordingWrite) -> None:
        also = self._take(space_id)
        await store.record_changes(self._db, _changes(space_id, write), also=also)
        self._written(also)

    async def unfinished_parts(self) -> list[UnfinishedPart]:
        return [
            UnfinishedPart(p.recording_id, p.part, p.path) for p in await store.unfinished_recording_parts(self._db)
        ]

    async def parts_repaired(self, parts: list[PartFinished]) -> None:
        finished = tuple(store.FinishedPart(p.recording_id, p.part, p.duration_ms, p.bytes) for p in parts)
        await store.record_changes(self._db, store.RecordingChanges(parts_finished=finished))

    async def _live_recordings(self, live: set[str]) -> dict[str, Recording]:
        """The recordings of live spaces (each to go on in a new part); a recording whose space is over (the
        server stopped between the two) ends where its last part does."""
        recordings: dict[str, Recording] = {}
        orphans = []
        for r in await store.live_recordings(self._db):
            if r.space_id in live:
                first_part = await store.part_count(self._db, r.id)
                recordings[r.space_id] = Recording(r.id, r.started_at, r.host_id, first_part=first_part)
            else:
                orphans.append((r.id, r.started_at + r.duration_ms))
        if orphans:
            await store.record_changes(self._db, store.RecordingChanges(finished=tuple(orphans)))
        return recordings

    async def live_spaces(self) -> list[StoredSpace]:
        spaces = await store.live_spaces(self._db, recent=RECENT_POSTS)
        recordings = await self._live_recordings({s.space_id for s in spaces})
        return [
            StoredSpace(
                space_id=s.space_id,
                title=s.title,
                host=s.host,
                created_at=s.created_at,
                seq_reserved=s.seq_reserved,
                timeline=tuple(_post(p) for p in s.posts),
                removed=s.removed,
                description=s.description,
                topics=s.topics,
                speaker_policy=SpeakerPolicy(s.speaker_policy),
                invited=s.invited,
                host_name=s.host_name,
                post_count=s.post_count,
                unmoderated_since=s.unmoderated_since,
                recording=recordings.get(s.space_id),
            )
            for s in spaces
        ]


async def space_record(db: Database, space_id: str) -> store.StoredSpace | None:
    """A space as the store has it, live or ended, with its latest posts; None if unknown."""
    return await store.get_space(db, space_id, recent=RECENT_POSTS)


async def posts_before(
    db: Database, space_id: str, before_id: int | None, limit: int
) -> tuple[list[Post], bool] | None:
    """A page of the space's timeline: the newest posts below `before_id` (from the newest when None), at
    most `limit` and `domain.POSTS_BYTES` of text, oldest first; and whether older ones remain. None if
    no space ever had that id."""
    newest_first = await store.posts_before(db, space_id, before_id, limit + 1)
    if newest_first is None:
        return None
    return domain.latest_posts([_post(p) for p in newest_first], limit)


def timeline(space: store.StoredSpace) -> list[Post]:
    """A record's timeline: its latest posts that fit one message (see `domain.latest_posts`)."""
    page, _ = domain.latest_posts([_post(p) for p in reversed(space.posts)], RECENT_POSTS)
    return page


def _post(p: store.StoredPost) -> Post:
    return Post(p.id, p.user, p.text, p.at, p.name)


def _changes(space_id: str, w: RecordingWrite) -> store.RecordingChanges:
    """A space's `RecordingWrite` as the store's `RecordingChanges`."""
    created: tuple[store.NewRecording, ...] = ()
    if w.created is not None:
        r = w.created
        created = (store.NewRecording(r.recording_id, space_id, w.host, w.title, r.started_at),)
    parts_added: tuple[store.NewRecordingPart, ...] = ()
    if w.part_started is not None:
        s = w.part_started
        parts_added = (store.NewRecordingPart(s.recording_id, s.part, s.path, s.offset_ms),)
    return store.RecordingChanges(
        created=created,
        parts_finished=tuple(
            store.FinishedPart(f.recording_id, f.part, f.duration_ms, f.bytes) for f in w.parts_finished
        ),
        parts_added=parts_added,
        events=tuple(store.RecordingEvent(n.recording_id, n.at_ms, n.kind, n.user) for n in w.notes),
        finished=() if w.ended is None else (w.ended,),
    )
