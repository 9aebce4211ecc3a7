"""A crowd leaving is taken in batches: the same result as one leave after another (events, hands, the mic,
the `gone`, the departed), each leave refused or taken on its own, and a leave of a replaced connection
still changes nothing."""

from __future__ import annotations

import random

import msgspec
import pytest
import trio

from actors.space import SpaceError, domain
from actors.space.commands import Leave
from actors.space.domain.membership import join_all, leave, leave_all, new_space
from actors.space.errors import NotInSpace
from actors.space.values import MAX_GONE, Role
from tests.space.fakes import RecordingLink
from tests.space.test_actor import open_directory


def crowded(rng: random.Random) -> msgspec.Struct:
    state = new_space("s1", "Crowd", "host", 0)
    state, _, _ = join_all(state, [(f"g{i}", f"guest {i}") for i in range(40)], 1)
    roles = dict(state.roles)
    for speaker in ("g0", "g1", "g2"):
        roles[speaker] = Role.SPEAKER
    return msgspec.structs.replace(
        state,
        roles=roles,
        on_mic=("host", "g0", "g1", "g2"),
        muted=("g1",),
        hands=("g5", "g6", "g7"),
        gone=tuple(f"old{i}" for i in range(MAX_GONE - rng.randint(0, 5))),  # near the bound: it is kept
    )


def test_leaves_together_give_what_leaves_one_after_another_give() -> None:
    rng = random.Random(11)
    for _ in range(60):
        state = crowded(rng)
        users = [rng.choice(["host", "nobody", *[f"g{i}" for i in range(40)]]) for _ in range(rng.randint(1, 50))]
        leaves = [(user, rng.choice(["left", "disconnected"])) for user in users]
        together, events, refusals = leave_all(state, leaves, 9)
        one_by_one, all_events = state, []
        for (user, reason), refusal in zip(leaves, refusals, strict=True):
            try:
                one_by_one, events_of_one = leave(one_by_one, user, reason, 9)
                all_events += events_of_one
                assert refusal is None
            except SpaceError as error:
                assert isinstance(error, NotInSpace) and isinstance(refusal, NotInSpace)
        assert together == one_by_one
        assert list(together.roles) == list(one_by_one.roles)
        assert events == all_events
        assert len(together.gone) <= MAX_GONE


def test_a_leave_takes_the_user_out_and_keeps_what_a_resume_needs() -> None:
    state = crowded(random.Random(3))
    after, events = leave(state, "g6", "disconnected", 9)
    assert "g6" not in after.roles and after.gone[-1] == "g6" and len(after.gone) <= MAX_GONE
    assert after.hands == ("g5", "g7") and [type(e).__name__ for e in events] == ["HandLowered"]
    assert after.departed == ("g6",) and after.departed_count == 1
    after, events = leave(after, "g1", "left", 10)  # a muted speaker: off the mic, unmuted, named no more
    assert after.on_mic == ("host", "g0", "g2") and after.muted == () and "g1" not in after.names
    assert [type(e).__name__ for e in events] == ["ParticipantLeft"] and after.gone[-1] == "g6"
    with pytest.raises(NotInSpace):
        leave(after, "g1", "left", 11)


async def test_a_crowd_leaving_is_taken_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real = domain.apply_leaves

    def counted(state: object, leaves: list[Leave], now_ms: int) -> object:
        sizes.append(len(leaves))
        return real(state, leaves, now_ms)  # type: ignore[arg-type]

    monkeypatch.setattr(domain, "apply_leaves", counted)
    with trio.fail_after(20):
        async with open_directory() as (directory, fanout):
            space = await directory.create("host", "Popular")
            await space.join("host", RecordingLink(fanout))
            links = {f"g{i}": RecordingLink(fanout) for i in range(250)}
            for user, link in links.items():
                await space.join(user, link, user)
            stale = RecordingLink(fanout)  # a connection of g0's that a newer one (links["g0"]) replaced
            async with trio.open_nursery() as nursery:
                nursery.start_soon(space.leave, "g0", "disconnected", stale)
                for user, link in links.items():
                    if user != "g0":
                        nursery.start_soon(space.leave, user, "disconnected", link)
            state = await space.snapshot()
            with pytest.raises(NotInSpace):
                await space.leave("g1", "left")
    assert set(state.roles) == {"host", "g0"}  # the leave of the replaced connection changed nothing
    assert set(state.gone) == {f"g{i}" for i in range(1, 250)}
    assert sum(sizes) >= 250 and max(sizes) > 50  # taken together (a control: not one leave per commit)
