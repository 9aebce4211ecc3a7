"""HandleCheck: whether names are accounts' handles, asked of the store for many names at once.

A guest's `hello` may not take an account's handle as its name (docs/protocol.md). Asked one name at a
time, a burst of guests saying hello became a queue of store reads, each its own trip to the store's
worker thread. Here the names that arrive while one read runs wait for the next, which answers them:
one read per `MAX_NAMES` names. The bound keeps each answer's wake-ups few: every caller a read answers
goes on with its `hello` (and its `join_space`) in the same turn of the event loop, and with no bound a
read that answered 4,000 waiting guests stopped the loop for 0.35-0.6 s (`bench/joins_bench.py`).
"""

from __future__ import annotations

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
