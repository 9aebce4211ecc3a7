"""HandleCheck: whether names are accounts' handles, asked of the store for many names at once. GuestNames:
the names connected guests go by, which `register` may not take.

A guest's `hello` may not take an account's handle as its name (docs/protocol.md). Asked one name at a
time, a burst of guests saying hello became a queue of store reads, each its own trip to the store's
worker thread. Here the names that arrive while one read runs wait for the next, which answers them:
one read per `MAX_NAMES` names. The bound keeps each answer's wake-ups few: every caller a read answers
goes on with its `hello` (and its `join_space`) in the same turn of the event loop, and with no bound a
read that answered 4,000 waiting guests stopped the loop for 0.35-0.6 s (`bench/joins_bench.py`).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import trio

import store

MAX_NAMES = 64
"""The most names one read answers; the callers past it wait for the next read (it is already queued)."""


class _Batch:
    __slots__ = ("done", "led", "names", "taken")

    def __init__(self) -> None:
        self.names: set[str] = set()  # lowercase
        self.led = False  # a caller has taken charge of reading it
        self.taken: set[str] | None = None  # the answer, once read
        self.done = trio.Event()


class HandleCheck:
    """Error handling: a failed read raises in the caller that made it; the callers waiting on that read
    ask again (one of them makes the next read), and so does everyone when the one in charge is cancelled."""

    __slots__ = ("_db", "_lock", "_open")

    def __init__(self, db: store.Database) -> None:
        self._db = db
        self._lock = trio.Lock()  # one read at a time; the next batch gathers names meanwhile
        self._open: _Batch | None = None

    async def taken(self, name: str) -> bool:
        """Whether `name` is an account's handle, in any casing."""
        key = name.lower()
        while True:
            batch = self._open
            if batch is None or len(batch.names) >= MAX_NAMES:
                batch = self._open = _Batch()  # a full batch is left to its leader, who waits for its read
            batch.names.add(key)
            if batch.led:
                await batch.done.wait()
            else:
                batch.led = True
                await self._read(batch)
            if batch.taken is not None:
                return key in batch.taken

    async def _read(self, batch: _Batch) -> None:
        try:
            async with self._lock:
                if self._open is batch:
                    self._open = None  # names from now on go to the next batch
                batch.taken = await store.taken_handles(self._db, sorted(batch.names))
        finally:
            if self._open is batch:
                self._open = None
            batch.done.set()


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

    def hold(self, name: str, user: str) -> float:
        """`user` (a guest's id, or a placeholder for a `hello` not yet answered) goes by `name`; returns when."""
        self._held.setdefault(name.lower(), Counter())[user] += 1
        return time.monotonic()

    def release(self, name: str, user: str) -> None:
        key = name.lower()
        holders = self._held.get(key)
        if holders is None or holders[user] <= 0:
            raise ValueError(f"{user} does not hold {name!r}")
        holders[user] -= 1
        if holders[user] <= 0:
            del holders[user]
        if not holders:
            del self._held[key]

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
