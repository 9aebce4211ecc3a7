"""ActorRef: tell, ask, timeouts and the bounded mailbox's backpressure."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from actors.runtime import ActorStopped, AskTimeout, MailboxFull, open_supervisor
from tests.runtime.fakes import CEILING_S, Journal, Wait, counter


async def test_ask_returns_the_reply_of_handle() -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "c")]) as sup:
            ref = sup.child("c")
            assert ref is not None
            assert await ref.ask("incr") == 1
            assert await ref.ask("incr") == 2
            assert await ref.ask("get") == 2


async def test_told_messages_are_handled_in_order_before_a_later_ask() -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "c")]) as sup:
            ref = sup.child("c")
            assert ref is not None
            for _ in range(5):
                await ref.tell("incr")
            ref.tell_nowait("incr")
            assert await ref.ask("get") == 6


async def test_ask_without_a_reply_in_time_raises_ask_timeout(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "c")]) as sup:
            ref = sup.child("c")
            assert ref is not None
            gate = trio.Event()
            ref.tell_nowait(Wait(gate))
            started = trio.current_time()
            with pytest.raises(AskTimeout) as info:
                await ref.ask("get", timeout=2.0)
            assert isinstance(info.value, TimeoutError)
            assert trio.current_time() - started == pytest.approx(2.0)
            gate.set()
            assert await ref.ask("get") == 0  # the actor is fine, only slow


async def test_tell_nowait_raises_mailbox_full_when_the_mailbox_is_full() -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "c", mailbox_size=2)]) as sup:
            ref = sup.child("c")
            assert ref is not None
            gate = trio.Event()
            ref.tell_nowait(Wait(gate))
            await trio.testing.wait_all_tasks_blocked()  # the actor took it and now blocks on the gate
            ref.tell_nowait("incr")
            ref.tell_nowait("incr")
            with pytest.raises(MailboxFull):
                ref.tell_nowait("incr")
            assert ref.statistics().queued == 2
            gate.set()
            assert await ref.ask("get") == 2


async def test_tell_waits_for_room_in_a_full_mailbox() -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "c", mailbox_size=1)]) as sup:
            ref = sup.child("c")
            assert ref is not None
            gate = trio.Event()
            ref.tell_nowait(Wait(gate))
            await trio.testing.wait_all_tasks_blocked()
            ref.tell_nowait("incr")
            told = trio.Event()

            async def tell_one_more() -> None:
                await ref.tell("incr")
                told.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(tell_one_more)
                await trio.testing.wait_all_tasks_blocked()
                assert not told.is_set()
                assert ref.statistics().senders_waiting == 1
                gate.set()
                await told.wait()
            assert await ref.ask("get") == 2


async def test_a_cancelled_tell_leaves_nothing_in_the_mailbox() -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "c", mailbox_size=1)]) as sup:
            ref = sup.child("c")
            assert ref is not None
            gate = trio.Event()
            ref.tell_nowait(Wait(gate))
            await trio.testing.wait_all_tasks_blocked()
            ref.tell_nowait("incr")
            with trio.move_on_after(0.01) as scope:
                await ref.tell("incr")
            assert scope.cancelled_caught
            gate.set()
            assert await ref.ask("get") == 1


async def test_a_waiting_tell_gets_actor_stopped_when_the_child_is_terminated() -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "c", mailbox_size=1, shutdown_s=0.01)]) as sup:
            ref = sup.child("c")
            assert ref is not None
            ref.tell_nowait(Wait(trio.Event()))
            await trio.testing.wait_all_tasks_blocked()
            ref.tell_nowait("incr")

            async def tell_into_a_full_mailbox() -> None:
                with pytest.raises(ActorStopped):
                    await ref.tell("incr")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(tell_into_a_full_mailbox)
                await trio.testing.wait_all_tasks_blocked()
                await sup.terminate_child("c")


async def test_an_ask_reply_after_its_timeout_does_not_reach_a_later_ask(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(CEILING_S):
        async with open_supervisor([counter(Journal(), "c")]) as sup:
            ref = sup.child("c")
            assert ref is not None
            gate = trio.Event()
            ref.tell_nowait(Wait(gate))
            with pytest.raises(AskTimeout):
                await ref.ask("incr", timeout=1.0)
            gate.set()
            assert await ref.ask("incr") == 2  # the timed-out ask was still handled, as a tell would be
