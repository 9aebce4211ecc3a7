"""HandleCheck: a burst of guests' names is checked against the accounts' handles in few store reads (at
most `MAX_NAMES` names each, so that one answer wakes few callers), with the same answers as one read each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trio

import store
from gateway.handles import MAX_NAMES, HandleCheck
from tests.store.conftest import CHEAP_HASHER

Reads = Callable[[store.Database, list[str]], Awaitable[set[str]]]


@asynccontextmanager
async def checking(
    monkeypatch: pytest.MonkeyPatch, wrap: Callable[[Reads], Reads]
) -> AsyncIterator[tuple[HandleCheck, dict[str, bool]]]:
    """A HandleCheck over a store with the account "Ada", its reads wrapped; and a table of answers."""
    monkeypatch.setattr(store, "taken_handles", wrap(store.taken_handles))
    async with store.open_database(":memory:", hasher=CHEAP_HASHER) as db:
        await store.register(db, "Ada", "correct horse battery", "Ada L")
        yield HandleCheck(db), {}


async def test_a_burst_of_names_is_answered_by_few_bounded_reads_in_any_casing(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[list[str]] = []

    def counted(real: Reads) -> Reads:
        async def read(db: store.Database, names: list[str]) -> set[str]:
            reads.append(names)
            return await real(db, names)

        return read

    async with checking(monkeypatch, counted) as (check, answers):

        async def ask(name: str) -> None:
            answers[name] = await check.taken(name)

        names = ["ada", "ADA", "Ada", *[f"guest{i}" for i in range(300)]]
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                for name in names:
                    nursery.start_soon(ask, name)
            assert await check.taken("aDa") and not await check.taken("bob")
    assert answers["ada"] and answers["ADA"] and answers["Ada"]
    assert not any(answers[f"guest{i}"] for i in range(300))
    burst = reads[:-2]
    assert max(len(names) for names in burst) <= MAX_NAMES  # each answer wakes a bounded crowd
    assert len(burst) <= 1 + -(-301 // MAX_NAMES)  # a first read, then full ones: not one read per name
    asked = [name for names in burst for name in names]
    assert set(asked) == {name.lower() for name in names}  # every name asked (lowercase), none lost
    assert len(asked) <= 301 + 2  # each once, but "ada" in up to three reads if its casings fell in three


async def test_callers_waiting_on_a_read_whose_caller_was_cancelled_ask_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def slow(real: Reads) -> Reads:
        async def read(db: store.Database, names: list[str]) -> set[str]:
            await trio.sleep(0.2)
            return await real(db, names)

        return read

    async with checking(monkeypatch, slow) as (check, answers):

        async def ask(name: str) -> None:
            answers[name] = await check.taken(name)

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask, "first")  # its read runs 0.2 s
                await trio.sleep(0.05)
                async with trio.open_nursery() as doomed:
                    doomed.start_soon(ask, "cancelled")  # in charge of the next batch, waiting for the read
                    await trio.sleep(0.01)
                    nursery.start_soon(ask, "ada")  # joins that batch
                    await trio.sleep(0.01)
                    doomed.cancel_scope.cancel()  # the batch's read is never made: "ada" asks again
    assert answers == {"first": False, "ada": True}
