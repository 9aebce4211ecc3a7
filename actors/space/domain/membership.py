"""Coming, going and ending: the rules of a space's membership (`new_space`, join, leave, end)."""

from __future__ import annotations

from collections.abc import Iterable

from actors.space import errors
from actors.space.domain.authority import Result, checked_text, member_role, replace, without
from actors.space.events import (
    AudienceChanged,
    HandLowered,
    ParticipantJoined,
    ParticipantLeft,
    SpaceEnded,
    SpaceEvent,
)
from actors.space.values import (
    MAX_CHURN_NAMES,
    MAX_DESCRIPTION_CHARS,
    MAX_GONE,
    MAX_TITLE_CHARS,
    MAX_TOPIC_CHARS,
    MAX_TOPICS,
    Churn,
    Role,
    SpaceState,
    SpaceStatus,
    SpeakerPolicy,
)


def new_space(
    space_id: str,
    title: str,
    host: str,
    now_ms: int,
    speakers: SpeakerPolicy = SpeakerPolicy.EVERYONE,
    *,
    description: str = "",
    topics: tuple[str, ...] | list[str] = (),
    host_name: str = "",
    host_present: bool = True,
) -> SpaceState:
    """A live space whose host is already its first participant (event 1 announces them); without
    `host_present` (a space made for its host, by the admin API), one nobody is in yet: the host is not on the
    mic until they join, and the space is unmoderated since its start (as one whose host left).

    Error handling: `BadArgument` for a title of no visible character or over 100 characters, a description
    over 500, more than 3 topics, one of no visible character or over 30 characters, or one twice, or any of
    them that breaks the rule of text fields (`clean_text`; the rules of a scheduled space)."""
    title = checked_text("title", title, MAX_TITLE_CHARS)
    description = checked_text("description", description, MAX_DESCRIPTION_CHARS, required=False, lines=True)
    if len(topics) > MAX_TOPICS:
        raise errors.BadArgument(f"at most {MAX_TOPICS} topics")
    clean_topics = tuple(checked_text("topic", topic, MAX_TOPIC_CHARS) for topic in topics)
    if len({topic.casefold() for topic in clean_topics}) < len(clean_topics):
        raise errors.BadArgument("topics: each at most once, in any casing")
    return SpaceState(
        space_id=space_id,
        title=title,
        host=host,
        status=SpaceStatus.LIVE,
        roles={host: Role.HOST} if host_present else {},
        on_mic=(host,) if host_present else (),
        timeline=(),
        seq=1,
        created_at=now_ms,
        speaker_policy=speakers,
        description=description,
        topics=clean_topics,
        names={host: host_name or host},
        unmoderated_since=None if host_present else now_ms,
    )


def announce_audience(state: SpaceState, now_ms: int) -> Result:
    """One `audience_changed` for the listeners who came and went since the last (none if nobody did).

    Its counts are every arrival and departure since the last; its names are the net change, as the space is
    now: `arrived` names each newcomer (once) who is a listener now, `departed` each leaver who is not. So a
    client that adds the one and drops the other (docs/protocol.md, Events) shows the audience as it is: not
    a listener who went on the mic or was removed meanwhile (their own events said so), nor one who left and
    came back as gone."""
    if not (state.arrived_count or state.departed_count) or state.status is SpaceStatus.ENDED:
        return state, []
    seq = state.seq + 1

    def listening(user: str) -> bool:
        role = state.roles.get(user)
        return role is not None and not role.on_mic

    arrived = [user for user in dict.fromkeys(state.arrived) if listening(user)]
    departed = [user for user in dict.fromkeys(state.departed) if not listening(user)]
    event = AudienceChanged(
        state.space_id,
        seq,
        now_ms,
        listener_count=state.listener_count,
        arrived=[state.person(user) for user in arrived],
        departed=[state.person(user) for user in departed],
        arrived_count=state.arrived_count,
        departed_count=state.departed_count,
    )
    names = state.names
    if state.departed:  # the departed were named in this event; only those present (and the host) stay
        names = {u: n for u, n in names.items() if u in state.roles or u == state.host}
    new = replace(state, seq=seq, names=names, arrived=(), departed=(), arrived_count=0, departed_count=0)
    return new, [event]


def join(state: SpaceState, user: str, now_ms: int, name: str = "") -> Result:
    """`user` is a server-issued id; `name` only the label others see (it confers nothing)."""
    new, events, refusals = join_all(state, [(user, name)], now_ms)
    if refusals[0] is not None:
        raise refusals[0]
    return new, events


def join_all(
    state: SpaceState, joins: list[tuple[str, str]], now_ms: int
) -> tuple[SpaceState, list[SpaceEvent], list[errors.SpaceError | None]]:
    """Joins of `(user, name)`, as if each were applied after the one before (refused ones change nothing),
    with one copy of the space's maps for all of them: a burst of listeners joining a crowded space costs
    each of them O(1), not a copy of the audience. Returns the new state, the events, and per join its
    refusal or None.

    A listener's arrival is no event of its own (see `SpaceState`): it is counted into the next
    `audience_changed`. The host coming back is (`participant_joined`), and goes back on the mic."""
    roles: dict[str, Role] | None = None  # copied at the first change
    names: dict[str, str] = state.names
    on_mic, seq = state.on_mic, state.seq
    arrived, arrived_count = list(state.arrived), state.arrived_count
    gone = state.gone
    events: list[SpaceEvent] = []
    refusals: list[errors.SpaceError | None] = []
    for user, name in joins:
        present = state.roles if roles is None else roles
        if user in state.removed:
            refusals.append(errors.Removed("you were removed from this space"))
            continue
        refusals.append(None)
        if user in present:
            continue  # a new connection of someone already here keeps their role: no event
        if roles is None:
            roles, names = dict(state.roles), dict(state.names)
        if user in gone:  # back after its kept place was let go (see `leave`)
            gone = without(gone, user)
        names[user] = name or names.get(user, user)
        if user == state.host:
            roles[user] = Role.HOST
            on_mic, seq = (*on_mic, user), seq + 1
            events.append(ParticipantJoined(state.space_id, seq, now_ms, user, Role.HOST, names[user]))
            continue
        roles[user] = Role.LISTENER
        if len(arrived) < MAX_CHURN_NAMES:
            arrived.append(user)
        arrived_count += 1
    if roles is None:
        return state, events, refusals
    new = replace(
        state,
        roles=roles,
        names=names,
        on_mic=on_mic,
        seq=seq,
        arrived=tuple(arrived),
        arrived_count=arrived_count,
        gone=gone,
    )
    return new, events, refusals


