"""A child's own restart budget (`ChildSpec.intensity`): a child that crashes past it is given up alone
(removed, its asks answered, reported to `on_give_up`) while its siblings keep running, and its restarts
never count against the supervisor's intensity, which is unchanged for children without a budget."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from actors.runtime import (
    ActorRef,
    ActorStopped,
    ChildSpec,
    RestartIntensity,
    RestartIntensityExceeded,
    Strategy,
    Supervisor,
    open_supervisor,
)
from tests.runtime.fakes import CEILING_S, Boom, Counter, Journal, Wait, assert_logged, counter, crash

BUDGET = RestartIntensity(max_restarts=2, within_s=5.0)


def budgeted(journal: Journal, child_id: str) -> ChildSpec:
    spec = counter(journal, child_id)
    return ChildSpec(spec.id, spec.start, restart=spec.restart, intensity=BUDGET)


def live(sup: Supervisor) -> list[str]:
    return [info.id for info in sup.which_children() if info.alive]


async def test_a_child_past_its_own_budget_is_given_up_while_its_siblings_keep_running(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal = Journal()
    given_up: list[tuple[str, Exception | None]] = []
    with trio.fail_after(CEILING_S):
        async with open_supervisor(
            [budgeted(journal, "a"), budgeted(journal, "b")],
            on_give_up=lambda child_id, error: given_up.append((child_id, error)),
        ) as sup:
            a, b = sup.child("a"), sup.child("b")
            assert a is not None and b is not None
            await b.ask("incr")
            for _ in range(3):
                await crash(a)
            await trio.testing.wait_all_tasks_blocked()
            assert [(child_id, type(error)) for child_id, error in given_up] == [("a", Boom)]
            assert journal.of("a") == ["start 0", "start 1", "start 2"]  # the third crash was not restarted
            assert live(sup) == ["b"] and sup.child("a") is None
            assert not a.alive
            with pytest.raises(ActorStopped):
                a.tell_nowait("incr")
            assert await b.ask("get") == 1, "the sibling never noticed"
            assert journal.of("b") == ["start 0"]


async def test_asks_queued_for_a_child_given_up_are_answered_stopped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate = trio.Event()
    outcomes: list[str] = []

    async def ask_later(ref: ActorRef) -> None:
        try:
            await ref.ask("get")
        except ActorStopped:
            outcomes.append("stopped")

    with trio.fail_after(CEILING_S):
        async with open_supervisor([budgeted(Journal(), "a")]) as sup, trio.open_nursery() as nursery:
            a = sup.child("a")
            assert a is not None
            await crash(a)
            await crash(a)
            nursery.start_soon(a.ask, Wait(gate))
            await trio.testing.wait_all_tasks_blocked()
            a.tell_nowait("crash")  # the third crash, queued behind Wait
            nursery.start_soon(ask_later, a)  # and an ask behind it
            await trio.testing.wait_all_tasks_blocked()
            gate.set()
            await trio.testing.wait_all_tasks_blocked()
            assert outcomes == ["stopped"]
            assert sup.which_children() == []


async def test_budgeted_restarts_never_count_against_the_supervisor(autojump_clock: trio.testing.MockClock) -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor(
            [budgeted(journal, "a"), budgeted(journal, "b")], intensity=RestartIntensity(max_restarts=1)
        ) as sup:
            for _ in range(2):
                await crash(sup.child("a"))
                await crash(sup.child("b"))
            await assert_logged(journal, "b", "start 2")
            assert live(sup) == ["a", "b"]
            assert sup.statistics().restarts_total == 4


async def test_a_child_without_a_budget_still_escalates_past_the_supervisors_intensity(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        with pytest.raises(RestartIntensityExceeded) as info:
            async with open_supervisor(
                [budgeted(journal, "a"), counter(journal, "plain")], intensity=RestartIntensity(max_restarts=1)
            ) as sup:
                await crash(sup.child("a"))  # its own budget: not counted below
                await crash(sup.child("plain"))
                await crash(sup.child("plain"))
                await trio.sleep_forever()
    assert info.value.child_id == "plain"
    assert journal.of("a")[-2:] == ["stop", "stopped"]


async def test_a_child_that_cannot_restart_exhausts_its_own_budget(autojump_clock: trio.testing.MockClock) -> None:
    journal = Journal()
    starts: list[Counter] = []
    given_up: list[str] = []

    def start() -> Counter:
        starts.append(Counter(journal, crash_on_start=bool(starts)))  # only the first start succeeds
        return starts[-1]

    with trio.fail_after(CEILING_S):
        async with open_supervisor(
            [ChildSpec("a", start, intensity=BUDGET), counter(journal, "b")],
            on_give_up=lambda child_id, error: given_up.append(child_id),
        ) as sup:
            await crash(sup.child("a"))
            await trio.testing.wait_all_tasks_blocked()
            assert given_up == ["a"]
            assert len(starts) == 3  # the first start, then two restarts that failed in on_start
            assert live(sup) == ["b"]


async def test_under_one_for_all_a_child_given_up_leaves_its_siblings_running(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor(
            [budgeted(journal, "a"), counter(journal, "b")], strategy=Strategy.ONE_FOR_ALL
        ) as sup:
            for _ in range(3):
                await crash(sup.child("a"))
            await trio.testing.wait_all_tasks_blocked()
            assert live(sup) == ["b"]
            assert journal.of("b") == ["start 0", "stop", "stopped", "start 1", "stop", "stopped", "start 2"]
