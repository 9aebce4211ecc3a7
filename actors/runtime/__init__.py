"""Stoa's embeddable actor runtime: actors with bounded mailboxes under OTP-style supervisors, on Trio.

It imports only trio and the standard library and knows nothing of Stoa; any Trio program can embed it.
The implementation lives in private `_modules`; this module is the public API (see docs/runtime.md).
"""

from actors.runtime._actor import Actor, Context
from actors.runtime._errors import (
    ActorCrashed,
    ActorError,
    ActorStopped,
    AskTimeout,
    MailboxFull,
    RestartIntensityExceeded,
)
from actors.runtime._mailbox import MailboxStatistics
from actors.runtime._ref import ActorRef
from actors.runtime._registry import Registry
from actors.runtime._spec import (
    ChildInfo,
    ChildSpec,
    Restart,
    RestartEvent,
    RestartIntensity,
    Strategy,
    SupervisorStatistics,
)
from actors.runtime._supervisor import Supervisor, open_supervisor

__all__ = [
    "Actor",
    "ActorCrashed",
    "ActorError",
    "ActorRef",
    "ActorStopped",
    "AskTimeout",
    "ChildInfo",
    "ChildSpec",
    "Context",
    "MailboxFull",
    "MailboxStatistics",
    "Registry",
    "Restart",
    "RestartEvent",
    "RestartIntensity",
    "RestartIntensityExceeded",
    "Strategy",
    "Supervisor",
    "SupervisorStatistics",
    "open_supervisor",
]
