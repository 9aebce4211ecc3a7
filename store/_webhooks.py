"""The webhook outbox: events for back-ends, written in the transaction of the change they describe, read back
in order by the deliverer and by `GET /admin/events?after=`.

Each event gets the next `id` (one order for the whole server) and, when it belongs to a space, the next number
of that space's webhook sequence (1, 2, 3...: a receiver sees a gap if one is ever missing). Each receiver has
a cursor: the last id it acknowledged, keyed by its URL for a receiver of the settings, by `receiver:<id>` for
one registered through the admin API (`webhook_receivers`, with its own secret).

Bounded: at most `max_events` rows. When a new event would pass it, the oldest events every receiver has
acknowledged are deleted first; if the outbox is still full (a receiver has been down that long), the new event
is not written (`append_events` returns how many were dropped): the change itself is never refused because of
the outbox. With no receiver at all, the oldest events are deleted (the outbox is then a replay window).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import msgspec

from store._db import Database
from store._errors import TooManyWebhookReceivers

DEFAULT_MAX_EVENTS = 100_000


class NewWebhookEvent(msgspec.Struct, frozen=True):
    type: str
    data: str
    """A JSON object, as text."""
    space_id: str | None = None


class WebhookEvent(msgspec.Struct, frozen=True):
    id: int
    type: str
    data: str
    space_id: str | None
    space_seq: int | None
    created_at: int


def append_webhook_events(
    conn: sqlite3.Connection, events: Sequence[NewWebhookEvent], now_ms: int, max_events: int = DEFAULT_MAX_EVENTS
) -> int:
    """Write `events` in the caller's transaction; return how many were dropped because the outbox is full."""
    dropped = 0
    for event in events:
        if not _room(conn, max_events):
            dropped += 1
            continue
        seq = None
        if event.space_id is not None:
            seq = conn.execute(
                "INSERT INTO webhook_space_seq (space_id, seq) VALUES (?, 1) "
                "ON CONFLICT (space_id) DO UPDATE SET seq = seq + 1 RETURNING seq",
                (event.space_id,),
            ).fetchone()[0]
        conn.execute(
            "INSERT INTO webhook_events (space_id, space_seq, type, data, created_at) VALUES (?, ?, ?, ?, ?)",
            (event.space_id, seq, event.type, event.data, now_ms),
        )
    return dropped


