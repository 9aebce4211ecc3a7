"""The embedded store's database: one SQLite connection, used by one worker thread at a time.

Every query runs through `Database.read` or `Database.write`, which hand a function to a worker thread
under a `CapacityLimiter(1)`: the Trio loop never blocks on disk, and writes are serialized.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Protocol, TypeVar

import argon2
import trio

from store._errors import StoreError
from store._migrate import check_not_too_new, migrate
from store._passwords import Passwords

T = TypeVar("T")


class Clock(Protocol):
    """Unix time in seconds, like `time.time`; tests pass a fake one to move time forward."""

    def __call__(self) -> float: ...


MIN_SQLITE = (3, 37, 0)  # STRICT tables
SIGNING_KEY_BYTES = 32


class Database:
    """The store's handle on one SQLite database. Get one from `open_database`; pass it to store functions.

    Resource handling: the connection belongs to the `open_database` block and is closed when it exits.
    It is only ever touched by the thread that holds `_limiter`, one call at a time (so sqlite3's
    same-thread check is off: the limiter is the guarantee, not the thread's identity).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        limiter: trio.CapacityLimiter,
        path: str,
        clock: Clock,
        passwords: Passwords,
        signing_keys: Mapping[int, bytes],
    ) -> None:
        self._conn = conn
        self._limiter = limiter
        self._closed = False
        self.path = path
        self.passwords = passwords
        self.signing_keys = dict(signing_keys)
        self._clock = clock
        self.on_write: Callable[[float], None] | None = None
        """Told how long each write took, from asking to committed, in seconds (the server's metrics)."""

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    @property
    def current_signing_key(self) -> tuple[int, bytes]:
        key_id = max(self.signing_keys)
        return key_id, self.signing_keys[key_id]

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` in the worker thread inside a read transaction (one consistent snapshot)."""
        return await self._run(fn, "BEGIN DEFERRED")

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` in the worker thread inside a write transaction, and return once committed.

        With WAL and `synchronous=FULL`, a commit is on disk when it returns: what the caller then
        acknowledges survives a crash or power loss. If `fn` raises, everything it did is rolled back.

        Error handling: cancellation while the function runs does not abandon it; the transaction
        finishes (committed or rolled back) before `trio.Cancelled` is delivered.
        """
        if self.on_write is None:
            return await self._run(fn, "BEGIN IMMEDIATE")
        started = time.perf_counter()
        try:
            return await self._run(fn, "BEGIN IMMEDIATE")
        finally:
            self.on_write(time.perf_counter() - started)

    async def _run(self, fn: Callable[[sqlite3.Connection], T], begin: str) -> T:
        if self._closed:
            raise trio.ClosedResourceError("the database is closed")

        def in_transaction() -> T:
            with _transaction(self._conn, begin):
                return fn(self._conn)

        return await trio.to_thread.run_sync(in_transaction, limiter=self._limiter)

    async def _close(self) -> None:
        self._closed = True
        await trio.to_thread.run_sync(self._conn.close, limiter=self._limiter)


@asynccontextmanager
async def open_database(
    path: str | os.PathLike[str],
    *,
    clock: Clock = time.time,
    hasher: argon2.PasswordHasher | None = None,
) -> AsyncIterator[Database]:
    """Open (or create) the database at `path`, bring its schema up to date, and close it on exit.

    `path` may be ":memory:" for tests that need no durability; a new file is created readable by its
    owner only. `hasher` sets the argon2 parameters (when None, argon2-cffi's defaults: RFC 9106's
    low-memory profile); accounts hashed with other parameters are rehashed at their next log-in.

    Error handling: raises `SchemaTooNew` for a database written by a newer Stoa, and any error of a
    failing migration (the database then stays at its last good version).
    """
    limiter = trio.CapacityLimiter(1)
    where = os.fspath(path)
    conn, keys = await trio.to_thread.run_sync(_connect, where, int(clock() * 1000), limiter=limiter)
    db = Database(conn, limiter, where, clock, Passwords(hasher), keys)
    try:
        yield db
    finally:
        with trio.CancelScope(shield=True):
            await db._close()


def _connect(path: str, now_ms: int) -> tuple[sqlite3.Connection, dict[int, bytes]]:
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise StoreError(f"SQLite {sqlite3.sqlite_version} is too old: the store needs 3.37 or newer")
    if path != ":memory:":
        _create_private_file(path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 5000")
        check_not_too_new(conn)  # before anything below writes to the file
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal" and path != ":memory:":
            raise StoreError(f"could not put {path!r} in WAL mode (got {mode!r})")
        # FULL: the WAL is synced at every commit, so an acknowledged write survives power loss,
        # not only a crash of the process (NORMAL would risk the last commits).
        conn.execute("PRAGMA synchronous = FULL")
        migrate(conn)
        keys = _signing_keys(conn, now_ms)
    except BaseException:
        conn.close()
        raise
    return conn, keys


def _create_private_file(path: str) -> None:
    """Create a new database file readable by its owner only: it holds password hashes and the token
    secret. SQLite gives the WAL and shared-memory files the same permissions. An existing file is kept."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _signing_keys(conn: sqlite3.Connection, now_ms: int) -> dict[int, bytes]:
    """The secrets that sign session tokens; the first is made at the first start, from the OS's CSPRNG."""
    with _transaction(conn, "BEGIN IMMEDIATE"):
        rows = conn.execute("SELECT id, secret FROM signing_keys").fetchall()
        if not rows:
            secret = secrets.token_bytes(SIGNING_KEY_BYTES)
            conn.execute("INSERT INTO signing_keys (id, secret, created_at) VALUES (1, ?, ?)", (secret, now_ms))
            rows = [(1, secret)]
    return {int(key_id): bytes(secret) for key_id, secret in rows}


@contextmanager
def _transaction(conn: sqlite3.Connection, begin: str) -> Iterator[None]:
    conn.execute(begin)
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # also when COMMIT itself failed (disk full, I/O error)
            conn.execute("ROLLBACK")
        raise