def listener_churn(before: SpaceState, after: SpaceState, changes: Iterable[tuple[str, str]], now_ms: int) -> Churn:
    """Who of `changes` (a run of joins `(user, name)` or of leaves `(user, reason)` that took `before` to
    `after`) came in or went as a listener, each once, in order: the listener's own arrival or departure,
    which `audience_changed` tells only a second later, netted. Anyone else's is an event of its own (the
    host's `participant_joined`, an on-mic leaver's `participant_left`). O(len(changes))."""
    arrived: dict[str, None] = {}
    departed: dict[str, str] = {}
    for user, why in changes:
        was, now = before.roles.get(user), after.roles.get(user)
        if was is None and now is Role.LISTENER:
            arrived.setdefault(user)
        elif was is Role.LISTENER and now is None:
            departed.setdefault(user, why)
    return Churn(now_ms, tuple(arrived), tuple(departed.items()))


def resumable(state: SpaceState, user: str) -> bool:
    """Whether `user` may `resume` this space: True when their place was kept (they are still in it), False
    when it was let go after their connection closed (they may join anew); anyone else is refused.

    Error handling: `Removed` for someone removed from the space; `NotResumable` for someone who holds no
    place and is not among the `gone` (never here, left on purpose, or forgotten: a server restart, or more
    than `MAX_GONE` others let go since)."""
    if user in state.removed:
        raise errors.Removed("you were removed from this space")
    if user in state.roles:
        return True
    if user in state.gone:
        return False
    raise errors.NotResumable("no place of yours to resume in this space: join it instead")


def leave(state: SpaceState, user: str, reason: str, now_ms: int) -> Result:
    """`reason` "disconnected": the user's connection closed (and their place was kept for the resume
    window, if the gateway keeps one): the space remembers them among the `gone` (see `resumable`)."""
    new, events, refusals = leave_all(state, [(user, reason)], now_ms)
    if refusals[0] is not None:
        raise refusals[0]
    return new, events


def leave_all(
    state: SpaceState, leaves: list[tuple[str, str]], now_ms: int
) -> tuple[SpaceState, list[SpaceEvent], list[errors.SpaceError | None]]:
    """Leaves of `(user, reason)`, as if each were applied after the one before (`leave`), with one copy of
    the space's maps for all of them: when a crowd goes (the end of a popular space, a network cut), each
    leave costs O(1), not a copy of the audience (which made 10,000 departures cost 10,000 copies of
    10,000 roles). Returns the new state, the events, and per leave its refusal (`NotInSpace`) or None."""
    roles: dict[str, Role] | None = None  # copied at the first change
    names, on_mic, muted, hands, seq = state.names, state.on_mic, state.muted, state.hands, state.seq
    departed, departed_count = list(state.departed), state.departed_count
    gone: dict[str, None] | None = None  # in order, the latest last; built at the first disconnection
    events: list[SpaceEvent] = []
    refusals: list[errors.SpaceError | None] = []
    for user, reason in leaves:
        present = state.roles if roles is None else roles
        role = present.get(user)
        if role is None:
            refusals.append(errors.NotInSpace(f"{user} is not in this space"))
            continue
        refusals.append(None)
        if roles is None:
            roles = dict(state.roles)
        del roles[user]
        if reason == "disconnected":
            if gone is None:
                gone = dict.fromkeys(state.gone)
            gone.pop(user, None)
            gone[user] = None
        if role.on_mic:
            seq += 1
            if user != state.host:
                names = {u: n for u, n in names.items() if u != user}
            on_mic, muted = without(on_mic, user), without(muted, user)
            events.append(ParticipantLeft(state.space_id, seq, now_ms, user, reason))
            continue
        if len(departed) < MAX_CHURN_NAMES:
            departed.append(user)
        departed_count += 1
        if user in hands:
            seq += 1
            hands = without(hands, user)
            events.append(HandLowered(state.space_id, seq, now_ms, user, "left", user))
    if roles is None:
        return state, events, refusals
    new = replace(
        state,
        roles=roles,
        names=names,
        on_mic=on_mic,
        muted=muted,
        hands=hands,
        seq=seq,
        departed=tuple(departed),
        departed_count=departed_count,
        gone=state.gone if gone is None else tuple(gone)[-MAX_GONE:],
    )
    return new, events, refusals


def end(state: SpaceState, by: str, now_ms: int) -> Result:
    """The host ends the space, present or not (the admin API ends a space in its host's name, whether the
    host ever joined it or left it)."""
    if by != state.host and member_role(state, by) is not Role.HOST:
        raise errors.NotAllowed("only the host ends the space")
    seq = state.seq + 1
    new = replace(state, status=SpaceStatus.ENDED, seq=seq)
    return new, [SpaceEnded(state.space_id, seq, now_ms, "host_ended")]
