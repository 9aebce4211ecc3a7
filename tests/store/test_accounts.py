"""Accounts: registration rules, case-insensitive handles, profile changes, and passwords kept only as
argon2id hashes (rehashed when the parameters change)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Literal

import argon2
import pytest
import trio

from store import (
    AccountId,
    BadArgument,
    BadCredentials,
    Database,
    HandleTaken,
    NoSuchAccount,
    get_account,
    get_account_by_id,
    log_in,
    open_database,
    register,
    set_display_name,
    set_protected,
)
from tests.store.conftest import CEILING, CHEAP_HASHER, PASSWORD, FakeClock


async def test_registering_returns_the_account_and_it_can_be_looked_up(db: Database, clock: FakeClock) -> None:
    with trio.fail_after(CEILING):
        account = await register(db, "Ada_Lovelace", PASSWORD, "  Ada Lovelace ")
        assert account.handle == "Ada_Lovelace"
        assert account.display_name == "Ada Lovelace"
        assert account.protected is False
        assert account.created_at == int(clock.now * 1000)
        assert await get_account(db, "Ada_Lovelace") == account
        assert await get_account_by_id(db, account.id) == account


async def test_handles_are_unique_without_regard_to_case_and_keep_their_casing(db: Database) -> None:
    with trio.fail_after(CEILING):
        await register(db, "Alice", PASSWORD, "Alice")
        for other in ("alice", "ALICE", "aLiCe"):
            with pytest.raises(HandleTaken) as caught:
                await register(db, other, PASSWORD, "Someone else")
            assert caught.value.code == "handle_taken"
        assert (await get_account(db, "aLIce")).handle == "Alice"


@pytest.mark.parametrize(
    ("handle", "password", "display_name", "field"),
    [
        ("", PASSWORD, "Name", "handle"),
        ("a" * 33, PASSWORD, "Name", "handle"),
        ("has space", PASSWORD, "Name", "handle"),
        ("dash-ed", PASSWORD, "Name", "handle"),
        ("trailing\n", PASSWORD, "Name", "handle"),
        ("ünicode", PASSWORD, "Name", "handle"),
        ("ok", "short", "Name", "password"),
        ("ok", "x" * 257, "Name", "password"),
        ("ok", "lone\ud800surrogate", "Name", "password"),
        ("ok", PASSWORD, "", "display_name"),
        ("ok", PASSWORD, "   ", "display_name"),
        ("ok", PASSWORD, "n" * 51, "display_name"),
        ("ok", PASSWORD, "two\nlines", "display_name"),
        ("ok", PASSWORD, "bell\x07", "display_name"),
    ],
)
async def test_registration_refuses_out_of_range_arguments(
    db: Database, handle: str, password: str, display_name: str, field: str
) -> None:
    with trio.fail_after(CEILING):
        with pytest.raises(BadArgument) as caught:
            await register(db, handle, password, display_name)
        assert caught.value.code == "bad_argument"
        assert caught.value.field == field


@pytest.mark.parametrize(
    ("handle", "password", "display_name"),
    [("a", "x" * 8, "n"), ("a" * 32, "x" * 256, "n" * 50), ("under_score_9", PASSWORD, "Émilie 🎙️")],
)
async def test_registration_accepts_the_edges_of_each_range(
    db: Database, handle: str, password: str, display_name: str
) -> None:
    with trio.fail_after(CEILING):
        account = await register(db, handle, password, display_name)
        assert (await log_in(db, handle, password)).account == account


async def test_unknown_accounts_are_reported_as_such(db: Database) -> None:
    with trio.fail_after(CEILING):
        with pytest.raises(NoSuchAccount):
            await get_account(db, "nobody")
        with pytest.raises(NoSuchAccount):
            await get_account_by_id(db, AccountId(42))
        with pytest.raises(NoSuchAccount):
            await set_protected(db, AccountId(42), True)


async def test_the_protected_flag_and_display_name_can_change(db: Database) -> None:
    with trio.fail_after(CEILING):
        account = await register(db, "bob", PASSWORD, "Bob")
        assert (await set_protected(db, account.id, True)).protected is True
        assert (await get_account(db, "bob")).protected is True
        renamed = await set_display_name(db, account.id, "Robert")
        assert renamed.display_name == "Robert" and renamed.protected is True
        assert (await set_protected(db, account.id, False)).protected is False
        with pytest.raises(BadArgument):
            await set_display_name(db, account.id, "")


async def test_passwords_are_never_stored_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "stoa.db"
    with trio.fail_after(CEILING):
        async with open_database(path, hasher=CHEAP_HASHER) as db:
            await register(db, "carol", PASSWORD, "Carol")
    with sqlite3.connect(path) as conn:
        (stored,) = conn.execute("SELECT password_hash FROM accounts WHERE handle = 'carol'").fetchone()
    conn.close()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert _files_containing(tmp_path, PASSWORD.encode()) == []  # nor in the WAL or a journal


def _files_containing(folder: Path, needle: bytes) -> list[str]:
    return [file.name for file in folder.iterdir() if needle in file.read_bytes()]


async def test_a_hash_made_with_old_parameters_is_replaced_at_the_next_log_in(tmp_path: Path) -> None:
    path = tmp_path / "stoa.db"
    stronger = argon2.PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1)

    def stored_hash() -> str:
        conn = sqlite3.connect(path)
        try:
            return str(conn.execute("SELECT password_hash FROM accounts").fetchone()[0])
        finally:
            conn.close()

    with trio.fail_after(CEILING):
        async with open_database(path, hasher=CHEAP_HASHER) as db:
            await register(db, "dave", PASSWORD, "Dave")
        old = stored_hash()
        async with open_database(path, hasher=stronger) as db:
            await log_in(db, "dave", PASSWORD)
        new = stored_hash()
        assert new != old
        assert not stronger.check_needs_rehash(new)
        async with open_database(path, hasher=stronger) as db:
            await log_in(db, "dave", PASSWORD)  # the new hash checks the same password
        assert stored_hash() == new  # and is not replaced again


class RecordingHasher(argon2.PasswordHasher):
    """A cheap hasher that notes the thread of every hash and check."""

    def __init__(self) -> None:
        cheap = argon2.profiles.CHEAPEST
        super().__init__(
            time_cost=cheap.time_cost,
            memory_cost=cheap.memory_cost,
            parallelism=cheap.parallelism,
            hash_len=cheap.hash_len,
            salt_len=cheap.salt_len,
        )
        self.calls: list[tuple[str, bool]] = []

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.calls.append(("hash", threading.current_thread() is threading.main_thread()))
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.calls.append(("verify", threading.current_thread() is threading.main_thread()))
        return super().verify(hash, password)


async def test_passwords_are_hashed_and_checked_off_the_trio_thread_even_for_unknown_handles() -> None:
    hasher = RecordingHasher()
    with trio.fail_after(CEILING):
        async with open_database(":memory:", hasher=hasher) as db:
            await register(db, "alice", PASSWORD, "Alice")
            await log_in(db, "alice", PASSWORD)
            with pytest.raises(BadCredentials):
                await log_in(db, "nobody", PASSWORD)
    kinds = [kind for kind, _ in hasher.calls]
    assert kinds.count("verify") == 2  # the unknown handle was checked against a decoy hash
    assert not any(on_trio_thread for _, on_trio_thread in hasher.calls)


async def test_of_two_racing_registrations_of_one_handle_exactly_one_wins(db: Database) -> None:
    outcomes: list[str] = []

    async def attempt(handle: str) -> None:
        try:
            await register(db, handle, PASSWORD, handle)
            outcomes.append("registered")
        except HandleTaken:
            outcomes.append("taken")

    with trio.fail_after(CEILING):
        async with trio.open_nursery() as nursery:
            for handle in ("racer", "RACER", "Racer"):
                nursery.start_soon(attempt, handle)
    assert sorted(outcomes) == ["registered", "taken", "taken"]
