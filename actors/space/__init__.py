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
    MixFrame,
    ParticipantJoined,
    ParticipantLeft,
    PostShared,
    RoleChanged,
    SpaceEnded,
    SpaceEvent,
)
from actors.space.ref import SpaceRef
from actors.space.values import (
    MAX_POST_CHARS,
    MAX_SPEAKERS,
    MAX_TITLE_CHARS,
    Participant,
    Post,
    Role,
    SpaceState,
    SpaceStatus,
)

__all__ = [
    "MAX_POST_CHARS",
    "MAX_SPEAKERS",
    "MAX_TITLE_CHARS",
    "Audience",
    "AudienceChanged",
    "Audio",
    "Event",
    "MemberLink",
    "MixConfig",
    "MixFrame",
    "Participant",
    "ParticipantJoined",
    "ParticipantLeft",
    "Post",
    "PostShared",
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
