"""A crash (an exception out of handle, on_start or a ctx.nursery task) and what the supervisor does
about it under ONE_FOR_ONE: restart that child alone, with its stash and its queued messages."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

from actors.runtime import ActorCrashed, RestartEvent, open_supervisor
from tests.runtime.fakes import CEILING_S, Arm, Boom, Journal, NotAllowed, Wait, assert_logged, counter


async def test_a_crash_in_handle_restarts_only_that_actor_with_its_stashed_state() -> None:
    journal = Journal()
    events: list[RestartEvent] = []
    with trio.fail_after(CEILING_S):
        async with open_supervisor(
            [counter(journal, "a"), counter(journal, "b")], name="sup", on_restart=events.append
        ) as sup:
            a, b = sup.child("a"), sup.child("b")
            assert a is not None and b is not None
            await a.ask("incr")
            await a.ask("incr")
            await b.ask("incr")

            with pytest.raises(ActorCrashed) as info:
                await a.ask("crash")
            assert isinstance(info.value.__cause__, Boom)

            assert await a.ask("get") == 2  # recovered from ctx.stash
            assert await b.ask("incr") == 2  # the sibling kept its state and keeps answering
            assert journal.of("a") == ["start 0", "start 1"]
            assert journal.of("b") == ["start 0"]
            assert events == [RestartEvent("sup", "a", 1, repr(Boom("a asked to crash")), "Boom", ("a",))]
            assert sup.statistics().restarts_total == 1
            assert [(c.id, c.restarts, c.alive) for c in sup.which_children()] == [("a", 1, True), ("b", 0, True)]


async def test_the_ref_stays_the_same_across_restarts() -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "a")]) as sup:
            before = sup.child("a")
            assert before is not None
            with pytest.raises(ActorCrashed):
                await before.ask("crash")
            await trio.testing.wait_all_tasks_blocked()
            after = sup.child("a")
            assert after is before
            assert before.alive
            assert await before.ask("self") is before  # ctx.self_ref of the new incarnation
            assert {before: "a"}[after] == "a"  # hashable, equal to itself


async def test_messages_queued_behind_a_crash_are_handled_by_the_next_incarnation() -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(journal, "a")]) as sup:
            a = sup.child("a")
            assert a is not None
            gate = trio.Event()
            a.tell_nowait(Wait(gate))
            crashed: list[BaseException] = []

            async def ask_for_a_crash() -> None:
                with pytest.raises(ActorCrashed) as info:
                    await a.ask("crash")
                crashed.append(info.value)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask_for_a_crash)
                await trio.testing.wait_all_tasks_blocked()
                a.tell_nowait("incr")
                a.tell_nowait("incr")
                gate.set()
            assert len(crashed) == 1
            assert await a.ask("get") == 2
            assert journal.of("a") == ["start 0", "start 1"]


async def test_a_reply_error_reaches_the_asker_and_does_not_restart_the_actor() -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(journal, "a")]) as sup:
            a = sup.child("a")
            assert a is not None
            await a.ask("incr")
            with pytest.raises(NotAllowed):
                await a.ask("deny")
            a.tell_nowait("deny")  # told: the domain error is discarded
            assert await a.ask("get") == 1
            assert journal.of("a") == ["start 0"]
            assert sup.statistics().restarts_total == 0


async def test_a_crash_in_a_background_task_restarts_the_actor() -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(journal, "a")]) as sup:
            a = sup.child("a")
            assert a is not None
            await a.ask("incr")
            fuse = trio.Event()
            assert await a.ask(Arm(fuse)) == "armed"
            fuse.set()
            await assert_logged(journal, "a", "start 1")
            assert await a.ask("get") == 1
            assert sup.statistics().restarts_total == 1


async def test_a_background_crash_during_an_ask_answers_it_with_actor_crashed() -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "a")]) as sup:
            a = sup.child("a")
            assert a is not None
            fuse = trio.Event()
            await a.ask(Arm(fuse))
            async with trio.open_nursery() as nursery:

                async def ask_and_get_crashed() -> None:
                    with pytest.raises(ActorCrashed) as info:
                        await a.ask(Wait(trio.Event()))
                    assert isinstance(info.value.__cause__, Boom)

                nursery.start_soon(ask_and_get_crashed)
                await trio.testing.wait_all_tasks_blocked()
                fuse.set()


async def test_every_restart_is_logged_with_its_cause(caplog: pytest.LogCaptureFixture) -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "a")], name="sup") as sup:
            a = sup.child("a")
            assert a is not None
            with caplog.at_level(logging.WARNING, logger="actors.runtime"):
                with pytest.raises(ActorCrashed):
                    await a.ask("crash")
                await a.ask("get")
    restarts = [r for r in caplog.records if r.name == "actors.runtime" and "restarting" in r.getMessage()]
    assert len(restarts) == 1
    assert "Boom" in restarts[0].getMessage()
    assert restarts[0].exc_info is not None and isinstance(restarts[0].exc_info[1], Boom)


async def test_a_child_that_fails_to_start_is_not_added() -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(journal, "a")]) as sup:
            with pytest.raises(ActorCrashed) as info:
                await sup.start_child(counter(journal, "b", crash_on_start=True))
            assert isinstance(info.value.__cause__, Boom)
            assert sup.child("b") is None
            assert [c.id for c in sup.which_children()] == ["a"]
            assert sup.statistics().restarts_total == 0


async def test_an_initial_child_that_fails_to_start_fails_open_supervisor_and_stops_the_others() -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        with pytest.raises(ActorCrashed):
            async with open_supervisor([counter(journal, "a"), counter(journal, "b", crash_on_start=True)]):
                pytest.fail("the block must not run")  # pragma: no cover
    assert journal.of("a") == ["start 0", "stop", "stopped"]
