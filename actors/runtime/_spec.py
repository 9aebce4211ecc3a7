"""Supervision values in OTP's words: child specs, restart types, strategies, intensity, and the frozen
reports a supervisor gives (ChildInfo, SupervisorStatistics, RestartEvent).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from actors.runtime._actor import Actor


class Restart(enum.Enum):
    """When a supervisor restarts a child that ended (OTP's restart values)."""

    PERMANENT = "permanent"
    """Always: after a crash and after a normal end."""
    TRANSIENT = "transient"
    """Only after a crash; a normal end (`ctx.stop()`, closed mailbox) removes the child."""
    TEMPORARY = "temporary"
    """Never; the child is removed however it ends."""


class Strategy(enum.Enum):
    """Which children a supervisor restarts when one of them must be restarted."""

    ONE_FOR_ONE = "one_for_one"
    """Only that child; its siblings are not touched."""
    ONE_FOR_ALL = "one_for_all"
    """Every child: the others are stopped (reverse start order), then all start again in order."""


@dataclass(frozen=True, slots=True)
class RestartIntensity:
    """More than `max_restarts` restarts within `within_s` seconds, and the supervisor gives up: on the
    whole supervisor (its `intensity`), or on one child alone (`ChildSpec.intensity`, the child's own budget).
    """

    max_restarts: int = 3
    within_s: float = 5.0

    def __post_init__(self) -> None:
        if self.max_restarts < 0:
            raise ValueError(f"max_restarts must be >= 0, not {self.max_restarts}")
        if self.within_s <= 0:
            raise ValueError(f"within_s must be > 0, not {self.within_s}")


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How to start one child and how to treat it when it ends.

    `start` is called for every (re)start and returns a fresh actor. `shutdown_s` is the grace period of
    an orderly stop (finish the current message, then `on_stop`); after it the child is cancelled.

    `intensity` is the child's own restart budget. None (the default): its restarts count against the
    supervisor's intensity, which escalates when exceeded, as in OTP. Set: they count against this budget
    only, and a child that exceeds it is given up alone (removed, reported to `on_give_up`) while its
    siblings keep running: what a supervisor of many independent children (a server's spaces) needs.
    """

    id: str
    start: Callable[[], Actor]
    restart: Restart = Restart.PERMANENT
    mailbox_size: int = 64
    shutdown_s: float = 5.0
    intensity: RestartIntensity | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a child needs a non-empty id")
        if self.mailbox_size < 1:
            raise ValueError(f"mailbox_size must be >= 1, not {self.mailbox_size}")
        if self.shutdown_s < 0:
            raise ValueError(f"shutdown_s must be >= 0, not {self.shutdown_s}")


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """One row of `Supervisor.which_children()`."""

    id: str
    restarts: int
    alive: bool


@dataclass(frozen=True, slots=True)
class SupervisorStatistics:
    """A snapshot of a supervisor. `restarts_total` counts restart decisions (what intensity limits)."""

    name: str
    strategy: Strategy
    children: int
    alive: int
    restarts_total: int


@dataclass(frozen=True, slots=True)
class RestartEvent:
    """Reported to `on_restart` before a supervisor restarts children.

    `child_id` ended (crashed, or ended normally while PERMANENT); `restarts` is its restart count
    including this one; `reason` is the exception's repr (or "normal"), `error_type` its type name
    (None after a normal end); `restarted` lists every child restarted (all of them under ONE_FOR_ALL).
    """

    supervisor: str
    child_id: str
    restarts: int
    reason: str
    error_type: str | None
    restarted: tuple[str, ...]
