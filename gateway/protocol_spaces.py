"""What a client sees of a space's people and timeline: the `joined` snapshot, and `get_posts` with its
reply `posts`, the pages of older posts. Neither grows with the audience nor with the timeline: every
list has a documented cap (`docs/protocol.md`). `gateway/protocol.py` re-exports these names.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from actors.space import RECENT_POSTS, Participant, Person, Post, Role, SpaceState, SpaceStatus, SpeakerPolicy, domain
from gateway.protocol_base import PostId, Request

MAX_POSTS_PAGE = 100
"""`get_posts` returns at most this many posts (and at most `domain.POSTS_BYTES` of their text)."""


class GetPosts(Request, tag="get_posts", frozen=True):
    """A page of a space's timeline from the store, live or ended: the newest posts with ids below
    `before_id` (from the newest when nil), oldest first."""

    space_id: Annotated[str, msgspec.Meta(max_length=64)]
    before_id: PostId | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_POSTS_PAGE)] = 50


SNAPSHOT_LISTENERS = 100
SNAPSHOT_HANDS = 100


class SpaceSnapshot(msgspec.Struct, frozen=True):
    """A space as it is after event `seq`: the events that follow start at `seq + 1`.

    A snapshot never grows with the audience nor with the timeline: `participants` is everyone on the mic
    (at most 13); of the audience, the exact count and the names of the latest `SNAPSHOT_LISTENERS`
    arrivals; `hands` the first `SNAPSHOT_HANDS` listeners asking to speak (in order of asking) and
    `hand_count` how many ask; `muted` the muted people on the mic; `timeline` the latest posts (at most
    `RECENT_POSTS` and `domain.POSTS_BYTES` of text; older ones through `get_posts`), `post_count` how many
    the space has had; `pinned` the ids of pinned posts (the oldest pin first) and `pinned_posts` those
    posts, which may be older than `timeline`; `speaker_policy` who may raise a hand.
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

    @classmethod
    def of(cls, state: SpaceState) -> SpaceSnapshot:
        recent: list[str] = []
        for user in reversed(state.roles):
            if len(recent) == SNAPSHOT_LISTENERS:
                break
            if not state.roles[user].on_mic:
                recent.append(user)
        return cls(
            space_id=state.space_id,
            title=state.title,
            host=state.host,
            host_name=state.name_of(state.host),
            description=state.description,
            topics=list(state.topics),
            status=state.status,
            seq=state.seq,
            created_at=state.created_at,
            participants=[Participant(user, state.name_of(user), state.roles[user]) for user in state.on_mic],
            listener_count=state.listener_count,
            listeners=[state.person(user) for user in recent[::-1]],
            timeline=domain.latest_posts(state.timeline[::-1], RECENT_POSTS)[0],
            post_count=state.post_count,
            hands=[state.person(user) for user in state.hands[:SNAPSHOT_HANDS]],
            hand_count=len(state.hands),
            muted=list(state.muted),
            pinned=list(state.pinned),
            pinned_posts=list(state.pinned_posts),
            speaker_policy=state.speaker_policy,
        )


class Joined(msgspec.Struct, frozen=True, tag_field="type", tag="joined"):
    ref: int
    role: Role
    space: SpaceSnapshot


class _JoinedWire(msgspec.Struct, frozen=True, tag_field="type", tag="joined"):
    """`Joined` with its snapshot already encoded: the same bytes, field for field."""

    ref: int
    role: Role
    space: msgspec.Raw


class JoinedSnapshots:
    """The `joined` reply, with the snapshot encoded once per state of a space: the joiners of one batch
    (`SpaceActor.handle_batch`) are all given the same state, and share its bytes. Only each reply's `ref`
    and `role` are encoded per joiner. Holds the latest state of at most `spaces` spaces."""

    __slots__ = ("_encoder", "_latest", "_spaces")

    def __init__(self, spaces: int = 64) -> None:
        self._encoder = msgspec.msgpack.Encoder()
        self._latest: dict[str, tuple[SpaceState, msgspec.Raw]] = {}
        self._spaces = spaces

    def encode(self, ref: int, role: Role, state: SpaceState) -> bytes:
        """The bytes of `Joined(ref, role, SpaceSnapshot.of(state))`."""
        cached = self._latest.get(state.space_id)
        if cached is not None and cached[0] is state:
            snapshot = cached[1]
        else:
            snapshot = msgspec.Raw(self._encoder.encode(SpaceSnapshot.of(state)))
            self._latest.pop(state.space_id, None)
            if len(self._latest) >= self._spaces:
                del self._latest[next(iter(self._latest))]  # the space whose state is the oldest kept
            self._latest[state.space_id] = (state, snapshot)
        return self._encoder.encode(_JoinedWire(ref, role, snapshot))


class Posts(msgspec.Struct, frozen=True, tag_field="type", tag="posts"):
    """The reply to `get_posts`: a page of the timeline, oldest first; `more` when older posts remain
    (ask again with the first post's id as `before_id`)."""

    ref: int
    space_id: str
    posts: list[Post]
    more: bool
