"""The Actor base class a program subclasses, and the Context the runtime hands each incarnation.

An actor is a process for state, concurrency or failure isolation (OTP's advice): it handles one
message at a time; a supervisor starts it, restarts it after a crash, and stops it.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

import trio

if TYPE_CHECKING:
    from actors.runtime._child import Incarnation
    from actors.runtime._ref import ActorRef


class Actor(abc.ABC):
    """Subclass it and define `handle`; `on_start` and `on_stop` are optional.

    Error handling: an exception escaping `on_start`, `handle` or a task in `ctx.nursery` is a crash,
    and the supervisor decides what follows. An exception that is an instance of one of `reply_errors`
    (domain errors such as "not allowed") is not a crash: `ask` re-raises it in the asker.
    """

    __slots__ = ()  # a subclass has a __dict__ unless it declares slots of its own

    reply_errors: ClassVar[tuple[type[Exception], ...]] = ()

    batch_types: ClassVar[tuple[type, ...]] = ()
    """Messages of these types that wait next to each other in the mailbox are handled together, by
    `handle_batch` (at most `batch_limit` at once): for an actor that can apply many of them at the cost
    of one (a burst of joins into one space). The order of messages is kept: a batch is a run of
    consecutive messages, and stops at the first of another type."""

    batch_limit: ClassVar[int] = 64

    async def on_start(self, ctx: Context) -> None:  # noqa: B027 (an optional hook, empty on purpose)
        """Runs before the first message. Start background tasks in `ctx.nursery`."""

    @abc.abstractmethod
    async def handle(self, message: object, ctx: Context) -> object:
        """Handle one message. The return value is the reply to `ask`; for `tell` it is discarded."""

    async def handle_batch(self, messages: list[object], ctx: Context) -> list[object]:
        """Handle consecutive messages of `batch_types` at once. Return one result per message, in order:
        its reply, or an instance of one of `reply_errors` to refuse that message alone. By default each
        message goes through `handle` in turn. Error handling: any other exception is a crash, and every
        message of the batch is answered with it."""
        results: list[object] = []
        for message in messages:
            try:
                results.append(await self.handle(message, ctx))
            except self.reply_errors as error:
                results.append(error)
        return results

    async def on_stop(self, ctx: Context) -> None:  # noqa: B027 (an optional hook, empty on purpose)
        """Runs on an orderly stop, within the child's `shutdown_s`; never after a crash."""


class Context:
    """What one incarnation of an actor knows of its place in the runtime.

    Resource handling: tasks in `nursery` live as long as this incarnation; they are cancelled when it
    stops, and an exception in one crashes the actor like an exception in `handle`.
    """

    __slots__ = ("_incarnation", "_nursery", "_recovered", "_restarts")

    def __init__(self, incarnation: Incarnation, nursery: trio.Nursery) -> None:
        self._incarnation = incarnation
        self._nursery = nursery
        self._restarts = incarnation.child.restarts
        self._recovered = incarnation.child.stashed

    @property
    def self_ref(self) -> ActorRef:
        """This child's ref: the same object across restarts."""
        return self._incarnation.child.ref

    @property
    def nursery(self) -> trio.Nursery:
        return self._nursery

    @property
    def name(self) -> str:
        """The child id."""
        return self._incarnation.child.spec.id

    @property
    def restarts(self) -> int:
        """How many times this child was restarted before this incarnation (0 on first start)."""
        return self._restarts

    @property
    def recovered(self) -> object | None:
        """The last value the previous incarnation stashed; None on first start."""
        return self._recovered

    def stash(self, state: object) -> None:
        """Keep an immutable snapshot of the state; the next incarnation gets it as `ctx.recovered`.

        The runtime keeps the object as is: stash values that are not mutated afterwards.
        """
        self._incarnation.child.stashed = state

    def stop(self) -> None:
        """Stop this actor normally once the current message is handled (then `on_stop` runs)."""
        self._incarnation.request_stop(by_supervisor=False)
