"""A space made for its host (the admin API's) holds nobody until the host joins: not the host on the mic, and
it is unmoderated from its start, as a space whose host left; the host's join puts them on the mic. The host
ends it, removes and mutes present or not (the admin API acts in the host's name)."""

from __future__ import annotations

import pytest

from actors.space import MuteChanged, ParticipantJoined, ParticipantRemoved, Role, SpaceEnded, errors
from actors.space.commands import CheckAbandoned, EndSpace, Join, MuteSpeaker, RemoveParticipant, SetRole
from actors.space.domain import apply, apply_joins, new_space
from actors.space.domain.membership import join, leave
from tests.space.fakes import NoLink

GRACE_MS = 60_000


def test_a_space_made_without_its_host_has_no_one_in_it_and_is_unmoderated_from_its_start() -> None:
    unjoined = new_space("s1", "Made", "host", 5, host_name="Host", host_present=False)
    left, _ = leave(new_space("s1", "Made", "host", 5, host_name="Host"), "host", "left", 5)
    assert (unjoined.roles, unjoined.on_mic, unjoined.listener_count) == ({}, (), 0)
    assert (left.roles, left.on_mic) == (unjoined.roles, unjoined.on_mic)  # as a space whose host left
    assert unjoined.unmoderated_since == 5 and unjoined.names == {"host": "Host"}
    ended, (event,) = apply(unjoined, CheckAbandoned(GRACE_MS), 5 + GRACE_MS)
    assert isinstance(event, SpaceEnded) and event.reason == "abandoned"


def test_the_host_s_join_puts_them_on_the_mic_and_the_space_is_moderated() -> None:
    state = new_space("s1", "Made", "host", 5, host_name="Host", host_present=False)
    state, _ = join(state, "g1", 6, "Guest")
    state, (event,), _ = apply_joins(state, [Join("host", NoLink(), "Host")], 7)
    assert isinstance(event, ParticipantJoined) and (event.user, event.role) == ("host", Role.HOST)
    assert state.on_mic == ("host",) and state.roles == {"g1": Role.LISTENER, "host": Role.HOST}
    assert state.unmoderated_since is None


def test_the_host_ends_their_space_present_or_not_and_no_one_else_does() -> None:
    state = new_space("s1", "Made", "host", 5, host_present=False)
    state, _ = join(state, "g1", 6, "Guest")
    with pytest.raises(errors.NotAllowed):
        apply(state, EndSpace("g1"), 7)
    with pytest.raises(errors.NotInSpace):
        apply(state, EndSpace("stranger"), 7)
    ended, (event,) = apply(state, EndSpace("host"), 8)
    assert isinstance(event, SpaceEnded) and event.reason == "host_ended"


def test_the_host_removes_present_or_not_and_a_listener_does_not() -> None:
    state = new_space("s1", "Made", "host", 5, host_present=False)
    state, _ = join(state, "g1", 6, "Guest")
    state, _ = join(state, "g2", 6, "Other")
    with pytest.raises(errors.NotAllowed):
        apply(state, RemoveParticipant("g2", "g1"), 7)
    with pytest.raises(errors.NotInSpace):
        apply(state, RemoveParticipant("stranger", "g1"), 7)
    removed, (event,) = apply(state, RemoveParticipant("host", "g1"), 8)
    assert isinstance(event, ParticipantRemoved) and (event.user, event.by) == ("g1", "host")
    assert removed.removed == ("g1",) and "g1" not in removed.roles


def test_the_host_who_left_still_mutes_a_speaker_but_a_cohost_must_be_there() -> None:
    state = new_space("s1", "Made", "host", 5)
    for user in ("sp", "co"):
        state, _ = join(state, user, 6, user)
    state, _ = apply(state, SetRole("host", "sp", Role.SPEAKER), 7)
    state, _ = apply(state, SetRole("host", "co", Role.COHOST), 7)
    state, _ = leave(state, "host", "left", 8)
    state, _ = leave(state, "co", "left", 8)
    with pytest.raises(errors.NotInSpace):
        apply(state, MuteSpeaker("co", "sp"), 9)
    muted, (event,) = apply(state, MuteSpeaker("host", "sp"), 9)
    assert isinstance(event, MuteChanged) and (event.user, event.muted, event.by) == ("sp", True, "host")
    assert muted.muted == ("sp",)
    with pytest.raises(errors.NotInSpace):  # the rules still hold: the host is not there to be muted
        apply(state, MuteSpeaker("host", "host"), 9)
