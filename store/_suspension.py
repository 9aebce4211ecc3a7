"""Suspension: an operator stops an account everywhere at once (`stoa admin suspend`), and may restore it.

A suspension is a column of the account (`suspended_at`, migration 9), so it holds across restarts. Suspending
also revokes every session of the account in the same transaction; `log_in` and `verify_token` refuse a
suspended account with `AccountSuspended` (not `TokenInvalid`: the client is told why). A restored account
logs in again; its old tokens stay revoked.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from store._accounts import account_columns, account_from_row
from store._db import Database
from store._errors import NoSuchAccount
from store._values import Account, AccountId

Also = Callable[[sqlite3.Connection], None] | None


async def suspend_account(db: Database, account_id: AccountId, *, also: Also = None) -> tuple[Account, bool]:
    """Suspend the account and revoke its sessions; return it and whether it was not suspended before. `also`
    runs in the same transaction when it changes (the webhook outbox's row)."""
    now = db.now_ms()

    def suspend(conn: sqlite3.Connection) -> tuple[Account, bool]:
        row = conn.execute(
            f"SELECT suspended_at, {account_columns()} FROM accounts WHERE id = ?", (account_id,)
        ).fetchone()
        if row is None:
            raise NoSuchAccount(account_id)
        if row[0] is not None:
            return account_from_row(row[1:]), False
        conn.execute("UPDATE accounts SET suspended_at = ? WHERE id = ?", (now, account_id))
        conn.execute(
            "UPDATE sessions SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL", (now, account_id)
        )
        if also is not None:
            also(conn)
        return account_from_row(row[1:]), True

    return await db.write(suspend)


async def restore_account(db: Database, account_id: AccountId, *, also: Also = None) -> tuple[Account, bool]:
    """Lift the account's suspension; return it and whether it was suspended."""

    def restore(conn: sqlite3.Connection) -> tuple[Account, bool]:
        row = conn.execute(
            f"SELECT suspended_at, {account_columns()} FROM accounts WHERE id = ?", (account_id,)
        ).fetchone()
        if row is None:
            raise NoSuchAccount(account_id)
        conn.execute("UPDATE accounts SET suspended_at = NULL WHERE id = ?", (account_id,))
        if also is not None and row[0] is not None:
            also(conn)
        return account_from_row(row[1:]), row[0] is not None

    return await db.write(restore)


async def suspended_accounts(db: Database) -> frozenset[AccountId]:
    """Every suspended account's id (the gateway keeps this set to refuse their requests without a read)."""
    rows = await db.read(lambda conn: conn.execute("SELECT id FROM accounts WHERE suspended_at IS NOT NULL").fetchall())
    return frozenset(AccountId(row[0]) for row in rows)


def is_suspended(conn: sqlite3.Connection, account_id: AccountId) -> bool:
    row = conn.execute("SELECT suspended_at FROM accounts WHERE id = ?", (account_id,)).fetchone()
    return row is not None and row[0] is not None
