"""The social graph: who follows whom, and who blocks whom.

Blocking is stronger than following: a block removes the follows between the two accounts both ways,
and while it stands neither can follow the other (nor message it: `_inbox.py`). A later step uses
`is_blocked(by=host, user=...)` to keep a blocked user out of every space of the blocker.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from store._accounts import account_columns, account_from_row, require_account
from store._db import Database
from store._errors import BadArgument, Blocked
from store._values import AccountId, AccountPage

MAX_PAGE = 200


async def follow(db: Database, follower: AccountId, followee: AccountId) -> bool:
    """Make `follower` follow `followee`; True if this is new, False if it already did (not an error).

    Error handling: `NoSuchAccount`; `BadArgument` to follow oneself; `Blocked` if either blocks the other.
    """
    _check_two(follower, followee, "followee", "an account cannot follow itself")
    now = db.now_ms()

    def add(conn: sqlite3.Connection) -> bool:
        require_account(conn, follower)
        require_account(conn, followee)
        if blocks_between(conn, follower, followee):
            raise Blocked()
        cursor = conn.execute(
            "INSERT OR IGNORE INTO follows (follower_id, followee_id, created_at) VALUES (?, ?, ?)",
            (follower, followee, now),
        )
        return cursor.rowcount == 1

    return await db.write(add)


async def unfollow(db: Database, follower: AccountId, followee: AccountId) -> bool:
    """Stop following; True if `follower` did follow, False if not (not an error)."""
    return await db.write(
        _changed_one("DELETE FROM follows WHERE follower_id = ? AND followee_id = ?", follower, followee)
    )


async def follows(db: Database, follower: AccountId, followee: AccountId) -> bool:
    return await db.read(_exists("SELECT 1 FROM follows WHERE follower_id = ? AND followee_id = ?", follower, followee))


async def followers(db: Database, account: AccountId, *, cursor: int | None = None, limit: int = 50) -> AccountPage:
    """The accounts following `account`, most recent follow first, one page at a time."""
    return await _page(db, account, "follows", "follower_id", "followee_id", cursor, limit)


async def following(db: Database, account: AccountId, *, cursor: int | None = None, limit: int = 50) -> AccountPage:
    """The accounts `account` follows, most recent follow first, one page at a time."""
    return await _page(db, account, "follows", "followee_id", "follower_id", cursor, limit)


async def block(db: Database, blocker: AccountId, blocked: AccountId) -> bool:
    """`blocker` blocks `blocked`: the follows between them end, both ways. True if the block is new.

    Error handling: `NoSuchAccount`; `BadArgument` to block oneself.
    """
    _check_two(blocker, blocked, "blocked", "an account cannot block itself")
    now = db.now_ms()

    def add(conn: sqlite3.Connection) -> bool:
        require_account(conn, blocker)
        require_account(conn, blocked)
        cursor = conn.execute(
            "INSERT OR IGNORE INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)",
            (blocker, blocked, now),
        )
        conn.execute(
            "DELETE FROM follows WHERE (follower_id = ? AND followee_id = ?) OR (follower_id = ? AND followee_id = ?)",
            (blocker, blocked, blocked, blocker),
        )
        return cursor.rowcount == 1

    return await db.write(add)


async def unblock(db: Database, blocker: AccountId, blocked: AccountId) -> bool:
    """Lift a block; True if there was one. The follows it ended do not come back."""
    return await db.write(_changed_one("DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?", blocker, blocked))


async def is_blocked(db: Database, *, by: AccountId, user: AccountId) -> bool:
    """True when `by` blocks `user` (one direction only)."""
    return await db.read(_exists("SELECT 1 FROM blocks WHERE blocker_id = ? AND blocked_id = ?", by, user))


async def blocked_accounts(
    db: Database, blocker: AccountId, *, cursor: int | None = None, limit: int = 50
) -> AccountPage:
    """The accounts `blocker` blocks, most recent first, one page at a time."""
    return await _page(db, blocker, "blocks", "blocked_id", "blocker_id", cursor, limit)


def blocks_between(conn: sqlite3.Connection, a: AccountId, b: AccountId) -> bool:
    """True when either account blocks the other."""
    row = conn.execute(
        "SELECT 1 FROM blocks WHERE (blocker_id = ? AND blocked_id = ?) OR (blocker_id = ? AND blocked_id = ?)",
        (a, b, b, a),
    ).fetchone()
    return row is not None


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise BadArgument("limit", f"1 to {MAX_PAGE}")


def _exists(query: str, *params: int) -> Callable[[sqlite3.Connection], bool]:
    return lambda conn: conn.execute(query, params).fetchone() is not None


def _changed_one(statement: str, *params: int) -> Callable[[sqlite3.Connection], bool]:
    return lambda conn: conn.execute(statement, params).rowcount == 1


def _check_two(a: AccountId, b: AccountId, field: str, reason: str) -> None:
    if a == b:
        raise BadArgument(field, reason)


async def _page(
    db: Database,
    account: AccountId,
    table: str,
    listed: str,
    owner: str,
    cursor: int | None,
    limit: int,
) -> AccountPage:
    """Keyset paging over an edge table (`follows` or `blocks`) by its row id, newest first: stable under
    inserts, and each page is one index range scan. The cursor is the row id of the page's last edge."""
    check_limit(limit)
    before = cursor if cursor is not None else 2**63 - 1
    # Table and column names come from the two callers above, never from a request.
    query = (
        f"SELECT {account_columns('a')}, e.id FROM {table} AS e JOIN accounts AS a ON a.id = e.{listed} "
        f"WHERE e.{owner} = ? AND e.id < ? ORDER BY e.id DESC LIMIT ?"
    )

    def select(conn: sqlite3.Connection) -> AccountPage:
        require_account(conn, account)
        rows = conn.execute(query, (account, before, limit + 1)).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return AccountPage(tuple(account_from_row(row) for row in rows), rows[-1][-1] if more else None)

    return await db.read(select)
