"""Who is on the mic: the host's and co-hosts' choices (`set_role`) and the listeners' raised hands."""

from __future__ import annotations

from actors.space import errors
from actors.space.commands import SetRole
from actors.space.domain.authority import (
    Result,
    member_role,
    replace,
    require_eligible,
    require_moderator,
    target_role,
    without,
)
from actors.space.events import HandLowered, HandRaised, MuteChanged, RoleChanged, SpaceEvent
from actors.space.values import MAX_COHOSTS, MAX_SPEAKERS, Role, SpaceState


def set_role(state: SpaceState, cmd: SetRole, now_ms: int) -> Result:
    """The host makes anyone (but themselves) a co-host, speaker or listener; a co-host brings listeners on
    as speakers and moves speakers back, and touches neither the host nor another co-host. A speaker or a
    co-host may move themselves back to the audience (leave the mic)."""
    if cmd.user == cmd.by and cmd.role is Role.LISTENER and member_role(state, cmd.by) in (Role.SPEAKER, Role.COHOST):
        return change_role(state, cmd.by, Role.LISTENER, cmd.by, now_ms, [])
    by_role = require_moderator(state, cmd.by, "choose who speaks")
    if cmd.role is Role.HOST:
        raise errors.BadArgument("the host's role is not given: 'cohost', 'speaker' or 'listener'")
    current = target_role(state, cmd.user)
    if current is Role.HOST:
        raise errors.NotAllowed("the host's role does not change")
    if by_role is Role.COHOST and (current is Role.COHOST or cmd.role is Role.COHOST):
        raise errors.NotAllowed("only the host chooses co-hosts")
    if current is cmd.role:
        return state, []
    if cmd.role.on_mic and not current.on_mic and not cmd.may_speak:
        raise errors.NotEligible("only accounts speak: a guest stays a listener")
    if cmd.role is Role.COHOST and sum(r is Role.COHOST for r in _on_mic_roles(state)) >= MAX_COHOSTS:
        raise errors.CohostLimit(f"at most {MAX_COHOSTS} co-hosts")
    if cmd.role.on_mic and not current.on_mic and state.on_mic_count >= MAX_SPEAKERS:
        raise errors.SpeakerLimit(f"at most {MAX_SPEAKERS} people speak at once")
    return change_role(state, cmd.user, cmd.role, cmd.by, now_ms, [])


def change_role(state: SpaceState, user: str, role: Role, by: str, now_ms: int, events: list[SpaceEvent]) -> Result:
    """Give `user` the (checked) `role`: a raised hand is lowered as approved, a mute ends off the mic (said
    after the role, so that no client keeps showing a listener muted, nor a speaker unmuted before they are
    off the mic), and an invitation to speak is used up by coming on the mic, however they came (else a
    speaker moved back to the audience could take the mic again with an invitation the host thought spent)."""
    seq = state.seq
    hands = state.hands
    if user in hands:
        seq += 1
        hands = without(hands, user)
        events.append(HandLowered(state.space_id, seq, now_ms, user, "approved", by))
    current = state.roles[user]
    on_mic, muted, invited = state.on_mic, state.muted, state.invited
    if role.on_mic and not current.on_mic:
        on_mic, invited = (*on_mic, user), without(invited, user)
    elif not role.on_mic:
        on_mic, muted = without(on_mic, user), without(muted, user)
    seq += 1
    events.append(RoleChanged(state.space_id, seq, now_ms, user, role, by, state.name_of(user)))
    if user in state.muted and user not in muted:
        seq += 1
        events.append(MuteChanged(state.space_id, seq, now_ms, user, False, by))
    roles = {**state.roles, user: role}
    return replace(state, roles=roles, on_mic=on_mic, muted=muted, hands=hands, invited=invited, seq=seq), events


def raise_hand(state: SpaceState, user: str, followed_by_host: bool, now_ms: int) -> Result:
    _require_listener(state, user)
    require_eligible(state, user, followed_by_host)
    if user in state.hands:
        return state, []
    seq = state.seq + 1
    event = HandRaised(state.space_id, seq, now_ms, user, state.name_of(user))
    return replace(state, hands=(*state.hands, user), seq=seq), [event]


def lower_hand(state: SpaceState, user: str, now_ms: int) -> Result:
    _require_listener(state, user)
    if user not in state.hands:
        return state, []
    return _lower(state, user, "lowered", user, now_ms)


def approve_request(state: SpaceState, by: str, user: str, now_ms: int) -> Result:
    _require_request(state, by, user)
    if state.on_mic_count >= MAX_SPEAKERS:
        raise errors.SpeakerLimit(f"at most {MAX_SPEAKERS} people speak at once")
    return change_role(state, user, Role.SPEAKER, by, now_ms, [])


def deny_request(state: SpaceState, by: str, user: str, now_ms: int) -> Result:
    _require_request(state, by, user)
    return _lower(state, user, "denied", by, now_ms)


def _require_listener(state: SpaceState, user: str) -> None:
    if member_role(state, user) is not Role.LISTENER:
        raise errors.NotAllowed("only listeners raise or lower a hand")


def _require_request(state: SpaceState, by: str, user: str) -> None:
    require_moderator(state, by, "handle requests to speak")
    target_role(state, user)
    if user not in state.hands:
        raise errors.NoSuchRequest(f"{user} has not asked to speak")


def _lower(state: SpaceState, user: str, reason: str, by: str, now_ms: int) -> Result:
    seq = state.seq + 1
    new = replace(state, hands=without(state.hands, user), seq=seq)
    return new, [HandLowered(state.space_id, seq, now_ms, user, reason, by)]


def _on_mic_roles(state: SpaceState) -> list[Role]:
    return [state.roles[u] for u in state.on_mic]
