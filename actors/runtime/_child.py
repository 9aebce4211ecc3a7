"""A supervised child (spec, mailbox, ref, stash: what survives restarts) and one incarnation of it
(an actor object running its message loop in a task of the supervisor's nursery).

The supervisor decides; this module runs one incarnation and reports how it ended.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import trio

from actors.runtime._actor import Actor, Context
from actors.runtime._errors import ActorCrashed
from actors.runtime._mailbox import Envelope, Mailbox
from actors.runtime._ref import ActorRef
from actors.runtime._spec import ChildSpec


@dataclass(frozen=True, slots=True)
class Exit:
    """How an incarnation that had started ended: `error` is the crash, None for a normal end."""

    child: Child
    incarnation: Incarnation
    error: Exception | None


class Child:
    """What belongs to the child and not to one incarnation: the mailbox, the ref, the stash, the count,
    and the times of its recent restarts when it has a budget of its own (made at its first restart).

    A server may hold tens of thousands of children, mostly idle: slots, and nothing made before it is used.
    """

    __slots__ = ("incarnation", "mailbox", "ref", "restart_times", "restarts", "spec", "stashed")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.mailbox = Mailbox(spec.id, spec.mailbox_size)
        self.ref = ActorRef(self)
        self.restarts = 0
        self.restart_times: deque[float] | None = None
        self.stashed: object | None = None
        self.incarnation: Incarnation | None = None

    @property
    def alive(self) -> bool:
        return self.incarnation is not None and self.incarnation.running

    def fail_pending(self) -> None:
        """Close the mailbox for good and answer every ask still in it with `ActorStopped`."""
        self.mailbox.close()
        for envelope in self.mailbox.drain():
            if envelope.reply is not None:
                envelope.reply.stopped()


class Incarnation:
    """One run of a child: `on_start`, the message loop, then `on_stop` on an orderly stop.

    Resource handling: `run` is one task of the supervisor's nursery, and the actor's `ctx.nursery` is
    opened inside it; that nursery's cancel scope is the supervisor's kill switch (`cancel`).
    `request_stop` asks for an orderly stop after the current message. An idle incarnation is that one
    task waiting on its mailbox: nothing else (no timer, no event) is made until it is needed.
    """

    __slots__ = ("_batch", "_current", "_done", "_done_event", "_nursery", "_report", "by_supervisor", "child",
                 "running", "stop_requested")  # fmt: skip

    def __init__(self, child: Child, report: Callable[[Exit], None]) -> None:
        self.child = child
        self.running = False
        self.stop_requested = False
        self.by_supervisor = False
        self._report = report
        self._nursery: trio.Nursery | None = None
        self._current: Envelope | None = None
        self._batch: list[Envelope] | None = None  # the batch being handled (see `Actor.batch_types`)
        self._done = False
        self._done_event: trio.Event | None = None

    @property
    def done(self) -> bool:
        return self._done

    async def wait_done(self) -> None:
        if not self._done:
            if self._done_event is None:
                self._done_event = trio.Event()
            await self._done_event.wait()

    def cancel(self, reason: str) -> None:
        """Kill it: cancel the message loop, `on_stop` and every task in `ctx.nursery`."""
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel(reason=reason)

    def request_stop(self, *, by_supervisor: bool) -> None:
        self.by_supervisor = self.by_supervisor or by_supervisor
        self.stop_requested = True
        self.child.mailbox.wake_reader()

    # One incarnation, start to end: the hardest path of an idle server, because it is what every idle
    # actor is.
    #
    # Constraints. A server holds tens of thousands of mostly idle actors, so an idle one must be as
    # small as Trio allows: one task, whose only frame is this one, parked on the mailbox with no
    # helper coroutine, cancel scope, event or timer of its own. The starter's `task_status` refers to
    # its temporary nursery: dropped once started, or every idle actor would keep one alive. A crash
    # must never be swallowed with Cancelled, and the message being handled must always be answered.
    #
    # Pipeline. (1) Open the actor's nursery (`ctx.nursery`; its cancel scope is the kill switch),
    # make the actor and run `on_start`; a crash here is raised to the starter as ActorCrashed.
    # (2) Report started. (3) The message loop: take the next envelope; none queued, park until one
    # comes, the mailbox closes or a stop is requested; closed and empty is a normal end. Each envelope
    # is handled in `_handle` (a frame only while handling). (4) `on_stop` on a normal end. (5) Answer
    # the message being handled if it was not (crash: ActorCrashed; stop: ActorStopped), mark the
    # incarnation done and report how it ended.
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until stopped. Error handling: a crash before `task_status.started()` is raised as
        `ActorCrashed` (the starter handles it); after it, it is reported to the supervisor."""
        child = self.child
        mailbox = child.mailbox
        crash: Exception | None = None
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                actor = child.spec.start()
                ctx = Context(self, nursery)
                await actor.on_start(ctx)
                self.running = True
                task_status.started()
                task_status = trio.TASK_STATUS_IGNORED
                while not self.stop_requested:
                    await trio.lowlevel.checkpoint_if_cancelled()
                    envelope = mailbox.take()
                    if envelope is not None and actor.batch_types and isinstance(envelope.message, actor.batch_types):
                        batch = self._batch = [envelope]
                        while len(batch) < actor.batch_limit and (more := mailbox.take_if(actor.batch_types)):
                            batch.append(more)
                        await self._handle_batch(actor, ctx, batch)
                        self._batch = None
                    elif envelope is not None:
                        self._current = envelope
                        await self._handle(actor, ctx, envelope)
                        self._current = None
                    elif mailbox.closed:
                        break  # closed and drained: a normal end
                    else:
                        await mailbox.wait()
                await actor.on_stop(ctx)
                nursery.cancel_scope.cancel(reason="actor stopped")
        except BaseException as exc:
            crash, rest = _split_crash(exc)
            if rest is exc:
                raise  # Cancelled, KeyboardInterrupt...: never swallowed
            if rest is not None:
                raise rest from exc  # the non-crash part of a group; the crash is answered below
            assert crash is not None
            if not self.running:
                raise ActorCrashed(child.spec.id, "while starting") from crash
        finally:
            self._nursery = None
            for unanswered in [self._current] if self._batch is None else self._batch:
                if unanswered is not None and unanswered.reply is not None:
                    if crash is not None:
                        unanswered.reply.crashed(crash)
                    else:
                        unanswered.reply.stopped()
            started, self.running = self.running, False
            self._done = True
            if self._done_event is not None:
                self._done_event.set()
            if started:
                self._report(Exit(child, self, crash))

    async def _handle(self, actor: Actor, ctx: Context, envelope: Envelope) -> None:
        """One message: its reply is the value `handle` returns, or one of its `reply_errors`; any other
        exception is a crash (raised on, answered by `run`)."""
        await trio.lowlevel.cancel_shielded_checkpoint()  # a scheduling point per message, even if handle has none
        try:
            result = await actor.handle(envelope.message, ctx)
        except Exception as error:
            if not isinstance(error, actor.reply_errors):
                raise
            if envelope.reply is not None:
                envelope.reply.reply_error(error)
        else:
            if envelope.reply is not None:
                envelope.reply.value(result)

    async def _handle_batch(self, actor: Actor, ctx: Context, batch: list[Envelope]) -> None:
        """A run of consecutive messages of `actor.batch_types`: each answered with its own result."""
        await trio.lowlevel.cancel_shielded_checkpoint()
        try:
            results = await actor.handle_batch([envelope.message for envelope in batch], ctx)
        except Exception as error:
            if not isinstance(error, actor.reply_errors):
                raise
            results = [error] * len(batch)
        if len(results) != len(batch):
            raise RuntimeError(f"handle_batch answered {len(results)} of {len(batch)} messages")
        for envelope, result in zip(batch, results, strict=True):
            if envelope.reply is None:
                continue
            if isinstance(result, actor.reply_errors):
                envelope.reply.reply_error(result)
            else:
                envelope.reply.value(result)


def _split_crash(exc: BaseException) -> tuple[Exception | None, BaseException | None]:
    """Split what escaped an incarnation into its crash (Exceptions, collapsed to one exception when
    there is one) and the rest (Cancelled, KeyboardInterrupt...), which must propagate untouched."""
    if isinstance(exc, BaseExceptionGroup):
        crash, rest = exc.split(Exception)
        return (None if crash is None else _collapse(crash)), rest
    if isinstance(exc, Exception):
        return exc, None
    return None, exc


def _collapse(group: BaseException) -> Exception:
    """ExceptionGroup([ExceptionGroup([ValueError()])]) -> ValueError(): the nurseries are ours, not
    the actor's, so a lone crash is reported as itself."""
    while isinstance(group, BaseExceptionGroup) and len(group.exceptions) == 1:
        group = group.exceptions[0]
    assert isinstance(group, Exception)
    return group
