"""The runner of the schema's migrations (`_migrations.py`): applies those a database lacks when it opens,
each in its own transaction, and refuses a database newer than this code."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from store._errors import SchemaTooNew, StoreError
from store._migrations import MIGRATIONS, Migration


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def check_not_too_new(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> None:
    found = schema_version(conn)
    if found > len(migrations):
        raise SchemaTooNew(found, len(migrations))


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply the migrations this database lacks, each in its own transaction; return the final version.

    The connection must be in autocommit mode (`isolation_level=None`). Each step re-reads the version
    after taking the write lock, so two processes opening one file at once apply every step exactly once.
    A step that fails is rolled back whole and the error propagates: the database stays at the last
    good version.
    """
    check_not_too_new(conn, migrations)
    for version in range(schema_version(conn) + 1, len(migrations) + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = schema_version(conn)
            if found >= version:  # another connection got there first
                conn.execute("ROLLBACK")
                check_not_too_new(conn, migrations)
                continue
            step = migrations[version - 1].apply
            if isinstance(step, str):
                for statement in split_statements(step):
                    conn.execute(statement)
            else:
                step(conn)
            if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                raise StoreError(f"migration {version} left rows that break a foreign key")
            # A literal: PRAGMA takes no parameters. `version` is an int we computed.
            conn.execute(f"PRAGMA user_version = {version:d}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return schema_version(conn)


def split_statements(script: str) -> list[str]:
    """Cut an SQL script into complete statements (trigger bodies with inner `;` stay whole).

    `executescript` would do this too, but it commits any open transaction first, and a migration must
    run inside one.
    """
    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\r\n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \t\r\n;"):
        raise StoreError(f"incomplete SQL statement in migration: {pending.strip()[:60]!r}")
    return statements
