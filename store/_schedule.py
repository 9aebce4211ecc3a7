"""Scheduled spaces and reminders: an account schedules a space for later, listeners ask to be reminded,
and the host starts it (or cancels it). Also the listing and search of live and upcoming spaces.

A scheduled space is *pending* until it is cancelled or started; only pending ones are upcoming, searched,
or reminded of. Starting and cancelling also leave a message (kind SPACE_STARTING or SPACE_CANCELLED) in
every reminder holder's inbox, in the same transaction, so a holder who was offline finds it later.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from store._accounts import account_columns, account_from_row, require_account
from store._db import Database
from store._errors import BadArgument, NoSuchScheduledSpace, ScheduledSpaceOver, TooManyScheduled
from store._social import blocks_between, check_limit
from store._values import Account, AccountId, Invite, MessageKind

MAX_TITLE_CHARS = 100  # as a live space's title
MAX_DESCRIPTION_CHARS = 500
MAX_TOPICS = 3
MAX_TOPIC_CHARS = 30
MAX_AHEAD_MS = 30 * 24 * 3600 * 1000
MAX_QUERY_CHARS = 100

_encode = msgspec.json.Encoder().encode
_decode_topics = msgspec.json.Decoder(tuple[str, ...]).decode


class ScheduledSpace(msgspec.Struct, frozen=True):
    """A space scheduled for `starts_at` (ms). `started_space_id` is the live space once started."""

    id: int
    host: AccountId
    host_handle: str
    title: str
    description: str
    topics: tuple[str, ...]
    starts_at: int
    created_at: int
    cancelled_at: int | None
    started_space_id: str | None
    host_reminded: bool
    reminder_count: int
    record: bool = False
    """Started, the space records from its start (`docs/recording.md`)."""

    @property
    def pending(self) -> bool:
        return self.cancelled_at is None and self.started_space_id is None


class LiveListing(msgspec.Struct, frozen=True):
    """A live space as the store knows it (its counts are the space's own, not the store's)."""

    space_id: str
    title: str
    host: str
    topics: tuple[str, ...]


async def schedule_space(
    db: Database,
    host: AccountId,
    title: str,
    starts_at: int,
    *,
    description: str = "",
    topics: tuple[str, ...] | list[str] = (),
    max_pending: int | None = None,
    record: bool = False,
) -> ScheduledSpace:
    """Schedule a space hosted by `host` for `starts_at` (unix ms: in the future, at most 30 days ahead);
    with `record`, the space records from its start.

    Error handling: `NoSuchAccount`; `BadArgument` for a title that is blank or over 100 characters, a
    description over 500, more than 3 topics, one that is blank or over 30 characters or one twice, or a start time
    in the past or more than 30 days ahead; `TooManyScheduled` when `host` already has `max_pending`
    scheduled spaces waiting (counted in the same transaction as the insert, so concurrent requests
    cannot pass it together).
    """
    title = _clean(title, "title", MAX_TITLE_CHARS, True)
    description = _clean(description, "description", MAX_DESCRIPTION_CHARS, False)
    clean_topics = _check_topics(topics)
    now = db.now_ms()
    if starts_at <= now:
        raise BadArgument("starts_at", "must be in the future")
    if starts_at > now + MAX_AHEAD_MS:
        raise BadArgument("starts_at", "at most 30 days ahead")

    def insert(conn: sqlite3.Connection) -> ScheduledSpace:
        account = require_account(conn, host)
        if max_pending is not None and _pending(conn, host) >= max_pending:
            raise TooManyScheduled(max_pending)
        search = "\n".join((title, *clean_topics, account.handle)).casefold()
        cursor = conn.execute(
            "INSERT INTO scheduled_spaces (host_id, title, description, topics, search_text, starts_at, created_at,"
            " record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (host, title, description, _encode(clean_topics).decode(), search, starts_at, now, int(record)),
        )
        assert cursor.lastrowid is not None
        return _require(conn, cursor.lastrowid)

    return await db.write(insert)


async def get_scheduled(db: Database, scheduled_id: int) -> ScheduledSpace:
    """Error handling: `NoSuchScheduledSpace`."""
    return await db.read(lambda conn: _require(conn, scheduled_id))


async def cancel_scheduled(db: Database, scheduled_id: int) -> tuple[ScheduledSpace, list[Account]]:
    """Cancel a pending scheduled space; returns it and its reminder holders (each now has a message of
    kind SPACE_CANCELLED in their inbox). Who may cancel is the caller's rule (the host).

    Error handling: `NoSuchScheduledSpace`; `ScheduledSpaceOver` if it was cancelled or started already.
    """
    now = db.now_ms()

    def update(conn: sqlite3.Connection) -> tuple[ScheduledSpace, list[Account]]:
        _require_pending(conn, scheduled_id)
        conn.execute("UPDATE scheduled_spaces SET cancelled_at = ? WHERE id = ?", (now, scheduled_id))
        space = _require(conn, scheduled_id)
        holders = _holders(conn, scheduled_id)
        _notify(conn, space, holders, MessageKind.SPACE_CANCELLED, f"Cancelled: {space.title}", None, now)
        return space, holders

    return await db.write(update)


async def mark_started(db: Database, scheduled_id: int, space_id: str) -> tuple[ScheduledSpace, list[Account]]:
    """Record that the scheduled space started as the live space `space_id`; returns it and its reminder
    holders (each now has a message of kind SPACE_STARTING, linking the space, in their inbox).

    Error handling: `NoSuchScheduledSpace`; `ScheduledSpaceOver` if it was cancelled or started already.
    """
    now = db.now_ms()

    def update(conn: sqlite3.Connection) -> tuple[ScheduledSpace, list[Account]]:
        _require_pending(conn, scheduled_id)
        conn.execute("UPDATE scheduled_spaces SET started_space_id = ? WHERE id = ?", (space_id, scheduled_id))
        space = _require(conn, scheduled_id)
        holders = _holders(conn, scheduled_id)
        link = Invite(space_id=space_id, role="listener")
        _notify(conn, space, holders, MessageKind.SPACE_STARTING, f"Live now: {space.title}", link, now)
        return space, holders

    return await db.write(update)


async def add_reminder(db: Database, scheduled_id: int, account: AccountId) -> bool:
    """Remind `account` when the scheduled space starts or is cancelled; True if it was not set yet.

    Error handling: `NoSuchAccount`, `NoSuchScheduledSpace`, `ScheduledSpaceOver`.
    """
    now = db.now_ms()

    def insert(conn: sqlite3.Connection) -> bool:
        require_account(conn, account)
        _require_pending(conn, scheduled_id)
        cursor = conn.execute(
            "INSERT OR IGNORE INTO reminders (scheduled_id, account_id, created_at) VALUES (?, ?, ?)",
            (scheduled_id, account, now),
        )
        return cursor.rowcount == 1

    return await db.write(insert)


async def remove_reminder(db: Database, scheduled_id: int, account: AccountId) -> bool:
    """Take the reminder back; True if there was one. Error handling: `NoSuchScheduledSpace`."""

    def delete(conn: sqlite3.Connection) -> bool:
        _require(conn, scheduled_id)
        cursor = conn.execute(
            "DELETE FROM reminders WHERE scheduled_id = ? AND account_id = ?", (scheduled_id, account)
        )
        return cursor.rowcount == 1

    return await db.write(delete)


async def reminder_holders(db: Database, scheduled_id: int) -> list[Account]:
    """The accounts reminded of this scheduled space, in the order they asked."""

    def select(conn: sqlite3.Connection) -> list[Account]:
        _require(conn, scheduled_id)
        return _holders(conn, scheduled_id)

    return await db.read(select)


async def upcoming(
    db: Database, *, after: tuple[int, int] | None = None, limit: int = 50, query: str | None = None
) -> list[ScheduledSpace]:
    """Pending scheduled spaces, soonest first, at most `limit` (1 to 200). Page by passing the last
    one's `(starts_at, id)` as `after`. With `query`, only those whose title, a topic or the host's
    handle contains it, without regard to case.

    Error handling: `BadArgument` for a bad limit or a query that is blank or over 100 characters.
    """
    check_limit(limit)
    needle = None if query is None else _needle(query)
    start = (-1, 0) if after is None else after

    def select(conn: sqlite3.Connection) -> list[ScheduledSpace]:
        sql = (
            f"SELECT {_COLUMNS} FROM scheduled_spaces AS s JOIN accounts AS a ON a.id = s.host_id"
            " WHERE s.cancelled_at IS NULL AND s.started_space_id IS NULL AND (s.starts_at, s.id) > (?, ?)"
        )
        params: tuple[Any, ...] = start
        if needle is not None:
            sql += " AND instr(s.search_text, ?) > 0"
            params = (*params, needle)
        rows = conn.execute(sql + " ORDER BY s.starts_at, s.id LIMIT ?", (*params, limit)).fetchall()
        return [_from_row(row) for row in rows]

    return await db.read(select)


async def live_listing(db: Database, *, limit: int = 50, query: str | None = None) -> list[LiveListing]:
    """Live spaces, newest first, at most `limit` (1 to 200); with `query`, those whose title, host or
    a topic contains it, without regard to case. A space's topics are its own (a space started from a
    schedule has the scheduled space's)."""
    check_limit(limit)
    needle = None if query is None else _needle(query)

    def select(conn: sqlite3.Connection) -> list[LiveListing]:
        rows = conn.execute(
            "SELECT space_id, title, host, topics, host_name FROM spaces WHERE status = 'live' ORDER BY created_at DESC"
        ).fetchall()
        found: list[LiveListing] = []
        for space_id, title, host, topics_json, host_name in rows:
            topics = _decode_topics(topics_json)
            if needle is None or needle in "\n".join((title, host_name, *topics)).casefold():
                found.append(LiveListing(space_id, title, host, topics))
                if len(found) == limit:
                    break
        return found

    return await db.read(select)


