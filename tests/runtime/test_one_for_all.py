"""ONE_FOR_ALL: when one child must restart, every sibling is stopped (newest first) and all start
again in order, each recovering its stash and keeping its queued messages."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from actors.runtime import ActorCrashed, Restart, RestartEvent, Strategy, open_supervisor
from tests.runtime.fakes import CEILING_S, Journal, counter


async def test_a_crash_restarts_every_sibling_in_order() -> None:
    journal = Journal()
    events: list[RestartEvent] = []
    with trio.fail_after(CEILING_S):
        async with open_supervisor(
            [counter(journal, "a"), counter(journal, "b"), counter(journal, "c")],
            strategy=Strategy.ONE_FOR_ALL,
            on_restart=events.append,
        ) as sup:
            refs = {child_id: sup.child(child_id) for child_id in "abc"}
            for ref in refs.values():
                assert ref is not None
                await ref.ask("incr")
            b = refs["b"]
            assert b is not None
            with pytest.raises(ActorCrashed):
                await b.ask("crash")
            await trio.testing.wait_all_tasks_blocked()

            assert journal.entries[3:] == [
                ("c", "stop"),
                ("c", "stopped"),
                ("a", "stop"),
                ("a", "stopped"),
                ("a", "start 1"),
                ("b", "start 1"),
                ("c", "start 1"),
            ]
            for ref in refs.values():
                assert ref is not None and await ref.ask("get") == 1  # each recovered its stash
            assert [(c.id, c.restarts) for c in sup.which_children()] == [("a", 1), ("b", 1), ("c", 1)]
            assert sup.statistics().restarts_total == 1
            assert [(e.child_id, e.restarted) for e in events] == [("b", ("a", "b", "c"))]


async def test_a_temporary_sibling_is_not_restarted_with_the_others() -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor(
            [counter(journal, "a"), counter(journal, "t", restart=Restart.TEMPORARY)],
            strategy=Strategy.ONE_FOR_ALL,
        ) as sup:
            a = sup.child("a")
            assert a is not None
            with pytest.raises(ActorCrashed):
                await a.ask("crash")
            await trio.testing.wait_all_tasks_blocked()
            assert [c.id for c in sup.which_children()] == ["a"]
            assert journal.of("t") == ["start 0", "stop", "stopped"]


async def test_a_transient_child_ending_normally_leaves_its_siblings_alone() -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor(
            [counter(journal, "a"), counter(journal, "t", restart=Restart.TRANSIENT)],
            strategy=Strategy.ONE_FOR_ALL,
        ) as sup:
            t = sup.child("t")
            assert t is not None
            await t.ask("stop")
            await trio.testing.wait_all_tasks_blocked()
            assert [c.id for c in sup.which_children()] == ["a"]
            assert journal.of("a") == ["start 0"]
            assert sup.statistics().restarts_total == 0
