"""Microphones and removals: muting (by oneself, or by the host and co-hosts), unmuting oneself, removing a
participant for good, and who may send audio at all."""

from __future__ import annotations

from actors.space import errors
from actors.space.domain.authority import (
    Result,
    member_role,
    replace,
    require_moderator,
    require_moderator_or_host,
    target_role,
    without,
)
from actors.space.events import MuteChanged, ParticipantRemoved, SpaceEvent
from actors.space.values import Role, SpaceState


def mute(state: SpaceState, by: str, user: str, now_ms: int) -> Result:
    """Anyone on the mic mutes themselves; the host (present or not: the admin API) and co-hosts mute anyone
    on the mic but the host."""
    if by == user:
        if not member_role(state, by).on_mic:
            raise errors.NotAllowed("only people on the mic mute themselves")
    else:
        by_role = require_moderator_or_host(state, by, "mute others")
        target = target_role(state, user)
        if not target.on_mic:
            raise errors.NotASpeaker(f"{user} is not on the mic")
        if target is Role.HOST and by_role is not Role.HOST:
            raise errors.NotAllowed("no one mutes the host but the host")
    if user in state.muted:
        return state, []
    seq = state.seq + 1
    new = replace(state, muted=(*state.muted, user), seq=seq)
    return new, [MuteChanged(state.space_id, seq, now_ms, user, True, by)]


def unmute(state: SpaceState, user: str, now_ms: int) -> Result:
    """Only the muted person unmutes: the host and co-hosts can silence a microphone, never open one."""
    if not member_role(state, user).on_mic:
        raise errors.NotAllowed("only people on the mic unmute themselves")
    if user not in state.muted:
        return state, []
    seq = state.seq + 1
    new = replace(state, muted=without(state.muted, user), seq=seq)
    return new, [MuteChanged(state.space_id, seq, now_ms, user, False, user)]


def mute_all(state: SpaceState, by: str, now_ms: int) -> Result:
    """Mute everyone on the mic but the caller (and, for a co-host, but the host)."""
    require_moderator(state, by, "mute everyone")
    seq, muted = state.seq, state.muted
    events: list[SpaceEvent] = []
    for user in state.on_mic:
        if user == by or user in muted or state.roles[user] is Role.HOST:
            continue
        seq += 1
        muted = (*muted, user)
        events.append(MuteChanged(state.space_id, seq, now_ms, user, True, by))
    return replace(state, muted=muted, seq=seq), events


def remove(state: SpaceState, by: str, user: str, now_ms: int) -> Result:
    """Take `user` out of the space for good: they cannot join it again. The host removes present or not (the
    admin API, in the host's name)."""
    by_role = require_moderator_or_host(state, by, "remove participants")
    target = target_role(state, user)
    if target is Role.HOST:
        raise errors.NotAllowed("the host cannot be removed")
    if target is Role.COHOST and by_role is not Role.HOST:
        raise errors.NotAllowed("only the host removes a co-host")
    roles = dict(state.roles)
    del roles[user]
    seq = state.seq + 1
    new = replace(
        state,
        roles=roles,
        on_mic=without(state.on_mic, user),
        muted=without(state.muted, user),
        hands=without(state.hands, user),
        removed=(*state.removed, user),
        seq=seq,
    )
    return new, [ParticipantRemoved(state.space_id, seq, now_ms, user, by, state.name_of(user))]


def audio_refusal(state: SpaceState, user: str) -> errors.SpaceError | None:
    """Why audio from `user` is refused, or None when it goes into the mix."""
    role = state.roles.get(user)
    if role is None:
        return errors.NotInSpace("join a space before sending audio")
    if not role.on_mic:
        return errors.NotASpeaker("only speakers send audio")
    if user in state.muted:
        return errors.Muted("you are muted: unmute first")
    return None
