"""`stoa backup` while a real server writes, and `stoa restore`: each backup is one consistent moment of the
database, restores into a folder a server then runs on, and a restore is refused while a server holds the
folder."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import trio

import store
from gateway.client import connect_account
from tests.conftest import ServerProcess, run_stoa, start_server, stop_server


def snapshot_facts(path: Path, space_id: str) -> tuple[int, int]:
    """Check the database at `path` is whole and consistent; return (accounts, posts of the space)."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        posts = [row[0] for row in conn.execute("SELECT post_id FROM space_posts WHERE space_id = ? ORDER BY post_id",
                                                (space_id,))]  # fmt: skip
        assert posts == list(range(1, len(posts) + 1))  # no post without the ones before it
        accounts = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
        return int(accounts), len(posts)
    finally:
        conn.close()


async def test_backups_taken_during_writes_restore_to_consistent_databases(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data, "--rate-limits", "off")  # writes as fast as the store takes them
    try:
        await _write_and_back_up(server, tmp_path)
    finally:
        assert stop_server(server) == 0


async def _write_and_back_up(server: ServerProcess, tmp_path: Path) -> None:
    data = tmp_path / "data"
    backups = [tmp_path / f"backup-{i}.db" for i in range(3)]
    written = {"posts": 0, "accounts": 0}
    with trio.fail_after(120):
        async with connect_account(server.url, "host") as host:
            space_id = (await host.create_space("Busy")).space.space_id

            async def write_all_the_time() -> None:
                while True:
                    await host.share_post(f"post {written['posts'] + 1}")
                    written["posts"] += 1
                    async with connect_account(server.url, f"user{written['accounts']}"):
                        written["accounts"] += 1

            async with trio.open_nursery() as nursery:
                nursery.start_soon(write_all_the_time)
                for backup in backups:
                    await trio.sleep(0.5)
                    done = await run_stoa("backup", str(backup), "--data", str(data))
                    assert done.returncode == 0, done.stderr
                nursery.cancel_scope.cancel()
            busy = await run_stoa("restore", str(backups[0]), "--data", str(data))
            assert busy.returncode == 1 and "stop it first" in busy.stderr

    facts = []
    for i, backup in enumerate(backups):
        target = tmp_path / f"restored-{i}"
        done = await run_stoa("restore", str(backup), "--data", str(target))
        assert done.returncode == 0, done.stderr
        facts.append(snapshot_facts(target / "stoa.db", space_id))
    assert facts == sorted(facts) and facts[-1][1] > 0  # later backups hold more, each a moment of the same history
    assert facts[-1][1] <= written["posts"] + 1

    restored = start_server(tmp_path / "restored-2")  # a server runs on what was restored
    try:
        with trio.fail_after(30):
            async with connect_account(restored.url, "host", register=False) as host:
                await host.join_space(space_id)  # the live space was in the backup: it is live again
    finally:
        assert stop_server(restored) == 0


async def test_backup_and_restore_refuse_what_is_not_a_stoa_database(tmp_path: Path) -> None:
    with trio.fail_after(30):
        missing = await run_stoa("backup", str(tmp_path / "b.db"), "--data", str(tmp_path / "empty"))
        assert missing.returncode == 1 and "no database here" in missing.stderr
        junk = tmp_path / "junk.db"
        junk.write_bytes(b"not a database at all" * 100)
        refused = await run_stoa("restore", str(junk), "--data", str(tmp_path / "data"))
        assert refused.returncode == 1 and "not a Stoa database" in refused.stderr
        assert not (tmp_path / "data" / "stoa.db").exists()
