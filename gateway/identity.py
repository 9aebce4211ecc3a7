"""Who a connection is: an account (by its token) or a guest with a server-issued id. Never a name.

Ids are strings: `u<account id>` for an account, `g-<12 hex digits>` for a guest. A guest's name is a
label to display and confers nothing; a guest keeps its id (and so its place) on a new connection only by
presenting the `guest_token` it was given in `welcome`, signed with a key derived from the store's
signing key (so a guest token outlives a server restart, as a session token does).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import store

GUEST_PREFIX = "g-"
ACCOUNT_PREFIX = "u"


def user_of(account: store.AccountId) -> str:
    """The server-issued id of the account numbered `account`, in spaces and on the wire."""
    return f"{ACCOUNT_PREFIX}{account}"


def account_user(account: store.Account) -> str:
    """The server-issued id of `account`."""
    return user_of(account.id)


def account_id_of(user: str) -> store.AccountId | None:
    """The account behind a user id, or None for a guest (or anything else)."""
    digits = user[len(ACCOUNT_PREFIX) :]
    if user.startswith(ACCOUNT_PREFIX) and digits.isdigit() and digits.isascii():
        return store.AccountId(int(digits))
    return None


class GuestIds:
    """Issues guest ids with their tokens, and checks tokens presented again."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    @classmethod
    def from_secret(cls, secret: bytes) -> GuestIds:
        """Guest ids signed with a key derived from `secret` (the store's token signing key): one purpose,
        one key, so a guest token can never pass for a session token or the reverse."""
        return cls(hmac.new(secret, b"stoa guest tokens v1", hashlib.sha256).digest())

    def issue(self) -> tuple[str, str]:
        """A new guest id and the token that proves it later."""
        user = GUEST_PREFIX + secrets.token_hex(6)
        return user, f"{user}.{self._sign(user)}"

    def verify(self, token: str) -> str | None:
        """The guest id `token` proves, or None if this server did not issue it.

        Error handling: a token with a non-ASCII character was not issued here (ids and signatures are
        ASCII) and is refused before `compare_digest`, which raises TypeError on non-ASCII strings.
        """
        if not token.isascii():
            return None
        user, _, signature = token.rpartition(".")
        if not user.startswith(GUEST_PREFIX) or not hmac.compare_digest(signature, self._sign(user)):
            return None
        return user

    def _sign(self, user: str) -> str:
        return hmac.new(self._key, user.encode(), hashlib.sha256).hexdigest()[:32]
