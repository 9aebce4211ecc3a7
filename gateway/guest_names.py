"""GuestNames: the names guests go by, which `register` may not take, and the handles being registered
(the other side of `HandleCheck`, gateway/handles.py, which keeps a guest from taking a handle)."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class GuestNames:
    """The names guests go by while the server holds their place (connected, or within their resume window),
    and the handles being registered or just registered, each in lowercase. `register` refuses a handle
    another guest goes by; a guest's `hello` holds its name before it asks the store whether an account has
    it (`HandleCheck`, whose read then starts after the hold), and is refused a name whose registration
    was under way or ended since that hold. So no guest is ever shown under an account's handle, one
    registered after the guest's `hello` included: a `register` either sees the hold, or its account's row
    is seen by the guest's read, or it ended after the hold. A taken handle is free again moments after its
    guests are gone. (Per server: a cluster will have to share it.)"""

    __slots__ = ("_held", "_registered_at", "_registering")

    def __init__(self) -> None:
        self._held: dict[str, Counter[str]] = {}  # name -> the users holding it (a user may hold it twice)
        self._registering: Counter[str] = Counter()
        self._registered_at: dict[str, float] = {}  # name -> when its registration last ended (monotonic)

    def hold(self, name: str, user: str) -> NameHold:
        """`user` (a guest's id, or a placeholder for a `hello` not yet answered) goes by `name` until the
        hold is released."""
        self._held.setdefault(name.lower(), Counter())[user] += 1
        return NameHold(self, name.lower(), user, time.monotonic())

    def _release(self, hold: NameHold) -> None:
        holders = self._held[hold.key]
        holders[hold.user] -= 1
        if holders[hold.user] <= 0:
            del holders[hold.user]
        if not holders:
            del self._held[hold.key]

    def held(self, name: str, *, besides: str | None = None) -> bool:
        """Whether a guest other than `besides` (a user id) goes by `name`, in any casing."""
        return any(user != besides for user in self._held.get(name.lower(), ()))

    def registered_since(self, name: str, since: float) -> bool:
        """Whether `name` is being registered, or a registration of it ended at `since` or later."""
        key = name.lower()
        return key in self._registering or self._registered_at.get(key, -math.inf) >= since

    @contextmanager
    def registering(self, handle: str) -> Iterator[None]:
        """While `handle`'s account is being made, and its end remembered for `REMEMBER_S`."""
        key = handle.lower()
        self._registering[key] += 1
        try:
            yield
        finally:
            self._registering[key] -= 1
            if self._registering[key] <= 0:
                del self._registering[key]
            now = time.monotonic()
            self._registered_at[key] = now
            for old in [k for k, at in self._registered_at.items() if at < now - REMEMBER_S]:
                del self._registered_at[old]


REMEMBER_S = 60.0
"""How long the end of a registration is remembered: far longer than any store read a `hello` waits on."""


class NameHold:
    """One hold of `GuestNames`, from `at` (monotonic) until `release`: once (a second release is a bug, not
    another guest's hold undone)."""

    __slots__ = ("_names", "_released", "at", "key", "user")

    def __init__(self, names: GuestNames | None, key: str, user: str, at: float) -> None:
        self._names, self.key, self.user, self.at = names, key, user, at
        self._released = False

    def release(self) -> None:
        if self._names is None:
            return  # NO_HOLD
        if self._released:
            raise ValueError(f"{self.user} does not hold {self.key!r}")
        self._released = True
        self._names._release(self)  # noqa: SLF001 (the hold is the registry's own)


NO_HOLD = NameHold(None, "", "", 0.0)
"""What an account holds: nothing, released as often as it is."""
