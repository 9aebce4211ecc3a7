"""Sessions: log in with a handle and password for a signed, expiring token; verify it; log out.

A token is checked in two steps: its signature and expiry (`_tokens.py`, no I/O), then the database row
of its session, which a log-out marks revoked. A revoked or unknown session is refused at once.
"""

from __future__ import annotations

import secrets
import sqlite3

from store._accounts import HANDLE, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, account_columns, account_from_row
from store._db import Database
from store._errors import AccountSuspended, BadArgument, BadCredentials, TokenInvalid
from store._suspension import is_suspended
from store._tokens import Claims, mint, read
from store._values import Account, AccountId, Session

DEFAULT_TOKEN_LIFETIME_S = 30 * 24 * 3600


async def log_in(db: Database, handle: str, password: str, *, lifetime_s: float = DEFAULT_TOKEN_LIFETIME_S) -> Session:
    """Check the password and start a session that lasts `lifetime_s` (30 days by default).

    Error handling: `BadCredentials`, the same for an unknown handle and a wrong password, and after
    about the same time (an unknown handle is checked against a decoy hash); `AccountSuspended` for a
    suspended account, once the password is right (a wrong password tells nothing of the account).
    """
    if lifetime_s <= 0:
        raise BadArgument("lifetime_s", "must be positive")
    if HANDLE.fullmatch(handle) is None or not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise BadCredentials()  # no account can have these
    row = await db.read(
        lambda conn: conn.execute("SELECT id, password_hash FROM accounts WHERE handle = ?", (handle,)).fetchone()
    )
    if row is None:
        await db.passwords.verify_decoy(password)
        raise BadCredentials()
    account_id, stored_hash = AccountId(row[0]), str(row[1])
    if not await db.passwords.verify(stored_hash, password):
        raise BadCredentials()
    new_hash = await db.passwords.hash(password) if db.passwords.needs_rehash(stored_hash) else None

    now = db.now_ms()
    claims = Claims(account_id, secrets.token_hex(16), now, now + int(lifetime_s * 1000))

    def start(conn: sqlite3.Connection) -> Account:
        if new_hash is not None:  # only if nobody changed the hash since we read it
            conn.execute(
                "UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?",
                (new_hash, account_id, stored_hash),
            )
        account = conn.execute(f"SELECT {account_columns()} FROM accounts WHERE id = ?", (account_id,)).fetchone()
        if account is None:
            raise BadCredentials()
        if is_suspended(conn, account_id):  # read in the transaction that would start the session
            raise AccountSuspended()
        conn.execute(
            "INSERT INTO sessions (token_id, account_id, issued_at, expires_at) VALUES (?, ?, ?, ?)",
            (claims.token_id, account_id, claims.issued_at, claims.expires_at),
        )
        return account_from_row(account)

    account = await db.write(start)
    key_id, secret = db.current_signing_key
    return Session(mint(key_id, secret, claims), claims.token_id, account, claims.issued_at, claims.expires_at)


async def verify_token(db: Database, token: str) -> Session:
    """The session this token stands for, with its account as it is now.

    Error handling: `TokenInvalid` for a malformed, tampered, unknown or revoked token; `TokenExpired`
    for a genuine one past its expiry. No leeway: a token is refused from its expiry millisecond on.
    `AccountSuspended` for a token of a suspended account.
    """
    claims = read(token, db.signing_keys, db.now_ms())

    def look_up(conn: sqlite3.Connection) -> Account:
        row = conn.execute(
            f"SELECT s.revoked_at, a.suspended_at, {account_columns('a')} "
            "FROM sessions AS s JOIN accounts AS a ON a.id = s.account_id "
            "WHERE s.token_id = ? AND s.account_id = ?",
            (claims.token_id, claims.account_id),
        ).fetchone()
        if row is None:
            raise TokenInvalid("unknown session")
        if row[1] is not None:  # before `revoked`: suspending revokes, and the client is told why
            raise AccountSuspended()
        if row[0] is not None:
            raise TokenInvalid("revoked")
        return account_from_row(row[2:])

    account = await db.read(look_up)
    return Session(token, claims.token_id, account, claims.issued_at, claims.expires_at)


async def log_out(db: Database, token: str) -> None:
    """Revoke this token's session. Logging out twice, or with an expired token, is not an error.

    Error handling: `TokenInvalid` for a token we did not sign.
    """
    now = db.now_ms()
    claims = read(token, db.signing_keys, now, allow_expired=True)
    await db.write(
        lambda conn: conn.execute(
            "UPDATE sessions SET revoked_at = ? WHERE token_id = ? AND account_id = ? AND revoked_at IS NULL",
            (now, claims.token_id, claims.account_id),
        )
    )


async def log_out_everywhere(db: Database, account_id: AccountId) -> int:
    """Revoke every live session of the account (after a password change, a suspension); return how many."""
    now = db.now_ms()
    statement = "UPDATE sessions SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL AND expires_at > ?"
    return await db.write(lambda conn: conn.execute(statement, (now, account_id, now)).rowcount)


async def purge_expired_sessions(db: Database) -> int:
    """Forget sessions past their expiry (their tokens are refused anyway); return how many went."""
    now = db.now_ms()
    return await db.write(lambda conn: conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,)).rowcount)
