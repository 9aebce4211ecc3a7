"""Durability: what the store acknowledged is still there after the database is closed and reopened,
and after the process is killed mid-flight (a crash, not a clean shutdown)."""

from __future__ import annotations

import signal
import sys
import textwrap
from pathlib import Path

import pytest
import trio

from store import (
    Database,
    Invite,
    MessageKind,
    TokenInvalid,
    block,
    follow,
    follows,
    get_account,
    inbox,
    is_blocked,
    log_in,
    log_out,
    mark_read,
    open_database,
    register,
    send_dm,
    set_protected,
    verify_token,
)
from tests.conftest import ROOT
from tests.store.conftest import CEILING, CHEAP_HASHER, PASSWORD, FakeClock, make_account


async def _pragma(db: Database, name: str) -> object:
    return await db.read(lambda conn: conn.execute(f"PRAGMA {name}").fetchone()[0])


async def test_a_file_database_runs_in_wal_mode_with_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    with trio.fail_after(CEILING):
        async with open_database(tmp_path / "stoa.db", hasher=CHEAP_HASHER) as db:
            assert await _pragma(db, "journal_mode") == "wal"
            assert await _pragma(db, "synchronous") == 2  # FULL
            assert await _pragma(db, "foreign_keys") == 1


async def test_everything_written_is_there_after_the_database_is_reopened(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "stoa.db"
    with trio.fail_after(CEILING):
        async with open_database(path, clock=clock, hasher=CHEAP_HASHER) as db:
            alice, bob, troll = [await make_account(db, name) for name in ("Alice", "bob", "troll")]
            await follow(db, alice.id, bob.id)
            await set_protected(db, bob.id, True)
            await block(db, bob.id, troll.id)
            hello = await send_dm(db, bob.id, alice.id, "hello")
            invite = await send_dm(db, bob.id, alice.id, "", invite=Invite(space_id="sp-1", role="speaker"))
            await mark_read(db, alice.id, hello.id)
            kept = await log_in(db, "alice", PASSWORD)
            revoked = await log_in(db, "alice", PASSWORD)
            await log_out(db, revoked.token)

        async with open_database(path, clock=clock, hasher=CHEAP_HASHER) as db:
            assert await get_account(db, "alice") == alice
            assert (await get_account(db, "bob")).protected is True
            assert await follows(db, alice.id, bob.id)
            assert await is_blocked(db, by=bob.id, user=troll.id)  # bans survive restarts
            messages = await inbox(db, alice.id)
            assert [m.id for m in messages] == [hello.id, invite.id]
            assert [m.read for m in messages] == [True, False]
            assert messages[1].kind is MessageKind.INVITE and messages[1].invite == invite.invite
            assert (await verify_token(db, kept.token)).account == alice  # the signing secret persisted
            with pytest.raises(TokenInvalid):
                await verify_token(db, revoked.token)  # and so did the revocation
            await log_in(db, "alice", PASSWORD)
            await register(db, "carol", PASSWORD, "Carol")


CRASHING_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    import argon2, trio
    from store import block, log_in, open_database, register

    async def main(path: str) -> None:
        hasher = argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)
        async with open_database(path, hasher=hasher) as db:
            host = await register(db, "host", sys.argv[2], "Host")
            troll = await register(db, "troll", sys.argv[2], "Troll")
            await block(db, host.id, troll.id)
            session = await log_in(db, "host", sys.argv[2])
            print(session.token, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)  # acknowledged, then gone: no close, no checkpoint

    trio.run(main, sys.argv[1])
    """
)


async def test_acknowledged_writes_survive_the_process_being_killed(tmp_path: Path) -> None:
    path = tmp_path / "stoa.db"
    with trio.fail_after(30):
        done = await trio.run_process(
            [sys.executable, "-c", CRASHING_WRITER, str(path), PASSWORD],
            cwd=ROOT,
            capture_stdout=True,
            check=False,
        )
        assert done.returncode == -signal.SIGKILL
        token = done.stdout.decode().strip()
        assert (await trio.Path(f"{path}-wal").stat()).st_size > 0  # the commits live in the WAL, not yet checkpointed
        async with open_database(path, hasher=CHEAP_HASHER) as db:
            host, troll = await get_account(db, "host"), await get_account(db, "troll")
            assert await is_blocked(db, by=host.id, user=troll.id)
            assert (await verify_token(db, token)).account == host


async def test_a_new_database_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "stoa.db"
    with trio.fail_after(CEILING):
        async with open_database(path, hasher=CHEAP_HASHER) as db:
            await make_account(db, "alice")
            for name in ("stoa.db", "stoa.db-wal"):
                mode = (await trio.Path(tmp_path / name).stat()).st_mode
                assert mode & 0o077 == 0, f"{name} is open to others: {oct(mode)}"


async def test_the_database_refuses_work_once_its_block_has_ended(tmp_path: Path) -> None:
    with trio.fail_after(CEILING):
        async with open_database(tmp_path / "stoa.db", hasher=CHEAP_HASHER) as db:
            pass
        with pytest.raises(trio.ClosedResourceError):
            await get_account(db, "alice")
