"""Direct messages: each account has an inbox, read in order and paged by message id.

An invitation (to speak in a space, to co-host) is a message of kind INVITE that carries an `Invite`
link; the gateway shows it as a button that opens the space.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import msgspec

from store._accounts import require_account
from store._db import Database
from store._errors import BadArgument, Blocked
from store._social import blocks_between, check_limit
from store._values import AccountId, Invite, Message, MessageKind

MAX_TEXT_CHARS = 10_000
SPACE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
ROLE = re.compile(r"[a-z_]{1,16}")

_encode_invite = msgspec.json.Encoder().encode
_decode_invite = msgspec.json.Decoder(Invite).decode


async def send_dm(
    db: Database, sender: AccountId, recipient: AccountId, text: str, *, invite: Invite | None = None
) -> Message:
    """Put a message in `recipient`'s inbox and return it. With `invite`, it is an invitation (kind
    INVITE) and `text` may be empty; otherwise `text` must hold something besides white space.

    Error handling: `NoSuchAccount`; `BadArgument` for text over 10,000 characters, an invite whose
    `space_id` or `role` is malformed, or a message to oneself; `Blocked` if either blocks the other.
    """
    if sender == recipient:
        raise BadArgument("recipient", "cannot message oneself")
    _check_text(text, required=invite is None)
    payload = None if invite is None else _check_invite(invite)
    kind = MessageKind.TEXT if invite is None else MessageKind.INVITE
    now = db.now_ms()

    def insert(conn: sqlite3.Connection) -> Message:
        sender_account = require_account(conn, sender)
        require_account(conn, recipient)
        if blocks_between(conn, sender, recipient):
            raise Blocked()
        cursor = conn.execute(
            "INSERT INTO messages (sender_id, recipient_id, kind, text, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (sender, recipient, kind.value, text, payload, now),
        )
        assert cursor.lastrowid is not None
        return Message(cursor.lastrowid, sender, sender_account.handle, recipient, kind, text, invite, now, False)

    return await db.write(insert)


INBOX_PAGE_BYTES = 64 * 1024
"""At most this many bytes of message text (UTF-8) in one page of the inbox (its first message aside)."""


async def inbox(db: Database, account: AccountId, *, after_id: int = 0, limit: int = 50) -> list[Message]:
    """The messages to `account` with ids above `after_id`, oldest first, at most `limit` (1 to 200), and
    no more than `INBOX_PAGE_BYTES` of text: a page stops before a message that would pass it (the first
    message of a page always comes, and a message has at most 10,000 characters), so a page of long
    messages is shorter and a reply never outgrows a connection's send queue.

    To read everything, pass the last id of each page as the next `after_id` until a page is empty.
    """
    check_limit(limit)
    if after_id < 0:
        raise BadArgument("after_id", "0 or more")

    def select(conn: sqlite3.Connection) -> list[Message]:
        require_account(conn, account)
        mark = _read_up_to(conn, account)
        rows = conn.execute(
            "SELECT m.id, m.sender_id, a.handle, m.recipient_id, m.kind, m.text, m.payload, m.created_at "
            "FROM messages AS m JOIN accounts AS a ON a.id = m.sender_id "
            "WHERE m.recipient_id = ? AND m.id > ? ORDER BY m.id LIMIT ?",
            (account, after_id, limit),
        ).fetchall()
        page: list[Message] = []
        size = 0
        for row in rows:
            message = _message_from_row(row, mark)
            size += len(message.text.encode())
            if page and size > INBOX_PAGE_BYTES:
                break
            page.append(message)
        return page

    return await db.read(select)


async def mark_read(db: Database, account: AccountId, up_to_id: int) -> None:
    """Mark every message to `account` with an id up to `up_to_id` read. Marks never move back, and
    never past the newest message received, so messages still to come arrive unread."""
    if up_to_id < 0:
        raise BadArgument("up_to_id", "0 or more")

    def mark(conn: sqlite3.Connection) -> None:
        require_account(conn, account)
        newest = conn.execute("SELECT max(id) FROM messages WHERE recipient_id = ?", (account,)).fetchone()[0]
        conn.execute(
            "INSERT INTO inbox_marks (account_id, read_up_to) VALUES (?, ?) "
            "ON CONFLICT (account_id) DO UPDATE SET read_up_to = max(read_up_to, excluded.read_up_to)",
            (account, min(up_to_id, newest or 0)),
        )

    await db.write(mark)


async def unread_count(db: Database, account: AccountId) -> int:
    def count(conn: sqlite3.Connection) -> int:
        require_account(conn, account)
        row = conn.execute(
            "SELECT count(*) FROM messages WHERE recipient_id = ? AND id > ?", (account, _read_up_to(conn, account))
        ).fetchone()
        return int(row[0])

    return await db.read(count)


def _read_up_to(conn: sqlite3.Connection, account: AccountId) -> int:
    row = conn.execute("SELECT read_up_to FROM inbox_marks WHERE account_id = ?", (account,)).fetchone()
    return 0 if row is None else int(row[0])


def _message_from_row(row: tuple[Any, ...], read_up_to: int) -> Message:
    message_id, sender, sender_handle, recipient, kind, text, payload, created_at = row
    invite = None if payload is None else _decode_invite(payload)
    return Message(
        message_id,
        AccountId(sender),
        sender_handle,
        AccountId(recipient),
        MessageKind(kind),
        text,
        invite,
        created_at,
        message_id <= read_up_to,
    )


def _check_text(text: str, *, required: bool) -> None:
    if not isinstance(text, str) or len(text) > MAX_TEXT_CHARS:
        raise BadArgument("text", f"at most {MAX_TEXT_CHARS} characters")
    if required and not text.strip():
        raise BadArgument("text", "must not be empty")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate
        raise BadArgument("text", "not valid Unicode text") from exc


def _check_invite(invite: Invite) -> str:
    if SPACE_ID.fullmatch(invite.space_id) is None:
        raise BadArgument("invite.space_id", "1 to 64 letters, digits or _ . : -")
    if ROLE.fullmatch(invite.role) is None:
        raise BadArgument("invite.role", "1 to 16 lowercase letters or _")
    return _encode_invite(invite).decode("utf-8")
