"""The space's rules as pure functions: each command's events, and each refusal leaving the state unchanged."""

from __future__ import annotations

import pytest

from actors.space import errors
from actors.space.commands import EndSpace, Join, Leave, SetRole, SharePost
from actors.space.domain import announce_audience, apply, new_space
from actors.space.events import AudienceChanged, ParticipantLeft, PostShared, RoleChanged, SpaceEnded
from actors.space.values import MAX_SPEAKERS, Role, SpaceState, SpaceStatus

NOW = 1_700_000_000_000


class NoLink:
    def deliver_event(self, event: object, data: bytes) -> bool:
        return True

    def deliver_audio(self, data: bytes) -> None:
        pass


def space_with(*listeners: str) -> SpaceState:
    state = new_space("s1", "A title", "host", NOW)
    for user in listeners:
        state, _ = apply(state, Join(user, NoLink()), NOW)
    return state


def test_a_new_space_has_its_host_on_the_mic_at_event_one() -> None:
    state = new_space("s1", "  Title  ", "host", NOW)
    assert state.title == "Title" and state.seq == 1 and state.role_of("host") is Role.HOST


def test_events_are_numbered_consecutively_from_the_start() -> None:
    state = space_with("a")  # a's arrival is pending, not yet announced
    state, (arrivals,) = announce_audience(state, NOW)
    state, (role,) = apply(state, SetRole("host", "a", Role.SPEAKER), NOW)
    state, (post,) = apply(state, SharePost("a", "hi"), NOW)
    state, (left,) = apply(state, Leave("a"), NOW)
    state, (ended,) = apply(state, EndSpace("host"), NOW)
    events = (arrivals, role, post, left, ended)
    assert [type(e) for e in events] == [AudienceChanged, RoleChanged, PostShared, ParticipantLeft, SpaceEnded]
    assert [e.seq for e in events] == [2, 3, 4, 5, 6] and state.seq == 6
    assert state.status is SpaceStatus.ENDED


def test_listeners_coming_and_going_are_announced_together_with_exact_counts() -> None:
    state = space_with(*[f"u{i}" for i in range(30)])
    state, _ = apply(state, Leave("u3"), NOW)
    state, (event,) = announce_audience(state, NOW)
    assert isinstance(event, AudienceChanged)
    assert (event.arrived_count, event.departed_count, event.listener_count) == (30, 1, 29)
    assert event.arrived == [f"u{i}" for i in range(20)] and event.departed == ["u3"]
    assert announce_audience(state, NOW) == (state, [])  # nothing new: no event


def test_the_host_and_speakers_leaving_are_announced_at_once() -> None:
    state, _ = apply(space_with("a"), SetRole("host", "a", Role.SPEAKER), NOW)
    state, (left,) = apply(state, Leave("a"), NOW)
    assert isinstance(left, ParticipantLeft) and left.user == "a" and state.on_mic == ("host",)


def test_joining_again_keeps_the_role_and_emits_nothing() -> None:
    state = space_with("a")
    state, _ = apply(state, SetRole("host", "a", Role.SPEAKER), NOW)
    again, events = apply(state, Join("a", NoLink()), NOW)
    assert events == [] and again.role_of("a") is Role.SPEAKER


def test_the_host_who_rejoins_is_host_again() -> None:
    state, _ = apply(space_with("a"), Leave("host"), NOW)
    state, (event,) = apply(state, Join("host", NoLink()), NOW)
    assert event.role is Role.HOST  # type: ignore[union-attr]


REFUSALS = [
    (SetRole("a", "b", Role.SPEAKER), errors.NotAllowed),  # a listener cannot choose speakers
    (SetRole("host", "host", Role.LISTENER), errors.NotAllowed),  # the host stays host
    (SetRole("host", "a", Role.HOST), errors.BadArgument),
    (SetRole("host", "ghost", Role.SPEAKER), errors.NoSuchParticipant),
    (SharePost("ghost", "hi"), errors.NotInSpace),
    (SharePost("a", " "), errors.BadArgument),
    (SharePost("a", "x" * 1001), errors.BadArgument),
    (Leave("ghost"), errors.NotInSpace),
    (EndSpace("a"), errors.NotAllowed),
]


@pytest.mark.parametrize(("command", "error"), REFUSALS)
def test_refused_commands_raise_their_error(command: object, error: type[errors.SpaceError]) -> None:
    state = space_with("a", "b")
    with pytest.raises(error):
        apply(state, command, NOW)  # type: ignore[arg-type]


def test_at_most_thirteen_people_are_on_the_mic() -> None:
    users = [f"u{i}" for i in range(MAX_SPEAKERS)]
    state = space_with(*users)
    for user in users[: MAX_SPEAKERS - 1]:  # the host is the 13th
        state, _ = apply(state, SetRole("host", user, Role.SPEAKER), NOW)
    assert state.on_mic_count == MAX_SPEAKERS
    with pytest.raises(errors.SpeakerLimit):
        apply(state, SetRole("host", users[-1], Role.SPEAKER), NOW)


def test_nothing_happens_in_an_ended_space() -> None:
    state, _ = apply(space_with("a"), EndSpace("host"), NOW)
    with pytest.raises(errors.SpaceOver):
        apply(state, Join("b", NoLink()), NOW)


@pytest.mark.parametrize("title", ["", "   ", "x" * 101])
def test_a_title_has_one_to_a_hundred_characters(title: str) -> None:
    with pytest.raises(errors.BadArgument):
        new_space("s", title, "host", NOW)
