"""Orderly stops: terminate_child and leaving open_supervisor. The current message, then on_stop,
within shutdown_s; then cancellation. Asks that can no longer be answered get ActorStopped."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from actors.runtime import ActorStopped, open_supervisor
from tests.runtime.fakes import CEILING_S, Journal, Wait, counter


async def test_terminate_child_runs_on_stop_and_removes_the_child() -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(journal, "a"), counter(journal, "b")]) as sup:
            a = sup.child("a")
            assert a is not None
            await sup.terminate_child("a")
            assert journal.of("a") == ["start 0", "stop", "stopped"]
            assert sup.child("a") is None
            assert not a.alive
            assert [c.id for c in sup.which_children()] == ["b"]
            assert sup.statistics().restarts_total == 0


async def test_tell_and_ask_after_termination_raise_actor_stopped() -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "a")]) as sup:
            a = sup.child("a")
            assert a is not None
            await sup.terminate_child("a")
            with pytest.raises(ActorStopped):
                await a.tell("incr")
            with pytest.raises(ActorStopped):
                a.tell_nowait("incr")
            with pytest.raises(ActorStopped):
                await a.ask("get")


async def test_a_slow_on_stop_is_cancelled_after_shutdown_s(autojump_clock: trio.testing.MockClock) -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(journal, "a", stop_s=100.0, shutdown_s=2.0)]) as sup:
            began = trio.current_time()
            await sup.terminate_child("a")
            assert trio.current_time() - began == pytest.approx(2.0)
    assert journal.of("a") == ["start 0", "stop"]  # on_stop began and never finished


async def test_terminate_child_waits_for_the_current_message_within_shutdown_s() -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(journal, "a")]) as sup:
            a = sup.child("a")
            assert a is not None
            gate = trio.Event()
            async with trio.open_nursery() as nursery:

                async def ask_current() -> None:
                    assert await a.ask(Wait(gate)) == "waited"

                async def ask_queued() -> None:
                    with pytest.raises(ActorStopped):
                        await a.ask("get")

                nursery.start_soon(ask_current)
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(ask_queued)
                nursery.start_soon(ask_queued)
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(sup.terminate_child, "a")
                await trio.testing.wait_all_tasks_blocked()
                assert journal.of("a") == ["start 0"]  # still handling the current message
                gate.set()
    assert journal.of("a") == ["start 0", "stop", "stopped"]


async def test_pending_asks_get_actor_stopped_when_a_stuck_child_is_terminated(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(journal, "a", shutdown_s=1.0)]) as sup:
            a = sup.child("a")
            assert a is not None
            stopped = 0
            async with trio.open_nursery() as nursery:

                async def ask(message: object) -> None:
                    nonlocal stopped
                    with pytest.raises(ActorStopped):
                        await a.ask(message, timeout=30.0)
                    stopped += 1

                nursery.start_soon(ask, Wait(trio.Event()))  # never released
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(ask, "incr")
                nursery.start_soon(ask, "get")
                await trio.testing.wait_all_tasks_blocked()
                await sup.terminate_child("a")
            assert stopped == 3
    assert journal.of("a") == ["start 0"]  # killed in the middle of a message: no on_stop


async def test_terminating_an_unknown_child_does_nothing() -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "a")]) as sup:
            await sup.terminate_child("nobody")
            assert [c.id for c in sup.which_children()] == ["a"]


async def test_leaving_the_block_stops_children_newest_first() -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(journal, "a"), counter(journal, "b")]) as sup:
            c = await sup.start_child(counter(journal, "c"))
            assert await c.ask("incr") == 1
    stops = [who for who, what in journal.entries if what == "stop"]
    assert stops == ["c", "b", "a"]
    assert not c.alive
    with pytest.raises(ActorStopped):
        c.tell_nowait("incr")


async def test_an_exception_in_the_block_leaves_as_itself_after_an_orderly_stop() -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        with pytest.raises(KeyError):
            async with open_supervisor([counter(journal, "a")]):
                raise KeyError("the caller's own error")
    assert journal.of("a") == ["start 0", "stop", "stopped"]


async def test_cancelling_the_block_cancels_the_children_and_answers_pending_asks() -> None:
    with trio.fail_after(CEILING_S):
        outcomes: list[str] = []
        async with trio.open_nursery() as outside:
            with trio.CancelScope() as scope:
                async with open_supervisor([counter(Journal(), "a")]) as sup:
                    a = sup.child("a")
                    assert a is not None
                    a.tell_nowait(Wait(trio.Event()))

                    async def ask_from_outside() -> None:
                        try:
                            await a.ask("get")
                        except ActorStopped:
                            outcomes.append("stopped")

                    outside.start_soon(ask_from_outside)
                    await trio.testing.wait_all_tasks_blocked()
                    scope.cancel()
                    await trio.sleep_forever()
            assert scope.cancelled_caught
        assert outcomes == ["stopped"]


async def test_a_duplicate_child_id_is_refused() -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "a")]) as sup:
            with pytest.raises(ValueError, match="already has a child 'a'"):
                await sup.start_child(counter(Journal(), "a"))


async def test_start_child_is_refused_once_the_supervisor_is_stopping() -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor() as sup:
            pass
        with pytest.raises(RuntimeError):
            await sup.start_child(counter(Journal(), "late"))
