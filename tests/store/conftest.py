"""Fixtures for the store's tests: a fake clock, a cheap password hasher, an in-memory database.

Durability tests open a real file under `tmp_path` instead, and reopen it. Every test body runs under
a `trio.fail_after` ceiling (see tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import argon2
import pytest

from store import Account, Database, open_database, register

CHEAP_HASHER = argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)
"""argon2id at its lowest cost: the tests exercise the logic, not the hash's strength."""

PASSWORD = "correct horse battery staple"
CEILING = 10


class FakeClock:
    """Unix time that moves only when a test says so."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def db(clock: FakeClock) -> AsyncIterator[Database]:
    async with open_database(":memory:", clock=clock, hasher=CHEAP_HASHER) as database:
        yield database


async def make_account(db: Database, handle: str) -> Account:
    return await register(db, handle, PASSWORD, handle.capitalize())
