"""Batches: consecutive messages of an actor's `batch_types` are handled together, in order, each answered
with its own result; a message of another type ends the batch; a crash answers every message of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import ClassVar

import pytest
import trio
import trio.testing

from actors.runtime import Actor, ActorCrashed, ActorRef, ChildSpec, Context, open_supervisor
from tests.runtime.fakes import CEILING_S, NotAllowed


class Add(int):
    """A number to add: batched."""


class Gate:
    def __init__(self) -> None:
        self.open = trio.Event()


class Adder(Actor):
    reply_errors = (NotAllowed,)
    batch_types: ClassVar[tuple[type, ...]] = (Add,)
    batch_limit = 4

    def __init__(self, batches: list[list[int]]) -> None:
        self.total = 0
        self.batches = batches

    async def handle(self, message: object, ctx: Context) -> object:
        if isinstance(message, Gate):
            await message.open.wait()
            return None
        if message == "total":
            return self.total
        raise TypeError(message)

    async def handle_batch(self, messages: list[object], ctx: Context) -> list[object]:
        numbers = [int(m) for m in messages if isinstance(m, Add)]
        self.batches.append(numbers)
        if 13 in numbers:
            raise RuntimeError("a crash in the batch")
        results: list[object] = []
        for n in numbers:
            if n < 0:
                results.append(NotAllowed("no negative numbers"))
            else:
                self.total += n
                results.append(self.total)
        return results


@asynccontextmanager
async def busy_adder(batches: list[list[int]]) -> AsyncIterator[tuple[ActorRef, Gate, trio.Nursery]]:
    """An Adder kept busy (by a gate) while the test queues messages; it goes on once the gate opens."""
    spec = ChildSpec(id="adder", start=lambda: Adder(batches))
    async with open_supervisor([spec]) as sup, trio.open_nursery() as nursery:
        ref = sup.child("adder")
        assert ref is not None
        gate = Gate()
        ref.tell_nowait(gate)
        await trio.testing.wait_all_tasks_blocked()
        yield ref, gate, nursery


async def test_waiting_messages_are_handled_in_batches_in_order_each_with_its_own_reply() -> None:
    batches: list[list[int]] = []
    with trio.fail_after(CEILING_S):
        async with busy_adder(batches) as (ref, gate, nursery):
            replies: dict[int, object] = {}

            async def ask(n: int) -> None:
                try:
                    replies[n] = await ref.ask(Add(n))
                except NotAllowed as refused:
                    replies[n] = refused

            for n in [1, 2, -3, 4, 5, 6]:
                nursery.start_soon(ask, n)
                await trio.testing.wait_all_tasks_blocked()
            ref.tell_nowait("total")  # another type: it ends the run of Adds after it
            nursery.start_soon(ask, 7)
            await trio.testing.wait_all_tasks_blocked()
            gate.open.set()
            assert await ref.ask("total") == 1 + 2 + 4 + 5 + 6 + 7
    assert batches == [[1, 2, -3, 4], [5, 6], [7]]  # at most batch_limit; "total" between the runs
    assert replies[1] == 1 and replies[2] == 3 and replies[4] == 7 and replies[6] == 18 and replies[7] == 25
    assert isinstance(replies[-3], NotAllowed)  # refused alone: the others of its batch were served


async def test_a_crash_in_a_batch_answers_every_message_of_it() -> None:
    batches: list[list[int]] = []
    with trio.fail_after(CEILING_S):
        async with busy_adder(batches) as (ref, gate, nursery):
            outcomes: list[str] = []

            async def ask(n: int) -> None:
                with pytest.raises(ActorCrashed):
                    await ref.ask(Add(n))
                outcomes.append("crashed")

            for n in [12, 13]:
                nursery.start_soon(ask, n)
            await trio.testing.wait_all_tasks_blocked()
            gate.open.set()
    assert outcomes == ["crashed", "crashed"]
    assert sorted(batches[0]) == [12, 13]  # one batch
