"""Restart intensity: more than max_restarts within within_s and the supervisor gives up, stopping the
other children and escalating RestartIntensityExceeded to whoever runs it."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from actors.runtime import (
    ActorStopped,
    ChildSpec,
    RestartIntensity,
    RestartIntensityExceeded,
    Strategy,
    open_supervisor,
)
from tests.runtime.fakes import CEILING_S, Boom, Counter, Journal, assert_logged, counter, crash


async def test_too_many_restarts_escalate_and_stop_the_other_children(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal = Journal()
    body_cancelled = False
    with trio.fail_after(CEILING_S):
        with pytest.raises(RestartIntensityExceeded) as info:
            async with open_supervisor(
                [counter(journal, "a"), counter(journal, "b")],
                intensity=RestartIntensity(max_restarts=2, within_s=5.0),
                name="sup",
            ) as sup:
                b = sup.child("b")
                for _ in range(3):
                    await crash(sup.child("a"))
                try:
                    await trio.sleep_forever()
                finally:
                    body_cancelled = True
    assert body_cancelled
    assert info.value.child_id == "a"
    assert info.value.supervisor == "sup"
    assert isinstance(info.value.__cause__, Boom)
    assert journal.of("a") == ["start 0", "start 1", "start 2"]  # the third crash was not restarted
    assert journal.of("b") == ["start 0", "stop", "stopped"]
    assert b is not None and not b.alive
    with pytest.raises(ActorStopped):
        b.tell_nowait("incr")


async def test_max_restarts_within_the_window_do_not_escalate(autojump_clock: trio.testing.MockClock) -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor(
            [counter(journal, "a")], intensity=RestartIntensity(max_restarts=3, within_s=5.0)
        ) as sup:
            for _ in range(3):
                await crash(sup.child("a"))
            await assert_logged(journal, "a", "start 3")
            assert sup.statistics().restarts_total == 3


async def test_restarts_spread_over_more_than_the_window_do_not_escalate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor(
            [counter(journal, "a")], intensity=RestartIntensity(max_restarts=2, within_s=5.0)
        ) as sup:
            for _ in range(10):
                await crash(sup.child("a"))
                await trio.sleep(3.0)  # at most two restarts in any 5 s
            assert sup.statistics().restarts_total == 10
            ref = sup.child("a")
            assert ref is not None and await ref.ask("get") == 0


async def test_zero_max_restarts_escalates_on_the_first_crash() -> None:
    with trio.fail_after(CEILING_S):
        with pytest.raises(RestartIntensityExceeded):
            async with open_supervisor([counter(Journal(), "a")], intensity=RestartIntensity(max_restarts=0)) as sup:
                await crash(sup.child("a"))
                await trio.sleep_forever()


async def test_a_child_that_cannot_restart_exhausts_the_intensity(autojump_clock: trio.testing.MockClock) -> None:
    journal = Journal()
    starts: list[Counter] = []

    def start() -> Counter:
        starts.append(Counter(journal, crash_on_start=bool(starts)))  # only the first start succeeds
        return starts[-1]

    with trio.fail_after(CEILING_S):
        with pytest.raises(RestartIntensityExceeded) as info:
            async with open_supervisor(
                [ChildSpec("a", start)], intensity=RestartIntensity(max_restarts=3, within_s=5.0)
            ) as sup:
                await crash(sup.child("a"))
                await trio.sleep_forever()
    assert isinstance(info.value.__cause__, Boom)
    assert str(info.value.__cause__) == "cannot start"
    assert len(starts) == 4  # the first start, then three restarts that failed in on_start


async def test_one_for_all_escalation_stops_every_child(autojump_clock: trio.testing.MockClock) -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        with pytest.raises(RestartIntensityExceeded):
            async with open_supervisor(
                [counter(journal, "a"), counter(journal, "b")],
                strategy=Strategy.ONE_FOR_ALL,
                intensity=RestartIntensity(max_restarts=1),
            ) as sup:
                await crash(sup.child("b"))
                await crash(sup.child("b"))
                await trio.sleep_forever()
    assert journal.of("a")[-2:] == ["stop", "stopped"]
