"""The store's error tree: one base class, `StoreError`, each subclass with a stable `code`.

The codes never change once published; `gateway/errors.py` maps them to wire codes (STYLE R9).
"""

from __future__ import annotations

from typing import ClassVar


class StoreError(Exception):
    """Base of every error the store raises on purpose."""

    code: ClassVar[str] = "store_error"


class BadArgument(StoreError, ValueError):
    """An argument is out of its documented range (a handle, a name, a limit): fix the request."""

    code = "bad_argument"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class HandleTaken(StoreError):
    """Another account already has this handle, compared without regard to case."""

    code = "handle_taken"

    def __init__(self, handle: str) -> None:
        super().__init__(f"the handle {handle!r} is taken")
        self.handle = handle


class BadCredentials(StoreError):
    """Log-in refused. Deliberately the same for an unknown handle and a wrong password."""

    code = "bad_credentials"

    def __init__(self) -> None:
        super().__init__("unknown handle or wrong password")


class TokenInvalid(StoreError):
    """A session token that is malformed, tampered with, signed by an unknown key, or revoked: log in again."""

    code = "token_invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid session token: {reason}")
        self.reason = reason


class AccountSuspended(StoreError):
    """The account is suspended by an operator (`stoa admin suspend`): refused at log-in, with any token, and on
    every request, until an operator restores it."""

    code = "account_suspended"

    def __init__(self) -> None:
        super().__init__("this account is suspended")


class TokenExpired(StoreError):
    """A genuine session token past its expiry: log in again."""

    code = "token_expired"

    def __init__(self, expired_at_ms: int) -> None:
        super().__init__(f"session token expired at {expired_at_ms} ms")
        self.expired_at_ms = expired_at_ms


class NoSuchAccount(StoreError, LookupError):
    """No account has this handle or id."""

    code = "no_such_account"

    def __init__(self, who: str | int) -> None:
        super().__init__(f"no account {who!r}")
        self.who = who


class Blocked(StoreError):
    """One of the two accounts blocks the other, so they cannot follow or message each other."""

    code = "blocked"

    def __init__(self) -> None:
        super().__init__("one of these accounts blocks the other")


class SchemaTooNew(StoreError):
    """The database was written by a newer Stoa: upgrade the server, never downgrade a data folder."""

    code = "schema_too_new"

    def __init__(self, found: int, supported: int) -> None:
        super().__init__(
            f"the database has schema version {found}, but this server knows versions up to {supported}: "
            "run a newer Stoa on this data folder"
        )
        self.found = found
        self.supported = supported


class NoSuchScheduledSpace(StoreError, LookupError):
    """No scheduled space has this id."""

    code = "no_such_scheduled_space"

    def __init__(self, scheduled_id: int) -> None:
        super().__init__(f"no scheduled space {scheduled_id}")
        self.scheduled_id = scheduled_id


class ScheduledSpaceOver(StoreError):
    """The scheduled space was cancelled or has started: it can no longer be changed or reminded of."""

    code = "scheduled_space_over"

    def __init__(self, scheduled_id: int, how: str) -> None:
        super().__init__(f"scheduled space {scheduled_id} {how}")
        self.scheduled_id = scheduled_id
        self.how = how


class TooManyScheduled(StoreError):
    """The host already has as many scheduled spaces waiting to start as the caller allows."""

    code = "limit_reached"

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} scheduled spaces waiting to start per account")
        self.limit = limit


class TooManyWebhookReceivers(StoreError):
    """As many webhook receivers are registered as the caller allows: remove one first."""

    code = "limit_reached"

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} webhook receivers registered through the admin API")
        self.limit = limit
