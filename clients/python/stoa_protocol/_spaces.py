"""What a client sees of a space's people and timeline: the `joined` snapshot, `resume` with its reply
`resumed` (the events a dropped connection missed), and `get_posts` with its reply `posts`, the pages of
older posts. None grows with the audience nor with the timeline: every list has a documented cap
(`docs/protocol.md`).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from stoa_protocol._base import U63, PostId, Request
from stoa_protocol._events import SpaceEvent
from stoa_protocol._values import Consent, Participant, Person, Post, Role, SpaceStatus, SpeakerPolicy

MAX_POSTS_PAGE = 100
"""`get_posts` returns at most this many posts (and at most 65,536 bytes of their text)."""

SpaceId = Annotated[str, msgspec.Meta(max_length=64)]


class GetPosts(Request, tag="get_posts", frozen=True):
    """A page of a space's timeline from the store, live or ended: the newest posts with ids below
    `before_id` (from the newest when nil), oldest first."""

    space_id: SpaceId
    before_id: PostId | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_POSTS_PAGE)] = 50


class Resume(Request, tag="resume", frozen=True):
    """Take back this user's place in `space_id` after a dropped connection, with every event after
    `last_seq` (the `seq` of the last event, or snapshot, the client received)."""

    space_id: SpaceId
    last_seq: U63


class ActiveRecording(msgspec.Struct, frozen=True):
    """A snapshot's `recording` while the space records: `since` is when the recording started, in unix
    seconds (a float); `consents` the stated consent of each person on the mic who stated one (at most 13
    entries: only people on the mic are ever recorded, and only with `"given"`)."""

    recording_id: str
    since: float
    consents: dict[str, Consent]


class SetRecording(Request, tag="set_recording", frozen=True):
    """The host or a co-host turns the space's recording on (a new recording) or off (it is finished)."""

    on: bool


class SetRecordingConsent(Request, tag="recording_consent", frozen=True):
    """The sender consents to the space's current recording (`true`), or declines or withdraws (`false`)."""

    consent: bool


SNAPSHOT_LISTENERS = 100
SNAPSHOT_HANDS = 100


class SpaceSnapshot(msgspec.Struct, frozen=True):
    """A space as it is after event `seq`: the events that follow start at `seq + 1`.

    A snapshot never grows with the audience nor with the timeline: `participants` is everyone on the mic
    (at most 13); of the audience, the exact count and the names of the latest `SNAPSHOT_LISTENERS`
    arrivals; `hands` the first `SNAPSHOT_HANDS` listeners asking to speak (in order of asking) and
    `hand_count` how many ask; `muted` the muted people on the mic; `timeline` the latest posts (at most
    50 and 65,536 bytes of text; older ones through `get_posts`), `post_count` how many the space has had;
    `pinned` the ids of pinned posts (the oldest pin first) and `pinned_posts` those posts, which may be
    older than `timeline`; `speaker_policy` who may raise a hand; `recording` the space's recording, nil
    while it does not record.
    """

    space_id: str
    title: str
    host: str
    host_name: str
    description: str
    topics: list[str]
    status: SpaceStatus
    seq: int
    created_at: int
    participants: list[Participant]
    listener_count: int
    listeners: list[Person]
    timeline: list[Post]
    post_count: int
    hands: list[Person]
    hand_count: int
    muted: list[str]
    pinned: list[int]
    pinned_posts: list[Post]
    speaker_policy: SpeakerPolicy
    recording: ActiveRecording | None = None


class Joined(msgspec.Struct, frozen=True, tag_field="type", tag="joined", omit_defaults=True):
    """The reply to `create_space`, `join_space` and `start_scheduled`; and to a `resume` whose missed
    events a snapshot replaces, with `resume` saying why (absent otherwise): `"events_gone"` (the place was
    kept, but not every event after `last_seq` was), `"window_passed"` (the place was not kept: this is a
    new arrival)."""

    ref: int
    role: Role
    space: SpaceSnapshot
    resume: str | None = None


class Resumed(msgspec.Struct, frozen=True, tag_field="type", tag="resumed"):
    """The reply to `resume` when the place was kept and every missed event with it: `events` are the
    events after the request's `last_seq` up to `seq`, in order, as they were first sent; live events
    follow from `seq + 1`. `role` and `muted` are the user's now (the events tell how they came to be)."""

    ref: int
    space_id: str
    role: Role
    muted: bool
    seq: int
    events: list[SpaceEvent]


class Posts(msgspec.Struct, frozen=True, tag_field="type", tag="posts"):
    """The reply to `get_posts`: a page of the timeline, oldest first; `more` when older posts remain
    (ask again with the first post's id as `before_id`)."""

    ref: int
    space_id: str
    posts: list[Post]
    more: bool
