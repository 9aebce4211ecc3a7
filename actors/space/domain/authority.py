"""Who may act in a space, what its text fields may hold, and the shape every rule returns: shared by the rule
modules of `domain/`."""

from __future__ import annotations

import msgspec
from stoa_protocol import TextRefused, clean_text

from actors.space import errors
from actors.space.events import SpaceEvent
from actors.space.values import Role, SpaceState, SpeakerPolicy

Result = tuple[SpaceState, list[SpaceEvent]]


def member_role(state: SpaceState, user: str) -> Role:
    """The role of `user`, who must be in the space (a removed user is not)."""
    role = state.roles.get(user)
    if role is None:
        raise errors.NotInSpace(f"{user} is not in this space")
    return role


def require_moderator(state: SpaceState, user: str, what: str) -> Role:
    """The role of `user`, who must be the host or a co-host."""
    role = member_role(state, user)
    if not role.moderates:
        raise errors.NotAllowed(f"only the host and co-hosts {what}")
    return role


def require_moderator_or_host(state: SpaceState, user: str, what: str) -> Role:
    """As `require_moderator`, but the host acts present or not: the admin API removes and mutes in the host's
    name, in a space whose host never joined it (one the admin API made) or has left it."""
    return Role.HOST if user == state.host else require_moderator(state, user, what)


def require_eligible(state: SpaceState, user: str, followed_by_host: bool) -> None:
    """`user` may ask to speak under the space's speaker policy."""
    match state.speaker_policy:
        case SpeakerPolicy.FOLLOWING if not followed_by_host:
            raise errors.NotEligible("only people the host follows may ask to speak")
        case SpeakerPolicy.INVITED if user not in state.invited:
            raise errors.NotEligible("only people the host or a co-host invited may ask to speak")


def checked_text(field: str, text: str, max_chars: int, *, required: bool = True, lines: bool = False) -> str:
    """`text` as kept, by the one rule of every text field people see (`stoa_protocol.clean_text`); else
    `BadArgument` naming `field`."""
    try:
        return clean_text(text, max_chars=max_chars, required=required, lines=lines)
    except TextRefused as e:
        raise errors.BadArgument(f"{field}: {e}") from None


def target_role(state: SpaceState, user: str) -> Role:
    """The role of the participant a command is about."""
    role = state.roles.get(user)
    if role is None:
        raise errors.NoSuchParticipant(f"{user} is not in this space")
    return role


def without(items: tuple[str, ...], user: str) -> tuple[str, ...]:
    return tuple(u for u in items if u != user)


def replace(state: SpaceState, **changes: object) -> SpaceState:
    return msgspec.structs.replace(state, **changes)
