"""Accounts: register one, look one up, change its display name or its "protected" flag.

Handles are unique without regard to case (the column is `COLLATE NOCASE`) and keep the casing chosen
at registration. Passwords are stored only as argon2id hashes.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from typing import Any

from store._db import Database
from store._errors import BadArgument, HandleTaken, NoSuchAccount
from store._values import Account, AccountId

HANDLE = re.compile(r"[A-Za-z0-9_]{1,32}")
MAX_DISPLAY_NAME_CHARS = 50
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256

ACCOUNT_COLUMNS = ("id", "handle", "display_name", "protected", "created_at")
"""The columns `account_from_row` reads, in its order."""

_FORBIDDEN_IN_NAMES = {"Cc", "Cs", "Zl", "Zp"}  # control characters, lone surrogates, line breaks


async def register(db: Database, handle: str, password: str, display_name: str) -> Account:
    """Create an account and return it.

    Error handling: `BadArgument` for a handle not matching `[A-Za-z0-9_]{1,32}`, a display name not of
    1 to 50 characters (after trimming; no control characters), or a password not of 8 to 256 characters;
    `HandleTaken` when the handle is in use in any casing.
    """
    check_handle(handle)
    name = clean_display_name(display_name)
    check_password(password)
    if await db.read(lambda conn: _row_by_handle(conn, handle)) is not None:
        raise HandleTaken(handle)  # before the slow hash: a taken handle costs us nothing
    password_hash = await db.passwords.hash(password)
    now = db.now_ms()

    def insert(conn: sqlite3.Connection) -> Account:
        try:
            cursor = conn.execute(
                "INSERT INTO accounts (handle, display_name, password_hash, created_at) VALUES (?, ?, ?, ?)",
                (handle, name, password_hash, now),
            )
        except sqlite3.IntegrityError as exc:  # registered meanwhile: the UNIQUE index decides
            raise HandleTaken(handle) from exc
        assert cursor.lastrowid is not None
        return Account(AccountId(cursor.lastrowid), handle, name, False, now)

    return await db.write(insert)


HANDLES_PER_QUERY = 500  # well under SQLite's limit of bound parameters


async def get_account(db: Database, handle: str) -> Account:
    """The account with this handle, in any casing. Raises `NoSuchAccount`."""
    row = await db.read(lambda conn: _row_by_handle(conn, handle))
    if row is None:
        raise NoSuchAccount(handle)
    return account_from_row(row)


async def taken_handles(db: Database, names: list[str]) -> set[str]:
    """Which of `names` are accounts' handles, in any casing: returned in lowercase. One read for all."""

    def read(conn: sqlite3.Connection) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(names), HANDLES_PER_QUERY):
            chunk = names[start : start + HANDLES_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(f"SELECT handle FROM accounts WHERE handle IN ({marks})", chunk).fetchall()
            found.update(str(row[0]).lower() for row in rows)
        return found

    return await db.read(read) if names else set()


async def get_account_by_id(db: Database, account_id: AccountId) -> Account:
    """The account with this id. Raises `NoSuchAccount`."""
    return await db.read(lambda conn: require_account(conn, account_id))


async def set_protected(db: Database, account_id: AccountId, protected: bool) -> Account:
    """Turn the account's "protected" flag on or off; return the account as it now is."""
    return await _update(db, account_id, "protected = ?", int(protected))


async def set_display_name(db: Database, account_id: AccountId, display_name: str) -> Account:
    """Change the display name (1 to 50 characters, as at registration); return the account as it now is."""
    return await _update(db, account_id, "display_name = ?", clean_display_name(display_name))


def check_handle(handle: str) -> None:
    if not isinstance(handle, str) or HANDLE.fullmatch(handle) is None:
        raise BadArgument("handle", "1 to 32 letters (A-Z, a-z), digits or underscores")


def clean_display_name(display_name: str) -> str:
    """The name as stored: NFC-normalized and trimmed; raises `BadArgument` unless 1 to 50 characters."""
    if not isinstance(display_name, str):
        raise BadArgument("display_name", "must be text")
    name = unicodedata.normalize("NFC", display_name).strip()
    if not 1 <= len(name) <= MAX_DISPLAY_NAME_CHARS:
        raise BadArgument("display_name", f"1 to {MAX_DISPLAY_NAME_CHARS} characters")
    if any(unicodedata.category(char) in _FORBIDDEN_IN_NAMES for char in name):
        raise BadArgument("display_name", "no control characters or line breaks")
    return name


def check_password(password: str) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise BadArgument("password", f"{MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadArgument("password", "not valid Unicode text") from exc


def account_columns(table: str = "") -> str:
    """The account columns for a SELECT, each prefixed with `table.` when given (for joins)."""
    prefix = f"{table}." if table else ""
    return ", ".join(prefix + column for column in ACCOUNT_COLUMNS)


def account_from_row(row: tuple[Any, ...]) -> Account:
    account_id, handle, display_name, protected, created_at = row[:5]
    return Account(AccountId(account_id), handle, display_name, bool(protected), created_at)


def require_account(conn: sqlite3.Connection, account_id: AccountId) -> Account:
    row = conn.execute(f"SELECT {account_columns()} FROM accounts WHERE id = ?", (account_id,)).fetchone()
    if row is None:
        raise NoSuchAccount(account_id)
    return account_from_row(row)


def _row_by_handle(conn: sqlite3.Connection, handle: str) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = conn.execute(
        f"SELECT {account_columns()} FROM accounts WHERE handle = ?", (handle,)
    ).fetchone()
    return row


async def _update(db: Database, account_id: AccountId, assignment: str, value: object) -> Account:
    def update(conn: sqlite3.Connection) -> Account:
        row = conn.execute(
            f"UPDATE accounts SET {assignment} WHERE id = ? RETURNING {account_columns()}", (value, account_id)
        ).fetchone()
        if row is None:
            raise NoSuchAccount(account_id)
        return account_from_row(row)

    return await db.write(update)