async def count_pending(db: Database, host: AccountId) -> int:
    """How many scheduled spaces of `host` wait to start (neither started nor cancelled)."""

    return await db.read(lambda conn: _pending(conn, host))


def _pending(conn: sqlite3.Connection, host: AccountId) -> int:
    row = conn.execute(
        "SELECT count(*) FROM scheduled_spaces WHERE host_id = ? AND cancelled_at IS NULL AND started_space_id IS NULL",
        (host,),
    ).fetchone()
    return int(row[0])


async def next_host_reminder(db: Database) -> ScheduledSpace | None:
    """The pending scheduled space, soonest first, whose host has not been reminded yet."""

    def select(conn: sqlite3.Connection) -> ScheduledSpace | None:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM scheduled_spaces AS s JOIN accounts AS a ON a.id = s.host_id"
            " WHERE s.cancelled_at IS NULL AND s.started_space_id IS NULL AND s.host_reminded_at IS NULL"
            " ORDER BY s.starts_at, s.id LIMIT 1"
        ).fetchone()
        return None if row is None else _from_row(row)

    return await db.read(select)


async def mark_host_reminded(db: Database, scheduled_id: int) -> None:
    now = db.now_ms()

    def update(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE scheduled_spaces SET host_reminded_at = ? WHERE id = ?", (now, scheduled_id))

    await db.write(update)


_COLUMNS = (
    "s.id, s.host_id, a.handle, s.title, s.description, s.topics, s.starts_at, s.created_at, s.cancelled_at,"
    " s.started_space_id, s.host_reminded_at, (SELECT count(*) FROM reminders AS r WHERE r.scheduled_id = s.id),"
    " s.record"
)


def _from_row(row: tuple[Any, ...]) -> ScheduledSpace:
    sid, host, handle, title, description, topics, starts_at, created_at, cancelled_at, space_id, reminded, n = row[:12]
    record = row[12]
    return ScheduledSpace(
        sid,
        AccountId(host),
        handle,
        title,
        description,
        _decode_topics(topics),
        starts_at,
        created_at,
        cancelled_at,
        space_id,
        reminded is not None,
        n,
        bool(record),
    )


def _require(conn: sqlite3.Connection, scheduled_id: int) -> ScheduledSpace:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM scheduled_spaces AS s JOIN accounts AS a ON a.id = s.host_id WHERE s.id = ?",
        (scheduled_id,),
    ).fetchone()
    if row is None:
        raise NoSuchScheduledSpace(scheduled_id)
    return _from_row(row)


