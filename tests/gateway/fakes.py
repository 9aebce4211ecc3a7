"""A fake connection for driving request handlers directly: the `Caller` parts they use, over a real store
and real limits, with the notifications it sends recorded. Spaces are whatever the test passes in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import msgspec

import store
from actors.space import Role, SpaceRef
from gateway.context import Caller
from gateway.guest_names import GuestNames
from gateway.limits import Limits, LimitSettings


@dataclass
class FakeServices:
    db: store.Database
    limits: Limits = field(default_factory=lambda: Limits(LimitSettings()))
    notified: list[tuple[store.AccountId, msgspec.Struct]] = field(default_factory=list)
    suspended: set[str] = field(default_factory=set)
    guest_names: GuestNames = field(default_factory=GuestNames)

    def notify(self, account_id: store.AccountId, message: msgspec.Struct) -> None:
        self.notified.append((account_id, message))


@dataclass
class FakeCaller:
    services: FakeServices
    account: store.Account | None = None
    space: SpaceRef | None = None
    role: Role | None = None
    address: str = "127.0.0.1"
    user: str | None = None
    name: str = ""

    def signed_in(self, *args: object, **kwargs: object) -> None:
        pass

    def as_caller(self) -> Caller:
        """This fake where a handler wants a `Caller` (it has only the parts the tested handlers use)."""
        return cast(Caller, self)