def _room(conn: sqlite3.Connection, max_events: int) -> bool:
    low, high = conn.execute("SELECT min(id), max(id) FROM webhook_events").fetchone()
    if low is None or high - low + 1 < max_events:
        return True
    acknowledged = conn.execute("SELECT min(delivered_id) FROM webhook_cursors").fetchone()[0]
    if acknowledged is None:  # no receiver: the outbox is only a replay window (`webhooks.record`)
        acknowledged = high
    cut = min(acknowledged, high - max_events // 2)  # free half the room at once: deletes stay rare
    conn.execute("DELETE FROM webhook_events WHERE id <= ?", (cut,))
    return bool(high - cut < max_events)


def space_webhook_events(conn: sqlite3.Connection, space_id: str) -> list[WebhookEvent]:
    """The space's events still in the outbox, in order (for its summary, in the transaction of its end)."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM webhook_events WHERE space_id = ? ORDER BY id", (space_id,)).fetchall()
    return [WebhookEvent(*row) for row in rows]


async def add_webhook_events(db: Database, events: Sequence[NewWebhookEvent], max_events: int) -> int:
    """Write `events` in a transaction of their own (changes that are stored nowhere else); see above."""
    now = db.now_ms()
    return await db.write(lambda conn: append_webhook_events(conn, events, now, max_events))


async def webhook_events_after(db: Database, after_id: int, limit: int) -> list[WebhookEvent]:
    rows = await db.read(
        lambda conn: conn.execute(
            f"SELECT {_COLUMNS} FROM webhook_events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        ).fetchall()
    )
    return [WebhookEvent(*row) for row in rows]


async def webhook_cursor(db: Database, url: str) -> int:
    """The last event id `url` acknowledged (a new URL starts after the events already in the outbox: 0)."""
    row = await db.read(
        lambda conn: conn.execute("SELECT delivered_id FROM webhook_cursors WHERE url = ?", (url,)).fetchone()
    )
    return 0 if row is None else int(row[0])


async def set_webhook_receivers(db: Database, urls: Sequence[str]) -> None:
    """The receivers of the settings are now exactly `urls`: a new one starts from the oldest event kept, a
    removed one's cursor goes (it no longer holds events back from the bound). Registered receivers stay."""

    def replace(conn: sqlite3.Connection) -> None:
        keys = [row[0] for row in conn.execute("SELECT url FROM webhook_cursors")]
        known = {key for key in keys if not key.startswith(RECEIVER_KEY)}
        for url in known - set(urls):
            conn.execute("DELETE FROM webhook_cursors WHERE url = ?", (url,))
        for url in set(urls) - known:
            conn.execute("INSERT INTO webhook_cursors (url, delivered_id) VALUES (?, 0)", (url,))

    await db.write(replace)


async def set_webhook_cursor(db: Database, url: str, delivered_id: int) -> None:
    await db.write(
        lambda conn: conn.execute(
            "INSERT INTO webhook_cursors (url, delivered_id) VALUES (?, ?) "
            "ON CONFLICT (url) DO UPDATE SET delivered_id = max(delivered_id, excluded.delivered_id)",
            (url, delivered_id),
        )
    )


async def webhook_backlog(db: Database, url: str) -> int:
    """How many events wait for `url`."""
    cursor = await webhook_cursor(db, url)
    statement = "SELECT count(*) FROM webhook_events WHERE id > ?"
    return int(await db.read(lambda conn: conn.execute(statement, (cursor,)).fetchone()[0]))


_COLUMNS = "id, type, data, space_id, space_seq, created_at"

RECEIVER_KEY = "receiver:"


class WebhookReceiver(msgspec.Struct, frozen=True):
    """A receiver registered through the admin API; `secret` (`whsec_<base64>`) signs its deliveries."""

    id: int
    url: str
    secret: str
    created_at: int

    @property
    def key(self) -> str:
        """Its cursor's key in `webhook_cursors`."""
        return receiver_key(self.id)


def receiver_key(receiver_id: int) -> str:
    return f"{RECEIVER_KEY}{receiver_id}"


async def add_webhook_receiver(db: Database, url: str, secret: str, max_receivers: int) -> tuple[WebhookReceiver, int]:
    """Register a receiver; return it and the id it starts after. It gets exactly the events committed after
    this write (its cursor is the last id ever given: writes are serialized, so none is missed, none older
    sent). `TooManyWebhookReceivers` when `max_receivers` are registered already."""
    now = db.now_ms()

    def add(conn: sqlite3.Connection) -> tuple[WebhookReceiver, int]:
        if conn.execute("SELECT count(*) FROM webhook_receivers").fetchone()[0] >= max_receivers:
            raise TooManyWebhookReceivers(max_receivers)
        last = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'webhook_events'").fetchone()
        after = 0 if last is None else int(last[0])
        statement = "INSERT INTO webhook_receivers (url, secret, created_at) VALUES (?, ?, ?) RETURNING id"
        receiver = WebhookReceiver(int(conn.execute(statement, (url, secret, now)).fetchone()[0]), url, secret, now)
        conn.execute("INSERT INTO webhook_cursors (url, delivered_id) VALUES (?, ?)", (receiver.key, after))
        return receiver, after

    return await db.write(add)


async def remove_webhook_receiver(db: Database, receiver_id: int) -> bool:
    """Unregister a receiver and drop its cursor (it no longer holds events back); False if there was none."""

    def remove(conn: sqlite3.Connection) -> bool:
        conn.execute("DELETE FROM webhook_cursors WHERE url = ?", (receiver_key(receiver_id),))
        return bool(conn.execute("DELETE FROM webhook_receivers WHERE id = ?", (receiver_id,)).rowcount)

    return await db.write(remove)


async def webhook_receivers(db: Database) -> list[WebhookReceiver]:
    """The registered receivers, oldest first."""
    rows = await db.read(
        lambda conn: conn.execute("SELECT id, url, secret, created_at FROM webhook_receivers ORDER BY id").fetchall()
    )
    return [WebhookReceiver(*row) for row in rows]
