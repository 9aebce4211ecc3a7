"""The values every message is made of: roles, speaker policies, people, posts. Frozen msgspec Structs and
string enums, the same on the wire and in the server's space state (`actors/space/values.py`)."""

from __future__ import annotations

import enum

import msgspec


class Role(enum.StrEnum):
    """What a participant may do; a participant moves between roles, it is not a class of person."""

    HOST = "host"
    COHOST = "cohost"
    SPEAKER = "speaker"
    LISTENER = "listener"

    @property
    def on_mic(self) -> bool:
        return self is not Role.LISTENER

    @property
    def moderates(self) -> bool:
        """The host and co-hosts: they handle requests, mute, remove and pin."""
        return self is Role.HOST or self is Role.COHOST


class SpeakerPolicy(enum.StrEnum):
    """Who may ask to speak (raise a hand), chosen by the host: everyone, only the people the host follows,
    or only the people the host or a co-host invited. Approval is still needed in every case."""

    EVERYONE = "everyone"
    FOLLOWING = "following"
    INVITED = "invited"


class Consent(enum.StrEnum):
    """Someone's stated consent to the space's current recording (no entry: not asked yet, so not recorded).
    Consent is per recording: a new recording asks again."""

    GIVEN = "given"
    DECLINED = "declined"


class SpaceStatus(enum.StrEnum):
    LIVE = "live"
    ENDED = "ended"


class Person(msgspec.Struct, frozen=True):
    """Someone as clients show them: `user` is the server-issued id (an account's `u<id>` or a guest's
    `g-<hex>`), the only thing that identifies anyone; `name` is a label to display (an account's handle, or
    the name a guest gave, which confers nothing)."""

    user: str
    name: str


class Participant(msgspec.Struct, frozen=True):
    user: str
    name: str
    role: Role


class Post(msgspec.Struct, frozen=True):
    """A post shared into the space: `id` counts from 1 in each space, `at` is unix time in milliseconds."""

    id: int
    user: str
    text: str
    at: int
    name: str = ""
