"""Stoa's embedded store: accounts, sessions, the social graph and direct messages, in one SQLite file.

Open it with `open_database(path)` and pass the `Database` to the functions below; every function is
async and runs its SQL in a worker thread. Imports nothing of Stoa. See docs/store.md.
"""

from store._accounts import get_account, get_account_by_id, register, set_display_name, set_protected
from store._db import Clock, Database, open_database
from store._errors import (
    BadArgument,
    BadCredentials,
    Blocked,
    HandleTaken,
    NoSuchAccount,
    SchemaTooNew,
    StoreError,
    TokenExpired,
    TokenInvalid,
)
from store._inbox import inbox, mark_read, send_dm, unread_count
from store._sessions import (
    DEFAULT_TOKEN_LIFETIME_S,
    log_in,
    log_out,
    log_out_everywhere,
    purge_expired_sessions,
    verify_token,
)
from store._social import (
    block,
    blocked_accounts,
    follow,
    followers,
    following,
    follows,
    is_blocked,
    unblock,
    unfollow,
)
from store._values import Account, AccountId, AccountPage, Invite, Message, MessageKind, Session

__all__ = [
    "DEFAULT_TOKEN_LIFETIME_S",
    "Account",
    "AccountId",
    "AccountPage",
    "BadArgument",
    "BadCredentials",
    "Blocked",
    "Clock",
    "Database",
    "HandleTaken",
    "Invite",
    "Message",
    "MessageKind",
    "NoSuchAccount",
    "SchemaTooNew",
    "Session",
    "StoreError",
    "TokenExpired",
    "TokenInvalid",
    "block",
    "blocked_accounts",
    "follow",
    "followers",
    "following",
    "follows",
    "get_account",
    "get_account_by_id",
    "inbox",
    "is_blocked",
    "log_in",
    "log_out",
    "log_out_everywhere",
    "mark_read",
    "open_database",
    "purge_expired_sessions",
    "register",
    "send_dm",
    "set_display_name",
    "set_protected",
    "unblock",
    "unfollow",
    "unread_count",
    "verify_token",
]
