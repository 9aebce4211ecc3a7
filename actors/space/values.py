"""The space's values: roles, participants, posts and the whole state, all frozen.

These are plain data: `domain.py` computes new values from old ones, the actor keeps the current one.
The same Structs travel on the wire (see `events.py` and `gateway/protocol.py`).
"""

from __future__ import annotations

import enum

import msgspec

MAX_SPEAKERS = 13
"""People on the mic at once, the host included (as in Twitter/X Spaces)."""

MAX_TITLE_CHARS = 100
MAX_POST_CHARS = 1000


class Role(enum.StrEnum):
    """What a participant may do; a participant moves between roles, it is not a class of person."""

    HOST = "host"
    SPEAKER = "speaker"
    LISTENER = "listener"

    @property
    def on_mic(self) -> bool:
        return self is not Role.LISTENER


class SpaceStatus(enum.StrEnum):
    LIVE = "live"
    ENDED = "ended"


class Participant(msgspec.Struct, frozen=True):
    user: str
    role: Role


class Post(msgspec.Struct, frozen=True):
    """A post shared into the space: `id` counts from 1 in each space, `at` is unix time in milliseconds."""

    id: int
    user: str
    text: str
    at: int


class SpaceState(msgspec.Struct, frozen=True):
    """Everything a space must not lose across an actor restart.

    `seq` is the number of the last event the space emitted: every event is numbered from 1, so a client
    that holds a snapshot at `seq` needs exactly the events after it.
    """

    space_id: str
    title: str
    host: str
    status: SpaceStatus
    participants: tuple[Participant, ...]
    timeline: tuple[Post, ...]
    seq: int
    created_at: int

    def role_of(self, user: str) -> Role | None:
        for p in self.participants:
            if p.user == user:
                return p.role
        return None

    @property
    def on_mic_count(self) -> int:
        return sum(1 for p in self.participants if p.role.on_mic)
