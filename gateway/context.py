"""What a request handler may see and do: the narrow context handlers are written against.

Handlers (`gateway/handlers/`) are plain async functions `(caller, message) -> reply`; they reach the
server only through `Caller` (this connection: who it is, its space, its replies) and `Services` (the
store, the spaces, the limits, user notifications). The session implements `Caller`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import msgspec

import store
from actors.space import Role, SpaceDirectory, SpaceRef
from gateway.guest_names import GuestNames
from gateway.handles import HandleCheck
from gateway.identity import GuestIds
from gateway.limits import Limits
from gateway.replays import Replays

if TYPE_CHECKING:
    from gateway.reminders import Scheduler
    from gateway.webrtc import RtcService


@dataclass(frozen=True)
class Services:
    db: store.Database
    directory: SpaceDirectory
    limits: Limits
    guests: GuestIds
    scheduler: Scheduler
    notify: Callable[[store.AccountId, msgspec.Struct], None]
    """Send a user notification to the account's connection, if it is connected now."""
    handles: HandleCheck
    """Whether a name is an account's handle (many names to one store read)."""
    replays: Replays
    """The data folder and the download links of recordings (`gateway/handlers/recordings.py`)."""
    suspended: set[str] = field(default_factory=set)
    """The user ids (`u<n>`) of suspended accounts, as in the store (loaded at start, kept by the admin API)."""
    guest_names: GuestNames = field(default_factory=GuestNames)
    """The names guests go by, which `register` may not take, and the handles being registered."""
    rtc: RtcService | None = None
    """WebRTC peer connections (`gateway/webrtc/`); None when the server runs without."""


class Caller(Protocol):
    """One connection as its handlers see it."""

    @property
    def user(self) -> str | None:
        """The server-issued id (`u<id>` or `g-...`); None before `hello`."""

    @property
    def name(self) -> str: ...

    @property
    def account(self) -> store.Account | None: ...

    @property
    def token(self) -> str | None:
        """The account's session token (to revoke on `log_out`), or the guest token."""

    @property
    def address(self) -> str:
        """The client's IP address, as logged; per-address limits count it by `limits.client_key`."""

    @property
    def space(self) -> SpaceRef | None: ...

    @property
    def role(self) -> Role | None: ...

    @property
    def muted(self) -> bool: ...

    @property
    def services(self) -> Services: ...

    def send(self, data: bytes) -> None: ...

    def signed_in(
        self, user: str, name: str, account: store.Account | None, token: str | None, *, welcome: bool = False
    ) -> None:
        """This connection is now `user` (after `hello`, `log_in` or `log_out`); `welcome` tells the client."""

    async def enter(self, ref: int, space: SpaceRef, resume_after: int | None = None) -> None:
        """Join `space` (or resume this user's place there, with the events after `resume_after`); the reply
        is queued by the space itself."""

    def left_space(self) -> None: ...
