"""The schema, as an append-only list of migrations (the runner that applies them is `_migrate.py`).

Migration N (counting from 1) takes the database from `PRAGMA user_version` N-1 to N in one transaction.
Never edit a published migration: append a new one (see docs/store.md).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import msgspec


class Migration(msgspec.Struct, frozen=True):
    """One step of the schema: SQL statements, or a function for steps SQL alone cannot express.

    A function runs inside the migration's transaction and must not commit.
    """

    name: str
    apply: str | Callable[[sqlite3.Connection], None]


ACCOUNTS = Migration(
    "accounts, sessions and signing keys",
    """
    CREATE TABLE accounts (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        handle        TEXT    NOT NULL UNIQUE COLLATE NOCASE,
        display_name  TEXT    NOT NULL,
        password_hash TEXT    NOT NULL,
        protected     INTEGER NOT NULL DEFAULT 0 CHECK (protected IN (0, 1)),
        created_at    INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE sessions (
        token_id   TEXT    PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        issued_at  INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER
    ) STRICT;
    CREATE INDEX sessions_by_account ON sessions (account_id);

    CREATE TABLE signing_keys (
        id         INTEGER PRIMARY KEY,
        secret     BLOB    NOT NULL CHECK (length(secret) >= 32),
        created_at INTEGER NOT NULL
    ) STRICT;
    """,
)

SOCIAL_GRAPH = Migration(
    "follows and blocks",
    """
    CREATE TABLE follows (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        follower_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        followee_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        created_at  INTEGER NOT NULL,
        UNIQUE (follower_id, followee_id),
        CHECK (follower_id <> followee_id)
    ) STRICT;
    CREATE INDEX follows_by_follower ON follows (follower_id, id);
    CREATE INDEX follows_by_followee ON follows (followee_id, id);

    CREATE TABLE blocks (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        blocker_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        blocked_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        UNIQUE (blocker_id, blocked_id),
        CHECK (blocker_id <> blocked_id)
    ) STRICT;
    CREATE INDEX blocks_by_blocker ON blocks (blocker_id, id);
    CREATE INDEX blocks_by_blocked ON blocks (blocked_id);
    """,
)

INBOX = Migration(
    "direct messages and read marks",
    """
    CREATE TABLE messages (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        sender_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        recipient_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        kind         TEXT    NOT NULL,
        text         TEXT    NOT NULL,
        payload      TEXT,
        created_at   INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX messages_by_recipient ON messages (recipient_id, id);

    CREATE TABLE inbox_marks (
        account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
        read_up_to INTEGER NOT NULL
    ) STRICT;
    """,
)

SPACES = Migration(
    "spaces and their timelines",
    """
    CREATE TABLE spaces (
        space_id     TEXT    PRIMARY KEY,
        title        TEXT    NOT NULL,
        host         TEXT    NOT NULL,
        status       TEXT    NOT NULL CHECK (status IN ('live', 'ended')),
        created_at   INTEGER NOT NULL,
        ended_at     INTEGER,
        seq_reserved INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX spaces_by_status ON spaces (status, created_at);

    CREATE TABLE space_posts (
        space_id TEXT    NOT NULL REFERENCES spaces (space_id) ON DELETE CASCADE,
        post_id  INTEGER NOT NULL,
        user     TEXT    NOT NULL,
        text     TEXT    NOT NULL,
        at       INTEGER NOT NULL,
        PRIMARY KEY (space_id, post_id)
    ) STRICT;

    CREATE TABLE space_removals (
        space_id TEXT NOT NULL REFERENCES spaces (space_id) ON DELETE CASCADE,
        user     TEXT NOT NULL,
        PRIMARY KEY (space_id, user)
    ) STRICT;
    """,
)

SCHEDULE = Migration(
    "scheduled spaces and reminders",
    """
    CREATE TABLE scheduled_spaces (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        host_id          INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        title            TEXT    NOT NULL,
        description      TEXT    NOT NULL,
        topics           TEXT    NOT NULL,
        search_text      TEXT    NOT NULL,
        starts_at        INTEGER NOT NULL,
        created_at       INTEGER NOT NULL,
        cancelled_at     INTEGER,
        started_space_id TEXT,
        host_reminded_at INTEGER
    ) STRICT;
    CREATE INDEX scheduled_pending ON scheduled_spaces (starts_at, id)
        WHERE cancelled_at IS NULL AND started_space_id IS NULL;
    CREATE INDEX scheduled_by_space ON scheduled_spaces (started_space_id) WHERE started_space_id IS NOT NULL;

    CREATE TABLE reminders (
        scheduled_id INTEGER NOT NULL REFERENCES scheduled_spaces (id) ON DELETE CASCADE,
        account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        created_at   INTEGER NOT NULL,
        PRIMARY KEY (scheduled_id, account_id)
    ) STRICT;
    CREATE INDEX reminders_by_account ON reminders (account_id);
    """,
)

SPACE_DETAILS = Migration(
    "spaces' description, topics, speaker policy and invitations to speak",
    """
    ALTER TABLE spaces ADD COLUMN description TEXT NOT NULL DEFAULT '';
    ALTER TABLE spaces ADD COLUMN topics TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE spaces ADD COLUMN speaker_policy TEXT NOT NULL DEFAULT 'everyone'
        CHECK (speaker_policy IN ('everyone', 'following', 'invited'));

    UPDATE spaces
       SET description = s.description, topics = s.topics
      FROM scheduled_spaces AS s
     WHERE s.started_space_id = spaces.space_id;

    CREATE TABLE space_invitations (
        space_id   TEXT    NOT NULL REFERENCES spaces (space_id) ON DELETE CASCADE,
        user       TEXT    NOT NULL,
        invited_at INTEGER NOT NULL,
        PRIMARY KEY (space_id, user)
    ) STRICT;
    """,
)

IDENTITY = Migration(
    "spaces keep people by server-issued id (`u<account id>`), with the names they showed",
    """
    ALTER TABLE spaces ADD COLUMN host_name TEXT NOT NULL DEFAULT '';
    ALTER TABLE space_posts ADD COLUMN name TEXT NOT NULL DEFAULT '';
    UPDATE spaces SET host_name = host;
    UPDATE space_posts SET name = user;

    UPDATE spaces SET host = 'legacy:' || host
     WHERE NOT EXISTS (SELECT 1 FROM accounts AS a WHERE a.handle = spaces.host COLLATE NOCASE);
    UPDATE space_posts SET user = 'legacy:' || user
     WHERE NOT EXISTS (SELECT 1 FROM accounts AS a WHERE a.handle = space_posts.user COLLATE NOCASE);
    UPDATE space_removals SET user = 'legacy:' || user
     WHERE NOT EXISTS (SELECT 1 FROM accounts AS a WHERE a.handle = space_removals.user COLLATE NOCASE);
    UPDATE space_invitations SET user = 'legacy:' || user
     WHERE NOT EXISTS (SELECT 1 FROM accounts AS a WHERE a.handle = space_invitations.user COLLATE NOCASE);

    UPDATE spaces SET host = 'u' || a.id FROM accounts AS a WHERE a.handle = spaces.host COLLATE NOCASE;
    UPDATE space_posts SET user = 'u' || a.id FROM accounts AS a WHERE a.handle = space_posts.user COLLATE NOCASE;
    UPDATE OR REPLACE space_removals SET user = 'u' || a.id
      FROM accounts AS a WHERE a.handle = space_removals.user COLLATE NOCASE;
    UPDATE OR REPLACE space_invitations SET user = 'u' || a.id
      FROM accounts AS a WHERE a.handle = space_invitations.user COLLATE NOCASE;

    UPDATE spaces SET status = 'ended', ended_at = created_at
     WHERE status = 'live' AND NOT EXISTS (SELECT 1 FROM accounts AS a WHERE 'u' || a.id = spaces.host);
    """,
)
"""Before it, spaces named people by the name they said `hello` with: an account's handle, or a guest's
name (`[A-Za-z0-9_]{1,32}`, which only had to differ from every handle in any casing). So a guest's name
may be anything an id is today: `u1` is account 1's id. The order is what keeps a guest from ever
becoming an account:
1. every name that is no account's handle (without case, as `accounts.handle` compares) moves to
   `legacy:<name>`, a namespace no server-issued id can equal (`u<digits>`, `g-<hex>`; `:` is in neither);
2. only then do handles become ids (`u<account id>`), so no renamed guest can be taken for one;
3. a live space whose host is not an existing account's id ends (guests no longer host).
A removal or invitation named twice in different casings of one handle becomes one row (`OR REPLACE`).
The names people showed stay in `spaces.host_name` and `space_posts.name`."""

SPACE_MODERATORS_GONE = Migration(
    "since when a live space has had no host or co-host",
    """
    ALTER TABLE spaces ADD COLUMN unmoderated_since INTEGER;
    """,
)

ACCOUNT_SUSPENSION = Migration(
    "account suspension (stoa admin: a suspended account is refused everywhere, across restarts)",
    """
    ALTER TABLE accounts ADD COLUMN suspended_at INTEGER;
    CREATE INDEX accounts_suspended ON accounts (suspended_at) WHERE suspended_at IS NOT NULL;
    """,
)

WEBHOOK_OUTBOX = Migration(
    "the webhook outbox: events to deliver, each space's webhook sequence, each receiver's cursor",
    """
    CREATE TABLE webhook_events (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        space_id   TEXT,
        space_seq  INTEGER,
        type       TEXT    NOT NULL,
        data       TEXT    NOT NULL,
        created_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX webhook_events_by_space ON webhook_events (space_id, space_seq);

    CREATE TABLE webhook_space_seq (
        space_id TEXT    PRIMARY KEY,
        seq      INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE webhook_cursors (
        url          TEXT    PRIMARY KEY,
        delivered_id INTEGER NOT NULL
    ) STRICT;
    """,
)

WEBHOOK_RECEIVERS = Migration(
    "webhook receivers registered through the admin API, each with its own signing secret",
    """
    CREATE TABLE webhook_receivers (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        url        TEXT    NOT NULL,
        secret     TEXT    NOT NULL,
        created_at INTEGER NOT NULL
    ) STRICT;
    """,
)
"""A registered receiver's cursor is the `webhook_cursors` row keyed `receiver:<id>` (a receiver of the settings
is keyed by its URL, which always starts with `http`): the outbox's bound and backlog count both alike."""
RECORDINGS = Migration(
    "recordings of spaces: their parts (Ogg Opus files), consent and other events; a scheduled space's `record`",
    """
    CREATE TABLE recordings (
        id          TEXT    PRIMARY KEY,
        space_id    TEXT    NOT NULL REFERENCES spaces (space_id) ON DELETE CASCADE,
        host_id     TEXT    NOT NULL,
        title       TEXT    NOT NULL,
        started_at  INTEGER NOT NULL,
        ended_at    INTEGER,
        duration_ms INTEGER NOT NULL DEFAULT 0,
        visibility  TEXT    NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'private')),
        deleted_at  INTEGER
    ) STRICT;
    CREATE INDEX recordings_by_space ON recordings (space_id, started_at);
    CREATE INDEX recordings_by_host ON recordings (host_id, started_at);
    CREATE INDEX recordings_listed ON recordings (started_at, id) WHERE deleted_at IS NULL;
    CREATE INDEX recordings_ended ON recordings (ended_at) WHERE deleted_at IS NULL AND ended_at IS NOT NULL;

    CREATE TABLE recording_parts (
        recording_id TEXT    NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
        part         INTEGER NOT NULL CHECK (part >= 0),
        path         TEXT    NOT NULL,
        offset_ms    INTEGER NOT NULL CHECK (offset_ms >= 0),
        duration_ms  INTEGER NOT NULL DEFAULT 0,
        bytes        INTEGER NOT NULL DEFAULT 0,
        finished     INTEGER NOT NULL DEFAULT 0 CHECK (finished IN (0, 1)),
        PRIMARY KEY (recording_id, part)
    ) STRICT;
    CREATE INDEX recording_parts_unfinished ON recording_parts (recording_id) WHERE finished = 0;

    CREATE TABLE recording_events (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        recording_id TEXT    NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
        at_ms        INTEGER NOT NULL,
        kind         TEXT    NOT NULL CHECK (kind IN ('consent_given', 'consent_declined', 'consent_withdrawn',
                                                      'recording_started', 'recording_stopped')),
        user         TEXT
    ) STRICT;
    CREATE INDEX recording_events_by_recording ON recording_events (recording_id, id);

    ALTER TABLE scheduled_spaces ADD COLUMN record INTEGER NOT NULL DEFAULT 0 CHECK (record IN (0, 1));
    """,
)

MIGRATIONS: tuple[Migration, ...] = (
    ACCOUNTS,
    SOCIAL_GRAPH,
    INBOX,
    SPACES,
    SCHEDULE,
    SPACE_DETAILS,
    IDENTITY,
    SPACE_MODERATORS_GONE,
    ACCOUNT_SUSPENSION,
    WEBHOOK_OUTBOX,
    WEBHOOK_RECEIVERS,
    RECORDINGS,
)
"""Every published migration, in order. Append only."""
