"""Migrations: an old database is upgraded at open, a newer one refused; each step is all or nothing;
published steps never change."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
import trio

from store import SchemaTooNew, follow, get_account, log_in, open_database
from store._migrate import migrate, schema_version, split_statements
from store._migrations import MIGRATIONS, Migration
from tests.store.conftest import CEILING, CHEAP_HASHER, PASSWORD

PUBLISHED = {
    1: "b0cda09ae86371ac73966de0c4b51abea5c67756b6b29e3ed349525cb2c68a89",
    2: "bbde6d35d5af3d6e246e64dfce78df092d0abc3a0e755d0d5111989f49f8bbfc",
    3: "269f3b97c9c5bc8778677c9fa38b18dde765d9777f4975dd6bb9d54f02effbcc",
    4: "c3c11ec5eba2ea5383dbb188bb4d2e89c3080f453ea2a61c977c017f4632f98f",
    5: "9d7498b54ecdf7f21b8a6a3e023677a4d1e305d37e75be0baa8369ef437d4e8c",
    6: "f040bd193101939e5b8705c3ee86c52171fe34dc79f57db34c51bfd1aacc1a99",
    7: "ed1cd7accff148c89a743df6459fc0d24f08d14024bac72d7d41c41e34713283",
    8: "fe4ddb1b5ef7cd93810f4caf514a14d49358016480b9369f3db6f4a9b6be7630",
    11: "9826775ebc18833f3f19a0566dbcbd9aeb450641cda6a7a6b77260704428502d",
    12: "c8c6033a49e57eba7ed213847435ded70c9d5cfebeb5f7fc81294bdee5da3b38",
}
"""sha256 of each published migration's SQL. A published migration is never edited: append a new one."""


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_published_migrations_are_never_edited() -> None:
    for version, digest in PUBLISHED.items():
        step = MIGRATIONS[version - 1].apply
        assert isinstance(step, str)
        assert hashlib.sha256(step.encode()).hexdigest() == digest, f"migration {version} was edited"
    assert len(MIGRATIONS) >= len(PUBLISHED)


async def test_opening_an_old_database_upgrades_it_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "stoa.db"
    conn = _connect(path)
    assert migrate(conn, MIGRATIONS[:1]) == 1
    for handle in ("alice", "bob"):
        conn.execute(
            "INSERT INTO accounts (handle, display_name, password_hash, created_at) VALUES (?, ?, ?, 0)",
            (handle, handle.title(), CHEAP_HASHER.hash(PASSWORD)),
        )
    conn.close()

    with trio.fail_after(CEILING):
        async with open_database(path, hasher=CHEAP_HASHER) as db:
            alice, bob = await get_account(db, "alice"), await get_account(db, "bob")
            await log_in(db, "alice", PASSWORD)
            assert await follow(db, alice.id, bob.id)  # a table from a later migration
    conn = _connect(path)
    assert schema_version(conn) == len(MIGRATIONS)
    conn.close()


async def test_reopening_an_up_to_date_database_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "stoa.db"
    with trio.fail_after(CEILING):
        for _ in range(3):
            async with open_database(path, hasher=CHEAP_HASHER):
                pass
    conn = _connect(path)
    assert schema_version(conn) == len(MIGRATIONS)
    assert migrate(conn) == len(MIGRATIONS)
    assert conn.execute("SELECT count(*) FROM signing_keys").fetchone()[0] == 1
    conn.close()


async def test_a_database_newer_than_the_code_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "stoa.db"
    with trio.fail_after(CEILING):
        async with open_database(path, hasher=CHEAP_HASHER):
            pass
        conn = _connect(path)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        conn.close()
        with pytest.raises(SchemaTooNew) as caught:
            async with open_database(path, hasher=CHEAP_HASHER):
                pytest.fail("a newer database was opened")
        assert caught.value.code == "schema_too_new"
        assert (caught.value.found, caught.value.supported) == (len(MIGRATIONS) + 1, len(MIGRATIONS))
        assert "newer" in str(caught.value)


def test_a_failing_migration_is_rolled_back_whole(tmp_path: Path) -> None:
    conn = _connect(tmp_path / "stoa.db")
    good = Migration("good", "CREATE TABLE kept (x INTEGER)")
    bad = Migration("bad", "CREATE TABLE lost (x INTEGER); INSERT INTO missing VALUES (1)")
    with pytest.raises(sqlite3.OperationalError, match="missing"):
        migrate(conn, [good, bad])
    assert schema_version(conn) == 1
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    assert "kept" in tables and "lost" not in tables
    assert not conn.in_transaction
    conn.close()


def test_a_migration_can_be_a_function_run_inside_the_transaction(tmp_path: Path) -> None:
    conn = _connect(tmp_path / "stoa.db")

    def backfill(inner: sqlite3.Connection) -> None:
        assert inner.in_transaction
        inner.executemany("INSERT INTO t (x) VALUES (?)", [(i,) for i in range(3)])

    assert migrate(conn, [Migration("table", "CREATE TABLE t (x INTEGER)"), Migration("rows", backfill)]) == 2
    assert conn.execute("SELECT sum(x) FROM t").fetchone()[0] == 3
    conn.close()


