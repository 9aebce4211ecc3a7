"""Spaces: the product's domain (pure rules over frozen values) and the SpaceActor that performs them."""

from actors.space.actor import MixConfig, SpaceActor
from actors.space.audience import Audience
from actors.space.commands import MemberLink
from actors.space.directory import SpaceDirectory
from actors.space.errors import SpaceError
from actors.space.events import (
    AudienceChanged,
    Audio,
    Event,
    HandLowered,
    HandRaised,
    MixFrame,
    MuteChanged,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantRemoved,
    PostPinned,
    PostShared,
    PostUnpinned,
    Reacted,
    RoleChanged,
    SpaceEnded,
    SpaceEvent,
)
from actors.space.ref import SpaceRef
from actors.space.values import (
    MAX_COHOSTS,
    MAX_PINNED,
    MAX_POST_CHARS,
    MAX_SPEAKERS,
    MAX_TITLE_CHARS,
    REACTIONS,
    Participant,
    Post,
    Role,
    SpaceState,
    SpaceStatus,
)

__all__ = [
    "MAX_COHOSTS",
    "MAX_PINNED",
    "MAX_POST_CHARS",
    "MAX_SPEAKERS",
    "MAX_TITLE_CHARS",
    "REACTIONS",
    "Audience",
    "AudienceChanged",
    "Audio",
    "Event",
    "HandLowered",
    "HandRaised",
    "MemberLink",
    "MixConfig",
    "MixFrame",
    "MuteChanged",
    "Participant",
    "ParticipantJoined",
    "ParticipantLeft",
    "ParticipantRemoved",
    "Post",
    "PostPinned",
    "PostShared",
    "PostUnpinned",
    "Reacted",
    "Role",
    "RoleChanged",
    "SpaceActor",
    "SpaceDirectory",
    "SpaceEnded",
    "SpaceError",
    "SpaceEvent",
    "SpaceRef",
    "SpaceState",
    "SpaceStatus",
]
