"""The store's values: accounts, sessions, pages of accounts, direct messages; all frozen msgspec Structs.

Times are unix time in milliseconds, as in `actors.space` (`Post.at`). Ids are SQLite row ids, never reused.
"""

from __future__ import annotations

import enum
from typing import NewType

import msgspec

AccountId = NewType("AccountId", int)
"""The stable id of an account. Other records (follows, blocks, messages) refer to accounts by it."""


class Account(msgspec.Struct, frozen=True):
    """A registered user. `handle` keeps the casing chosen at registration; handles compare without case."""

    id: AccountId
    handle: str
    display_name: str
    protected: bool
    created_at: int


class Session(msgspec.Struct, frozen=True):
    """A logged-in session: the signed `token` the client presents, and the account it stands for."""

    token: str
    token_id: str
    account: Account
    issued_at: int
    expires_at: int


class AccountPage(msgspec.Struct, frozen=True):
    """One page of a list of accounts, newest first. Pass `next_cursor` back to get the next page;
    it is None on the last page."""

    accounts: tuple[Account, ...]
    next_cursor: int | None


class MessageKind(enum.StrEnum):
    TEXT = "text"
    INVITE = "invite"
    SPACE_STARTING = "space_starting"  # a scheduled space one set a reminder on started; carries its link
    SPACE_CANCELLED = "space_cancelled"  # a scheduled space one set a reminder on was cancelled


class Invite(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The link an invitation carries: which space, and the role offered there (e.g. "speaker")."""

    space_id: str
    role: str


class Message(msgspec.Struct, frozen=True):
    """A direct message in its recipient's inbox. `invite` is set exactly when `kind` is INVITE, or
    SPACE_STARTING (the started space, with the role "listener").

    `id` grows with every message sent (across all inboxes), so `inbox(after_id=...)` pages without gaps.
    """

    id: int
    sender: AccountId
    sender_handle: str
    recipient: AccountId
    kind: MessageKind
    text: str
    invite: Invite | None
    created_at: int
    read: bool