def _require_pending(conn: sqlite3.Connection, scheduled_id: int) -> ScheduledSpace:
    space = _require(conn, scheduled_id)
    if space.cancelled_at is not None:
        raise ScheduledSpaceOver(scheduled_id, "was cancelled")
    if space.started_space_id is not None:
        raise ScheduledSpaceOver(scheduled_id, "has started")
    return space


def _holders(conn: sqlite3.Connection, scheduled_id: int) -> list[Account]:
    rows = conn.execute(
        f"SELECT {account_columns('a')} FROM reminders AS r JOIN accounts AS a ON a.id = r.account_id"
        " WHERE r.scheduled_id = ? ORDER BY r.created_at, a.id",
        (scheduled_id,),
    ).fetchall()
    return [account_from_row(row) for row in rows]


def _notify(
    conn: sqlite3.Connection,
    space: ScheduledSpace,
    holders: list[Account],
    kind: MessageKind,
    text: str,
    link: Invite | None,
    now: int,
) -> None:
    """A message from the host to each reminder holder (not to the host, nor across a block)."""
    payload = None if link is None else _encode(link).decode()
    for holder in holders:
        if holder.id == space.host or blocks_between(conn, space.host, holder.id):
            continue
        conn.execute(
            "INSERT INTO messages (sender_id, recipient_id, kind, text, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (space.host, holder.id, kind.value, text, payload, now),
        )


def _clean(text: str, field: str, max_chars: int, required: bool) -> str:
    text = text.strip()
    if len(text) > max_chars or (required and not text):
        raise BadArgument(field, f"{1 if required else 0} to {max_chars} characters")
    _check_unicode(text, field)
    return text


def _check_topics(topics: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    if len(topics) > MAX_TOPICS:
        raise BadArgument("topics", f"at most {MAX_TOPICS}")
    cleaned = tuple(topic.strip() for topic in topics)
    for topic in cleaned:
        if not 1 <= len(topic) <= MAX_TOPIC_CHARS:
            raise BadArgument("topics", f"each 1 to {MAX_TOPIC_CHARS} characters")
        _check_unicode(topic, "topics")
    if len({topic.casefold() for topic in cleaned}) < len(cleaned):
        raise BadArgument("topics", "each at most once, in any casing")
    return cleaned


def _needle(query: str) -> str:
    query = query.strip()
    if not 1 <= len(query) <= MAX_QUERY_CHARS:
        raise BadArgument("query", f"1 to {MAX_QUERY_CHARS} characters")
    return query.casefold()


def _check_unicode(text: str, field: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate
        raise BadArgument(field, "not valid Unicode text") from exc
