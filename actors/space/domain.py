"""The rules of a space as pure functions: `apply(state, command, now_ms) -> (new state, events)`.

Nothing here performs I/O or keeps state; the actor applies the result (stash, mixer, delivery). A refusal
raises a `SpaceError` and leaves the state as it was.
"""

from __future__ import annotations

import msgspec

from actors.space import errors
from actors.space.commands import EndSpace, Join, Leave, SetRole, SharePost
from actors.space.events import (
    AudienceChanged,
    ParticipantJoined,
    ParticipantLeft,
    PostShared,
    RoleChanged,
    SpaceEnded,
    SpaceEvent,
)
from actors.space.values import (
    MAX_CHURN_NAMES,
    MAX_POST_CHARS,
    MAX_SPEAKERS,
    MAX_TITLE_CHARS,
    Post,
    Role,
    SpaceState,
    SpaceStatus,
)

Result = tuple[SpaceState, list[SpaceEvent]]


def new_space(space_id: str, title: str, host: str, now_ms: int) -> SpaceState:
    """A live space whose host is already its first participant (event 1 announces them)."""
    title = title.strip()
    if not title or len(title) > MAX_TITLE_CHARS:
        raise errors.BadArgument(f"a title has 1 to {MAX_TITLE_CHARS} characters")
    return SpaceState(
        space_id=space_id,
        title=title,
        host=host,
        status=SpaceStatus.LIVE,
        roles={host: Role.HOST},
        on_mic=(host,),
        timeline=(),
        seq=1,
        created_at=now_ms,
    )


def first_event(state: SpaceState) -> SpaceEvent:
    return ParticipantJoined(state.space_id, 1, state.created_at, state.host, Role.HOST)


def apply(state: SpaceState, command: Join | Leave | SetRole | SharePost | EndSpace, now_ms: int) -> Result:
    if state.status is SpaceStatus.ENDED:
        raise errors.SpaceOver(f"space {state.space_id} has ended")
    match command:
        case Join():
            return _join(state, command.user, now_ms)
        case Leave():
            return _leave(state, command.user, command.reason, now_ms)
        case SetRole():
            return _set_role(state, command, now_ms)
        case SharePost():
            return _share_post(state, command.user, command.text, now_ms)
        case EndSpace():
            return _end(state, command.by, now_ms)


def announce_audience(state: SpaceState, now_ms: int) -> Result:
    """One `audience_changed` for the listeners who came and went since the last (none if nobody did)."""
    if not (state.arrived_count or state.departed_count) or state.status is SpaceStatus.ENDED:
        return state, []
    seq = state.seq + 1
    event = AudienceChanged(
        state.space_id,
        seq,
        now_ms,
        listener_count=state.listener_count,
        arrived=list(state.arrived),
        departed=list(state.departed),
        arrived_count=state.arrived_count,
        departed_count=state.departed_count,
    )
    new = _replace(state, seq=seq, arrived=(), departed=(), arrived_count=0, departed_count=0)
    return new, [event]


def _join(state: SpaceState, user: str, now_ms: int) -> Result:
    if user in state.roles:
        return state, []  # a new connection of someone already here keeps their role: no event
    roles = dict(state.roles)
    if user == state.host:
        roles[user] = Role.HOST
        seq = state.seq + 1
        new = _replace(state, roles=roles, on_mic=(*state.on_mic, user), seq=seq)
        return new, [ParticipantJoined(state.space_id, seq, now_ms, user, Role.HOST)]
    roles[user] = Role.LISTENER
    arrived = state.arrived if len(state.arrived) >= MAX_CHURN_NAMES else (*state.arrived, user)
    return _replace(state, roles=roles, arrived=arrived, arrived_count=state.arrived_count + 1), []


def _leave(state: SpaceState, user: str, reason: str, now_ms: int) -> Result:
    role = state.roles.get(user)
    if role is None:
        raise errors.NotInSpace(f"{user} is not in this space")
    roles = dict(state.roles)
    del roles[user]
    if role.on_mic:
        seq = state.seq + 1
        on_mic = tuple(u for u in state.on_mic if u != user)
        new = _replace(state, roles=roles, on_mic=on_mic, seq=seq)
        return new, [ParticipantLeft(state.space_id, seq, now_ms, user, reason)]
    departed = state.departed if len(state.departed) >= MAX_CHURN_NAMES else (*state.departed, user)
    return _replace(state, roles=roles, departed=departed, departed_count=state.departed_count + 1), []


def _set_role(state: SpaceState, cmd: SetRole, now_ms: int) -> Result:
    if state.roles.get(cmd.by) is not Role.HOST:
        raise errors.NotAllowed("only the host chooses who speaks")
    if cmd.role not in (Role.SPEAKER, Role.LISTENER):
        raise errors.BadArgument("a role given by the host is 'speaker' or 'listener'")
    current = state.roles.get(cmd.user)
    if current is None:
        raise errors.NoSuchParticipant(f"{cmd.user} is not in this space")
    if current is Role.HOST:
        raise errors.NotAllowed("the host's role does not change")
    if current is cmd.role:
        return state, []
    if cmd.role.on_mic and state.on_mic_count >= MAX_SPEAKERS:
        raise errors.SpeakerLimit(f"at most {MAX_SPEAKERS} people speak at once")
    seq = state.seq + 1
    roles = {**state.roles, cmd.user: cmd.role}
    if cmd.role.on_mic:
        on_mic = (*state.on_mic, cmd.user)
    else:
        on_mic = tuple(u for u in state.on_mic if u != cmd.user)
    event = RoleChanged(state.space_id, seq, now_ms, cmd.user, cmd.role, cmd.by)
    return _replace(state, roles=roles, on_mic=on_mic, seq=seq), [event]


def _share_post(state: SpaceState, user: str, text: str, now_ms: int) -> Result:
    if user not in state.roles:
        raise errors.NotInSpace(f"{user} is not in this space")
    text = text.strip()
    if not text or len(text) > MAX_POST_CHARS:
        raise errors.BadArgument(f"a post has 1 to {MAX_POST_CHARS} characters")
    seq = state.seq + 1
    post = Post(id=len(state.timeline) + 1, user=user, text=text, at=now_ms)
    new = _replace(state, timeline=(*state.timeline, post), seq=seq)
    return new, [PostShared(state.space_id, seq, now_ms, post)]


def _end(state: SpaceState, by: str, now_ms: int) -> Result:
    if by != state.host:
        raise errors.NotAllowed("only the host ends the space")
    seq = state.seq + 1
    new = _replace(state, status=SpaceStatus.ENDED, seq=seq)
    return new, [SpaceEnded(state.space_id, seq, now_ms, "host_ended")]


def _replace(state: SpaceState, **changes: object) -> SpaceState:
    return msgspec.structs.replace(state, **changes)