def test_a_migration_that_breaks_a_foreign_key_is_refused(tmp_path: Path) -> None:
    conn = _connect(tmp_path / "stoa.db")
    conn.execute("PRAGMA foreign_keys = ON")
    tables = Migration("tables", "CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (p INTEGER REFERENCES p)")
    orphan = Migration("orphan", "PRAGMA defer_foreign_keys = ON; INSERT INTO c VALUES (7)")
    with pytest.raises(Exception, match="foreign key"):
        migrate(conn, [tables, orphan])
    assert schema_version(conn) == 1
    conn.close()


def test_scripts_split_into_whole_statements() -> None:
    script = """
        CREATE TABLE t (x TEXT DEFAULT 'a;b'); -- a comment; with a semicolon
        CREATE TRIGGER t_insert AFTER INSERT ON t BEGIN
            UPDATE t SET x = 'c;d' WHERE rowid = new.rowid;
            SELECT 1;
        END;
        ;
    """
    statements = split_statements(script)
    assert len(statements) == 2
    assert "CREATE TRIGGER" in statements[1] and statements[1].endswith("END;")
    conn = sqlite3.connect(":memory:")
    for statement in statements:
        conn.execute(statement)
    conn.execute("INSERT INTO t DEFAULT VALUES")
    assert conn.execute("SELECT x FROM t").fetchone()[0] == "c;d"
    conn.close()


def test_spaces_of_an_old_database_get_default_details_and_a_started_one_its_schedules(tmp_path: Path) -> None:
    conn = _connect(tmp_path / "stoa.db")
    assert migrate(conn, MIGRATIONS[:5]) == 5
    conn.execute("INSERT INTO accounts (handle, display_name, password_hash, created_at) VALUES ('ada', 'Ada', 'x', 0)")
    for space_id in ("plain", "started"):
        conn.execute(
            "INSERT INTO spaces (space_id, title, host, status, created_at, seq_reserved)"
            " VALUES (?, 'Show', 'ada', 'live', 1, 0)",
            (space_id,),
        )
    conn.execute(
        "INSERT INTO scheduled_spaces (host_id, title, description, topics, search_text, starts_at, created_at,"
        " started_space_id) VALUES (1, 'Show', 'About it', '[\"jazz\"]', '', 2, 1, 'started')"
    )
    assert migrate(conn) == len(MIGRATIONS)
    rows = conn.execute("SELECT space_id, description, topics, speaker_policy FROM spaces ORDER BY space_id")
    assert rows.fetchall() == [("plain", "", "[]", "everyone"), ("started", "About it", '["jazz"]', "everyone")]
    conn.close()


def test_spaces_of_an_old_database_name_accounts_by_id_and_end_the_ones_guests_hosted(tmp_path: Path) -> None:
    conn = _connect(tmp_path / "stoa.db")
    assert migrate(conn, MIGRATIONS[:6]) == 6
    conn.execute("INSERT INTO accounts (handle, display_name, password_hash, created_at) VALUES ('ada', 'Ada', 'x', 0)")
    # Legacy guests' names only differed from handles: `u1` is account 1's id today, `u1x` merely looks like one.
    for space_id, host in (("by_ada", "ada"), ("by_guest", "sam"), ("by_u1", "u1"), ("by_u1x", "u1x")):
        conn.execute(
            "INSERT INTO spaces (space_id, title, host, status, created_at, seq_reserved)"
            " VALUES (?, 'Show', ?, 'live', 5, 0)",
            (space_id, host),
        )
    for post_id, user in enumerate(("ada", "sam", "u1", "u1x", "ADA"), start=1):
        conn.execute(
            "INSERT INTO space_posts (space_id, post_id, user, text, at) VALUES ('by_ada', ?, ?, 'hi', 6)",
            (post_id, user),
        )
    for user in ("sam", "u1", "u1x"):
        conn.execute("INSERT INTO space_removals (space_id, user) VALUES ('by_ada', ?)", (user,))
    for user in ("Ada", "u1"):
        conn.execute("INSERT INTO space_invitations (space_id, user, invited_at) VALUES ('by_ada', ?, 6)", (user,))
    assert migrate(conn) == len(MIGRATIONS)
    spaces = conn.execute("SELECT space_id, host, host_name, status, ended_at FROM spaces ORDER BY space_id")
    assert spaces.fetchall() == [
        ("by_ada", "u1", "ada", "live", None),
        ("by_guest", "legacy:sam", "sam", "ended", 5),
        ("by_u1", "legacy:u1", "u1", "ended", 5),
        ("by_u1x", "legacy:u1x", "u1x", "ended", 5),
    ]
    posts = conn.execute("SELECT user, name FROM space_posts ORDER BY post_id").fetchall()
    # A guest's old name becomes an inert string, never an id: only account 1's own posts are account 1's.
    assert posts == [("u1", "ada"), ("legacy:sam", "sam"), ("legacy:u1", "u1"), ("legacy:u1x", "u1x"), ("u1", "ADA")]
    removals = conn.execute("SELECT user FROM space_removals ORDER BY user").fetchall()
    assert removals == [("legacy:sam",), ("legacy:u1",), ("legacy:u1x",)]  # account 1 is not removed
    invitations = conn.execute("SELECT user FROM space_invitations ORDER BY user").fetchall()
    assert invitations == [("legacy:u1",), ("u1",)]
    conn.close()
