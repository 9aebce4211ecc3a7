"""Spaces as the store keeps them: title, host, description, topics, status, timeline, removals, speaker
policy and standing invitations to speak, the event numbers used, and since when no host or co-host is in a
live space.

The store keeps a space's whole timeline; reading a space brings only its `recent` latest posts, and older
ones are read a page at a time (`posts_before`), so no read grows with the timeline.

The space actor writes here before it answers (a shared post is durable before anyone is told of it). The
writes of a change take `also`: more writes in the same transaction (the webhook outbox's rows for it).
Event numbers are reserved in blocks: the space records a high-water mark before it passes it, so after
a restart numbering resumes above every number ever given out (a jump, never a reuse).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import msgspec

from store._db import Database

Also = Callable[[sqlite3.Connection], None] | None
"""More writes for the same transaction (the webhook outbox's rows for this change: docs/store.md)."""

_encode = msgspec.json.Encoder().encode
_decode_topics = msgspec.json.Decoder(tuple[str, ...]).decode


class StoredPost(msgspec.Struct, frozen=True):
    id: int
    user: str
    text: str
    at: int
    name: str = ""


_POST_COLUMNS = "post_id, user, text, at, name"
"""A `StoredPost`'s fields in order: every read of posts selects these, so none loses a field."""


class StoredSpace(msgspec.Struct, frozen=True):
    space_id: str
    title: str
    host: str
    status: str  # "live" | "ended"
    created_at: int
    ended_at: int | None
    seq_reserved: int
    posts: tuple[StoredPost, ...]  # the latest `recent` posts asked for, oldest first
    removed: tuple[str, ...]
    description: str = ""
    topics: tuple[str, ...] = ()
    speaker_policy: str = "everyone"  # "everyone" | "following" | "invited"
    invited: tuple[str, ...] = ()  # standing invitations to speak, the oldest first
    host_name: str = ""
    post_count: int = 0  # the highest post id: how many posts the space has had
    unmoderated_since: int | None = None  # ms: since when no host or co-host is in the live space


async def create_space(
    db: Database,
    space_id: str,
    title: str,
    host: str,
    created_at: int,
    seq_reserved: int,
    *,
    description: str = "",
    topics: tuple[str, ...] = (),
    speaker_policy: str = "everyone",
    host_name: str = "",
    also: Also = None,
) -> None:
    def insert(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO spaces (space_id, title, host, status, created_at, seq_reserved, description, topics,"
            " speaker_policy, host_name) VALUES (?, ?, ?, 'live', ?, ?, ?, ?, ?, ?)",
            (
                space_id,
                title,
                host,
                created_at,
                seq_reserved,
                description,
                _encode(topics).decode(),
                speaker_policy,
                host_name,
            ),
        )
        if also is not None:
            also(conn)

    await db.write(insert)


async def add_post(db: Database, space_id: str, post: StoredPost, *, also: Also = None) -> None:
    def insert(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO space_posts (space_id, post_id, user, text, at, name) VALUES (?, ?, ?, ?, ?, ?)",
            (space_id, post.id, post.user, post.text, post.at, post.name),
        )
        if also is not None:
            also(conn)

    await db.write(insert)


async def add_removal(db: Database, space_id: str, user: str, *, also: Also = None) -> None:
    def insert(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT OR IGNORE INTO space_removals (space_id, user) VALUES (?, ?)", (space_id, user))
        if also is not None:
            also(conn)

    await db.write(insert)


async def set_speaker_policy(db: Database, space_id: str, policy: str) -> None:
    def update(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE spaces SET speaker_policy = ? WHERE space_id = ?", (policy, space_id))

    await db.write(update)


async def add_invitation(db: Database, space_id: str, user: str, at: int) -> None:
    """Record a standing invitation to speak (one a user: a second one changes nothing)."""

    def insert(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO space_invitations (space_id, user, invited_at) VALUES (?, ?, ?)",
            (space_id, user, at),
        )

    await db.write(insert)


async def remove_invitation(db: Database, space_id: str, user: str) -> None:
    """The invitation was accepted (used up)."""

    def delete(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM space_invitations WHERE space_id = ? AND user = ?", (space_id, user))

    await db.write(delete)


async def reserve_seq(db: Database, space_id: str, up_to: int) -> None:
    """Record that event numbers up to `up_to` may be given out (never lowers the mark)."""

    def update(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE spaces SET seq_reserved = max(seq_reserved, ?) WHERE space_id = ?", (up_to, space_id))

    await db.write(update)


async def end_space(db: Database, space_id: str, ended_at: int, *, also: Also = None) -> None:
    def update(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE spaces SET status = 'ended', ended_at = ? WHERE space_id = ?", (ended_at, space_id))
        if also is not None:
            also(conn)

    await db.write(update)


async def set_unmoderated(db: Database, space_id: str, since: int | None) -> None:
    """Record since when (ms) no host or co-host is in the live space; None: one is back."""

    def update(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE spaces SET unmoderated_since = ? WHERE space_id = ?", (since, space_id))

    await db.write(update)


async def mark_unmoderated(db: Database, at: int) -> None:
    """At a restart nobody is in any space: every live space not yet marked has had no host or co-host
    since `at` (one statement for all of them)."""

    def update(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE spaces SET unmoderated_since = ? WHERE status = 'live' AND unmoderated_since IS NULL", (at,)
        )

    await db.write(update)


async def get_post(db: Database, space_id: str, post_id: int) -> StoredPost | None:
    def select(conn: sqlite3.Connection) -> StoredPost | None:
        row = conn.execute(
            f"SELECT {_POST_COLUMNS} FROM space_posts WHERE space_id = ? AND post_id = ?", (space_id, post_id)
        ).fetchone()
        return None if row is None else StoredPost(*row)

    return await db.read(select)


async def posts_before(db: Database, space_id: str, before_id: int | None, limit: int) -> list[StoredPost] | None:
    """At most `limit` posts of the space with ids below `before_id` (all, when None), the newest first:
    one range scan of the primary key, however long the timeline. None if no space ever had that id."""

    def select(conn: sqlite3.Connection) -> list[StoredPost] | None:
        if conn.execute("SELECT 1 FROM spaces WHERE space_id = ?", (space_id,)).fetchone() is None:
            return None
        return _latest(conn, space_id, before_id, limit)

    return await db.read(select)


async def get_space(db: Database, space_id: str, *, recent: int) -> StoredSpace | None:
    """The space, live or ended, with its `recent` latest posts; None if no space ever had that id."""

    def select(conn: sqlite3.Connection) -> StoredSpace | None:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM spaces WHERE space_id = ?",
            (space_id,),
        ).fetchone()
        return None if row is None else _with_details(conn, row, recent)

    return await db.read(select)


async def live_spaces(db: Database, *, recent: int) -> list[StoredSpace]:
    """Every space still live, oldest first, each with its `recent` latest posts (what a restarted server
    brings back)."""

    def select(conn: sqlite3.Connection) -> list[StoredSpace]:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM spaces WHERE status = 'live' ORDER BY created_at").fetchall()
        return [_with_details(conn, row, recent) for row in rows]

    return await db.read(select)


_COLUMNS = (
    "space_id, title, host, status, created_at, ended_at, seq_reserved, description, topics, speaker_policy,"
    " unmoderated_since, host_name"
)


def _latest(conn: sqlite3.Connection, space_id: object, before_id: int | None, limit: int) -> list[StoredPost]:
    """At most `limit` posts below `before_id` (or all), the newest first: one range scan of the key."""
    rows = conn.execute(
        f"SELECT {_POST_COLUMNS} FROM space_posts WHERE space_id = ? AND post_id < ? ORDER BY post_id DESC LIMIT ?",
        (space_id, 2**63 - 1 if before_id is None else before_id, limit),
    ).fetchall()
    return [StoredPost(*row) for row in rows]


def _with_details(conn: sqlite3.Connection, row: tuple[object, ...], recent: int) -> StoredSpace:
    space_id = row[0]
    posts = tuple(reversed(_latest(conn, space_id, None, recent)))
    post_count = conn.execute("SELECT max(post_id) FROM space_posts WHERE space_id = ?", (space_id,)).fetchone()[0]
    removed = tuple(
        r[0] for r in conn.execute("SELECT user FROM space_removals WHERE space_id = ? ORDER BY user", (space_id,))
    )
    invited = tuple(
        r[0]
        for r in conn.execute(
            "SELECT user FROM space_invitations WHERE space_id = ? ORDER BY invited_at, rowid", (space_id,)
        )
    )
    (space_id_, title, host, status, created_at, ended_at, seq_reserved, description, topics, policy, unmoderated,
     host_name) = row  # fmt: skip
    assert isinstance(space_id_, str) and isinstance(title, str) and isinstance(host, str)
    assert isinstance(status, str) and isinstance(created_at, int) and isinstance(seq_reserved, int)
    assert ended_at is None or isinstance(ended_at, int)
    assert isinstance(description, str) and isinstance(topics, str) and isinstance(policy, str)
    assert isinstance(host_name, str)
    assert unmoderated is None or isinstance(unmoderated, int)
    return StoredSpace(
        space_id_,
        title,
        host,
        status,
        created_at,
        ended_at,
        seq_reserved,
        posts,
        removed,
        description=description,
        topics=_decode_topics(topics),
        speaker_policy=policy,
        invited=invited,
        host_name=host_name,
        post_count=post_count or 0,
        unmoderated_since=unmoderated,
    )
