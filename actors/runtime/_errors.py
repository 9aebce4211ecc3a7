"""The runtime's error tree: one base class, `ActorError`, each subclass with a stable `code`.

The codes never change once published; a gateway maps them to wire codes (STYLE R9).
"""

from __future__ import annotations

from typing import ClassVar


class ActorError(Exception):
    """Base of every error the runtime raises on purpose."""

    code: ClassVar[str] = "actor_error"


class MailboxFull(ActorError):
    """`ActorRef.tell_nowait` found the mailbox full (like `trio.WouldBlock`): the receiver is too slow."""

    code = "mailbox_full"

    def __init__(self, name: str, capacity: int) -> None:
        super().__init__(f"the mailbox of {name!r} is full ({capacity} messages)")
        self.name = name
        self.capacity = capacity


class ActorStopped(ActorError):
    """The actor has been stopped or terminated: the message was not (or will never be) handled."""

    code = "actor_stopped"

    def __init__(self, name: str) -> None:
        super().__init__(f"actor {name!r} is stopped")
        self.name = name


class ActorCrashed(ActorError):
    """The actor crashed while handling this message, or while starting; the crash is the `__cause__`."""

    code = "actor_crashed"

    def __init__(self, name: str, during: str) -> None:
        super().__init__(f"actor {name!r} crashed {during}")
        self.name = name


class AskTimeout(ActorError, TimeoutError):
    """No reply to `ActorRef.ask` within its timeout. The message may still be handled later."""

    code = "ask_timeout"

    def __init__(self, name: str, timeout: float) -> None:
        super().__init__(f"actor {name!r} did not reply within {timeout} s")
        self.name = name
        self.timeout = timeout


class RestartIntensityExceeded(ActorError):
    """A supervisor gave up: too many restarts too quickly. The last crash is the `__cause__`."""

    code = "restart_intensity_exceeded"

    def __init__(self, supervisor: str, child_id: str, max_restarts: int, within_s: float) -> None:
        super().__init__(
            f"supervisor {supervisor!r} gave up: child {child_id!r} needed more than "
            f"{max_restarts} restarts within {within_s} s"
        )
        self.supervisor = supervisor
        self.child_id = child_id
        self.max_restarts = max_restarts
        self.within_s = within_s
