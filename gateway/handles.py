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
    and the handles being registered, each in lowercase. `register` refuses a handle a guest goes by, and a
    guest's `hello` a name being registered: with `HandleCheck` for the handles already taken, no guest is
    ever shown under an account's handle, one registered after the guest's `hello` included. A taken handle
    is free again once its guests are gone. (Per server: a cluster will have to share it.)"""

    __slots__ = ("_held", "_registering")

    def __init__(self) -> None:
        self._held: Counter[str] = Counter()
        self._registering: Counter[str] = Counter()

    def hold(self, name: str) -> None:
        self._held[name.lower()] += 1

    def release(self, name: str) -> None:
        key = name.lower()
        self._held[key] -= 1
        if self._held[key] <= 0:
            del self._held[key]

    def held(self, name: str, *, besides: str | None = None) -> bool:
        """Whether a guest goes by `name`, in any casing; with `besides`, the name the asking guest holds,
        whether another does."""
        key = name.lower()
        mine = 1 if besides is not None and besides.lower() == key else 0
        return self._held.get(key, 0) > mine

    def being_registered(self, name: str) -> bool:
        return name.lower() in self._registering

    @contextmanager
    def registering(self, handle: str) -> Iterator[None]:
        """While `handle`'s account is being made: guests may not take it meanwhile."""
        key = handle.lower()
        self._registering[key] += 1
        try:
            yield
        finally:
            self._registering[key] -= 1
            if self._registering[key] <= 0:
                del self._registering[key]
