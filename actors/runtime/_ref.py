"""ActorRef: the address of one supervised child, used to tell and ask it.

A ref is made once per child and stays valid across its restarts, because the mailbox it writes to
belongs to the child, not to one incarnation. Refs compare and hash by identity.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import trio

from actors.runtime._errors import AskTimeout
from actors.runtime._mailbox import Envelope, MailboxStatistics, Reply

if TYPE_CHECKING:
    from actors.runtime._child import Child


class ActorRef:
    """Send messages to one child: `tell` (fire and forget, with backpressure) or `ask` (wait for a reply).

    Error handling: `ActorStopped` once the child is stopped or terminated; `MailboxFull` from
    `tell_nowait`; `ask` adds `AskTimeout`, `ActorCrashed` and the actor's own `reply_errors`.
    """

    __slots__ = ("_child", "_mailbox", "_name")

    def __init__(self, child: Child) -> None:
        self._child = child
        self._name = child.spec.id
        self._mailbox = child.mailbox

    @property
    def name(self) -> str:
        return self._name

    @property
    def alive(self) -> bool:
        """True while an incarnation is running (False while the child restarts and once it is stopped)."""
        return self._child.alive

    def __repr__(self) -> str:
        return f"<ActorRef {self._name!r} {'alive' if self.alive else 'not alive'}>"

    async def tell(self, message: object) -> None:
        """Queue `message`, waiting while the mailbox is full. Raises `ActorStopped`."""
        await self._mailbox.put(Envelope(message))

    def tell_nowait(self, message: object) -> None:
        """Queue `message` now. Raises `MailboxFull` when the mailbox is full, `ActorStopped`."""
        self._mailbox.put_nowait(Envelope(message))

    async def ask(self, message: object, *, timeout: float = 5.0) -> object:  # noqa: ASYNC109 (the API)
        """Queue `message` and wait for the reply: the return value of the actor's `handle`.

        `timeout` is a convenience of the client API, a cancel scope inside. It covers both waiting
        for room in the mailbox and waiting for the reply; after it,
        `AskTimeout` (a `TimeoutError`). If the actor crashes while handling this message,
        `ActorCrashed` with the crash as `__cause__`; a `reply_errors` exception is re-raised as is;
        `ActorStopped` when the child is stopped before it replies.
        """
        if math.isnan(timeout) or timeout < 0:
            raise ValueError(f"timeout must be >= 0, not {timeout}")
        reply = Reply()
        with trio.move_on_after(timeout):
            await self._mailbox.put(Envelope(message, reply))
            return await reply.wait(self._name)
        raise AskTimeout(self._name, timeout)

    def close_mailbox(self) -> None:
        """Accept no more messages: the actor handles what is queued, then ends normally.

        A PERMANENT child is then restarted with its mailbox open again; others are removed.
        """
        self._mailbox.close()

    def statistics(self) -> MailboxStatistics:
        """A snapshot of the mailbox (capacity, queued, senders waiting, closed)."""
        return self._mailbox.statistics()
