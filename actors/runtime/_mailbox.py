"""The bounded mailbox of one supervised child, and the envelopes (message + optional reply) it holds.

A mailbox belongs to the child, not to one incarnation: messages queued when an actor crashes wait for
the next incarnation. `ActorRef` is its only writer, the incarnation's message loop its only reader.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass

import trio

from actors.runtime._errors import ActorCrashed, ActorStopped, MailboxFull


class _Outcome(enum.Enum):
    VALUE = enum.auto()
    REPLY_ERROR = enum.auto()
    CRASHED = enum.auto()
    STOPPED = enum.auto()


class Reply:
    """A one-shot slot the actor fills and the asker waits on. The first outcome wins."""

    __slots__ = ("_event", "_outcome", "_payload")

    def __init__(self) -> None:
        self._event = trio.Event()
        self._outcome = _Outcome.STOPPED
        self._payload: object = None

    @property
    def done(self) -> bool:
        return self._event.is_set()

    def _settle(self, outcome: _Outcome, payload: object) -> None:
        if not self._event.is_set():
            self._outcome = outcome
            self._payload = payload
            self._event.set()

    def value(self, value: object) -> None:
        self._settle(_Outcome.VALUE, value)

    def reply_error(self, error: Exception) -> None:
        """A domain error (one of `Actor.reply_errors`): re-raised as is in the asker."""
        self._settle(_Outcome.REPLY_ERROR, error)

    def crashed(self, cause: BaseException) -> None:
        self._settle(_Outcome.CRASHED, cause)

    def stopped(self) -> None:
        self._settle(_Outcome.STOPPED, None)

    async def wait(self, name: str) -> object:
        """Wait for the outcome; return the value or raise what the outcome says."""
        await self._event.wait()
        if self._outcome is _Outcome.VALUE:
            return self._payload
        if self._outcome is _Outcome.REPLY_ERROR:
            assert isinstance(self._payload, Exception)
            raise self._payload
        if self._outcome is _Outcome.CRASHED:
            assert isinstance(self._payload, BaseException)
            raise ActorCrashed(name, "while handling this message") from self._payload
        raise ActorStopped(name)


@dataclass(frozen=True, slots=True)
class Envelope:
    """One message in a mailbox; `reply` is None for a tell."""

    message: object
    reply: Reply | None = None


@dataclass(frozen=True, slots=True)
class MailboxStatistics:
    """A snapshot of one mailbox, from `ActorRef.statistics()`."""

    capacity: int
    queued: int
    senders_waiting: int
    closed: bool


class Mailbox:
    """A bounded FIFO of envelopes with backpressure: `put` waits for room, `put_nowait` raises.

    Closing it refuses new envelopes (`ActorStopped`) and wakes every waiting sender; the reader still
    gets what is queued, then None. `drain` takes what is left (the owner then answers pending asks).

    One reader (the child's current incarnation), parked on the mailbox itself. An idle mailbox is a
    few fields: the queue exists only while it holds envelopes, the senders' parking lot only once a
    sender had to wait, so tens of thousands of quiet actors cost little.
    """

    __slots__ = ("_capacity", "_closed", "_name", "_queue", "_reader", "_senders")

    def __init__(self, name: str, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"a mailbox holds at least one message, not {capacity}")
        self._name = name
        self._capacity = capacity
        self._queue: deque[Envelope] | None = None
        self._closed = False
        self._senders: trio.lowlevel.ParkingLot | None = None
        self._reader: trio.lowlevel.Task | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return 0 if self._queue is None else len(self._queue)

    def statistics(self) -> MailboxStatistics:
        return MailboxStatistics(
            capacity=self._capacity,
            queued=len(self),
            senders_waiting=0 if self._senders is None else self._senders.statistics().tasks_waiting,
            closed=self._closed,
        )

    def put_nowait(self, envelope: Envelope) -> None:
        if self._closed:
            raise ActorStopped(self._name)
        if self._queue is None:
            self._queue = deque()
        elif len(self._queue) >= self._capacity:
            raise MailboxFull(self._name, self._capacity)
        self._queue.append(envelope)
        self.wake_reader()

    async def put(self, envelope: Envelope) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        while len(self) >= self._capacity and not self._closed:
            if self._senders is None:
                self._senders = trio.lowlevel.ParkingLot()
            await self._senders.park()
        self.put_nowait(envelope)
        if len(self) < self._capacity:
            # A woken sender that took the last free slot passes no wake-up on; one that leaves room
            # passes it to the next waiting sender, so no sender sleeps beside a free slot.
            self._unpark_sender()
        await trio.lowlevel.cancel_shielded_checkpoint()

    def take(self) -> Envelope | None:
        """The next envelope, or None when none is queued (closed or not: see `closed`)."""
        queue = self._queue
        if not queue:
            return None
        envelope = queue.popleft()
        if not queue:
            self._queue = None  # an empty deque holds a 0.5 KiB block: let it go while idle
        self._unpark_sender()
        return envelope

    def take_if(self, types: tuple[type, ...]) -> Envelope | None:
        """The next envelope if its message is one of `types`, else None (and nothing is taken)."""
        queue = self._queue
        if not queue or not isinstance(queue[0].message, types):
            return None
        return self.take()

    def wait(self) -> Awaitable[object]:
        """Park the reader until an envelope is queued, the mailbox closes, or `wake_reader` is called;
        the reader then looks again (wake-ups may be spurious). A checkpoint. A plain function returning
        trio's awaitable, so an idle reader holds no frame of the mailbox's."""
        self._reader = trio.lowlevel.current_task()
        return trio.lowlevel.wait_task_rescheduled(self._abort_wait)  # noqa: ASYNC105 (the reader awaits it)

    def wake_reader(self) -> None:
        """End the reader's `wait` now (no-op when it is not waiting)."""
        reader, self._reader = self._reader, None
        if reader is not None:
            trio.lowlevel.reschedule(reader)

    def close(self) -> None:
        self._closed = True
        if self._senders is not None:
            self._senders.unpark_all()
        self.wake_reader()

    def reopen(self) -> None:
        self._closed = False

    def drain(self) -> list[Envelope]:
        envelopes = [] if self._queue is None else list(self._queue)
        self._queue = None
        if self._senders is not None:
            self._senders.unpark_all()
        return envelopes

    def _abort_wait(self, _: object) -> trio.lowlevel.Abort:
        self._reader = None
        return trio.lowlevel.Abort.SUCCEEDED

    def _unpark_sender(self) -> None:
        if self._senders is not None:
            self._senders.unpark()
