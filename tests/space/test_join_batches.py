"""A burst of joins is taken in batches: the same result as one join after another, each joiner refused or
admitted on its own, and every joiner's snapshot shows it among the latest arrivals."""

from __future__ import annotations

import random

import msgspec
import pytest
import trio

from actors.space import Role, SpaceError
from actors.space.domain.membership import join, join_all, new_space
from actors.space.errors import Removed
from tests.space.fakes import RecordingLink
from tests.space.test_actor import open_directory


def test_joins_together_give_what_joins_one_after_another_give() -> None:
    rng = random.Random(7)
    state = new_space("s1", "Burst", "host", 0)
    state, _ = join(state, "early", 0, "Early")
    state = msgspec.structs.replace(state, removed=("bad",))
    for _ in range(50):
        users = [rng.choice(["host", "bad", "early", *[f"g{i}" for i in range(30)]]) for _ in range(rng.randint(1, 40))]
        joins = [(u, rng.choice(["", f"name-{u}"])) for u in users]
        together, events, refusals = join_all(state, joins, 5)
        one_by_one, all_events = state, []
        for (user, name), refusal in zip(joins, refusals, strict=True):
            try:
                one_by_one, events_of_one = join(one_by_one, user, 5, name)
                all_events += events_of_one
                assert refusal is None
            except SpaceError as error:
                assert isinstance(error, Removed) and isinstance(refusal, Removed)
        assert together == one_by_one
        assert list(together.roles) == list(one_by_one.roles)  # the order of arrival too
        assert events == all_events


async def test_a_burst_of_joins_is_admitted_in_batches_each_joiner_in_its_own_snapshot() -> None:
    with trio.fail_after(20):
        async with open_directory() as (directory, fanout):
            space = await directory.create("host", "Popular")
            await space.join("host", RecordingLink(fanout))
            links = {f"g{i}": RecordingLink(fanout) for i in range(250)}
            async with trio.open_nursery() as nursery:
                for user, link in links.items():  # all queued before the space takes the first
                    nursery.start_soon(space.join, user, link, user)
            state = await space.snapshot()
    assert state.listener_count == 250
    snapshots = [link.snapshots[0] for link in links.values()]
    assert all(len(link.snapshots) == 1 for link in links.values())
    distinct = {id(s) for s in snapshots}
    assert 3 <= len(distinct) <= 25  # batches of at most 100 share one snapshot (a control: not one per join)
    for user, snapshot in zip(links, snapshots, strict=True):
        assert snapshot.role_of(user) is Role.LISTENER
        latest = [u for u in snapshot.roles if snapshot.roles[u] is Role.LISTENER][-100:]
        assert user in latest  # the joiner is among the latest 100 arrivals its snapshot names
    counts = sorted(s.listener_count for s in snapshots)
    assert all(count >= rank for rank, count in enumerate(counts, start=1))  # no one saw fewer than were in
    assert counts[-1] == 250


@pytest.mark.parametrize("banned_first", [True, False])
async def test_a_removed_user_in_a_burst_is_refused_alone(banned_first: bool) -> None:
    with trio.fail_after(20):
        async with open_directory() as (directory, fanout):
            space = await directory.create("host", "Moderated")
            await space.join("host", RecordingLink(fanout))
            await space.join("banned", RecordingLink(fanout))
            await space.remove("host", "banned")
            outcomes: dict[str, object] = {}

            async def try_join(user: str) -> None:
                try:
                    outcomes[user] = await space.join(user, RecordingLink(fanout))
                except SpaceError as error:
                    outcomes[user] = error

            users = ["banned", "a", "b"] if banned_first else ["a", "banned", "b"]
            async with trio.open_nursery() as nursery:
                for user in users:
                    nursery.start_soon(try_join, user)
    assert isinstance(outcomes["banned"], Removed)
    assert outcomes["a"] is not None and not isinstance(outcomes["a"], Exception)
    assert not isinstance(outcomes["b"], Exception)
