"""Restart types, as in OTP: PERMANENT always returns, TRANSIENT only after a crash, TEMPORARY never.
A child that is not restarted is removed and its ref answers ActorStopped."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from actors.runtime import ActorCrashed, ActorRef, ActorStopped, Restart, RestartEvent, open_supervisor
from tests.runtime.fakes import CEILING_S, Journal, Wait, counter


async def end_by_stop(ref: ActorRef) -> None:
    assert await ref.ask("stop") == "stopping"


async def end_by_crash(ref: ActorRef) -> None:
    with pytest.raises(ActorCrashed):
        await ref.ask("crash")


async def end_by_closing_the_mailbox(ref: ActorRef) -> None:
    ref.close_mailbox()


ENDINGS = {"stop": end_by_stop, "crash": end_by_crash, "closed mailbox": end_by_closing_the_mailbox}

# restart type, how the child ends, restarted?
TABLE = [
    (Restart.PERMANENT, "stop", True),
    (Restart.PERMANENT, "crash", True),
    (Restart.PERMANENT, "closed mailbox", True),
    (Restart.TRANSIENT, "stop", False),
    (Restart.TRANSIENT, "crash", True),
    (Restart.TRANSIENT, "closed mailbox", False),
    (Restart.TEMPORARY, "stop", False),
    (Restart.TEMPORARY, "crash", False),
    (Restart.TEMPORARY, "closed mailbox", False),
]


async def settle() -> None:
    """Let the restart loop handle every pending report."""
    await trio.testing.wait_all_tasks_blocked()


@pytest.mark.parametrize(("restart", "ending", "restarted"), TABLE)
async def test_a_child_is_restarted_according_to_its_restart_type(
    restart: Restart, ending: str, restarted: bool
) -> None:
    journal = Journal()
    events: list[RestartEvent] = []
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(journal, "c", restart=restart)], on_restart=events.append) as sup:
            ref = sup.child("c")
            assert ref is not None
            await ref.ask("incr")
            await ENDINGS[ending](ref)
            await settle()
            if restarted:
                assert sup.child("c") is ref and ref.alive
                assert await ref.ask("get") == 1
                assert journal.of("c")[-1] == "start 1"
                assert [e.child_id for e in events] == ["c"]
                assert sup.statistics().restarts_total == 1
            else:
                assert sup.child("c") is None and not ref.alive
                with pytest.raises(ActorStopped):
                    await ref.tell("incr")
                assert events == []
                assert sup.statistics().children == 0


async def test_a_normal_end_of_a_permanent_child_is_reported_as_normal() -> None:
    events: list[RestartEvent] = []
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "c")], on_restart=events.append) as sup:
            ref = sup.child("c")
            assert ref is not None
            await ref.ask("stop")
            await settle()
    assert [(e.reason, e.error_type) for e in events] == [("normal", None)]


async def test_ctx_stop_runs_on_stop_and_answers_asks_still_queued_with_actor_stopped() -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(journal, "c", restart=Restart.TRANSIENT)]) as sup:
            ref = sup.child("c")
            assert ref is not None
            gate = trio.Event()
            ref.tell_nowait(Wait(gate))
            ref.tell_nowait("stop")
            async with trio.open_nursery() as nursery:

                async def ask_too_late() -> None:
                    with pytest.raises(ActorStopped):
                        await ref.ask("get")

                nursery.start_soon(ask_too_late)
                await trio.testing.wait_all_tasks_blocked()
                gate.set()
    assert journal.of("c") == ["start 0", "stop", "stopped"]


async def test_a_closed_mailbox_is_drained_before_the_child_ends() -> None:
    journal = Journal()
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(journal, "c", restart=Restart.TRANSIENT)]) as sup:
            ref = sup.child("c")
            assert ref is not None
            gate = trio.Event()
            ref.tell_nowait(Wait(gate))
            async with trio.open_nursery() as nursery:
                replies: list[object] = []

                async def ask_before_close() -> None:
                    replies.append(await ref.ask("incr"))

                nursery.start_soon(ask_before_close)
                await trio.testing.wait_all_tasks_blocked()
                ref.close_mailbox()
                with pytest.raises(ActorStopped):
                    ref.tell_nowait("incr")
                gate.set()
            assert replies == [1]
            await settle()
            assert sup.child("c") is None
    assert journal.of("c") == ["start 0", "stop", "stopped"]
