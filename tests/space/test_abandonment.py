"""Abandonment as a pure rule, with explicit times: a live space whose host and co-hosts have all been gone
for the grace ends with reason `abandoned`; a moderator present, or back in time, keeps it."""

from __future__ import annotations

import pytest

from actors.space import errors
from actors.space.commands import CheckAbandoned, EndSpace, Join, Leave, SetRole
from actors.space.domain import apply
from actors.space.events import SpaceEnded
from actors.space.persistence import StoredSpace, restored
from actors.space.values import Role, SpaceState, SpaceStatus
from tests.space.fakes import NoLink
from tests.space.test_domain import NOW as T0, space_with

GRACE = 600_000


def check(state: SpaceState, at: int) -> tuple[SpaceState, list[object]]:
    new, events = apply(state, CheckAbandoned(GRACE), at)
    return new, list(events)


def test_a_space_whose_host_left_ends_as_abandoned_once_the_grace_has_passed() -> None:
    state, _ = apply(space_with("li"), Leave("host"), T0 + 1_000)
    assert state.unmoderated_since == T0 + 1_000
    same, events = check(state, T0 + 1_000 + GRACE - 1)
    assert same == state and events == [], "one millisecond early: nothing"
    ended, (event,) = check(state, T0 + 1_000 + GRACE)
    assert isinstance(event, SpaceEnded) and event.reason == "abandoned" and event.seq == state.seq + 1
    assert ended.status is SpaceStatus.ENDED and ended.seq == event.seq


def test_a_host_who_comes_back_within_the_grace_keeps_the_space() -> None:
    state, _ = apply(space_with("li"), Leave("host"), T0)
    state, _ = apply(state, Join("host", NoLink()), T0 + GRACE - 1)
    assert state.unmoderated_since is None
    assert check(state, T0 + 10 * GRACE) == (state, [])


def test_a_cohost_present_keeps_the_space_alive_until_they_leave_too() -> None:
    state, _ = apply(space_with("co", "li"), SetRole("host", "co", Role.COHOST), T0)
    state, _ = apply(state, Leave("host"), T0)
    assert state.unmoderated_since is None, "control: the co-host is a moderator"
    assert check(state, T0 + 10 * GRACE) == (state, [])
    state, _ = apply(state, Leave("co"), T0 + GRACE)
    assert state.unmoderated_since == T0 + GRACE, "the grace counts from the last moderator's departure"
    assert check(state, T0 + 2 * GRACE - 1)[1] == []
    assert isinstance(check(state, T0 + 2 * GRACE)[1][0], SpaceEnded)


def test_a_cohost_moved_back_to_the_audience_counts_as_gone() -> None:
    state, _ = apply(space_with("co"), SetRole("host", "co", Role.COHOST), T0)
    state, _ = apply(state, Leave("host"), T0)
    state, _ = apply(state, Join("host", NoLink()), T0 + 1)
    state, _ = apply(state, SetRole("host", "co", Role.LISTENER), T0 + 2)
    state, _ = apply(state, Leave("host"), T0 + 3)
    assert state.unmoderated_since == T0 + 3


def test_a_speaker_or_listeners_alone_do_not_keep_a_space() -> None:
    state, _ = apply(space_with("sp", "li"), SetRole("host", "sp", Role.SPEAKER), T0)
    state, _ = apply(state, Leave("host"), T0)
    assert isinstance(check(state, T0 + GRACE)[1][0], SpaceEnded)


def test_other_changes_while_no_moderator_is_present_keep_the_first_departure_time() -> None:
    state, _ = apply(space_with("li", "li2"), Leave("host"), T0)
    state, _ = apply(state, Leave("li2"), T0 + GRACE // 2)
    assert state.unmoderated_since == T0


def test_a_space_with_its_host_present_is_never_abandoned() -> None:
    state = space_with("li")
    assert check(state, T0 + 100 * GRACE) == (state, [])


def test_an_ended_space_is_not_ended_again() -> None:
    state, _ = apply(space_with(), EndSpace("host"), T0)
    with pytest.raises(errors.SpaceOver):
        apply(state, CheckAbandoned(GRACE), T0 + 2 * GRACE)


def _stored(unmoderated_since: int | None) -> StoredSpace:
    return StoredSpace("s1", "Title", "host", T0, 2000, (), (), unmoderated_since=unmoderated_since)


def test_a_restored_space_keeps_the_stored_departure_time_so_downtime_counts() -> None:
    state = restored(_stored(T0), T0 + 2 * GRACE)
    assert state.unmoderated_since == T0
    assert isinstance(check(state, T0 + 2 * GRACE)[1][0], SpaceEnded)


def test_a_restored_space_whose_host_was_present_at_the_stop_gets_its_grace_from_the_restart() -> None:
    restart = T0 + 5 * GRACE
    state = restored(_stored(None), restart)
    assert state.unmoderated_since == restart
    assert check(state, restart + GRACE - 1)[1] == []
    assert isinstance(check(state, restart + GRACE)[1][0], SpaceEnded)
