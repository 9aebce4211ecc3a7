"""What the client hands the application besides the protocol's own messages: the `Reconnected` marker on the
events queue, `RequestError` for a refused or lost request, and the unions its queues carry."""

from __future__ import annotations

from dataclasses import dataclass

import stoa_protocol as p

Notice = p.SpaceStarting | p.SpaceCancelled | p.HostReminder


class RequestError(Exception):
    def __init__(self, code: str, message: str, retry_after_ms: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms


@dataclass(frozen=True)
class Reconnected:
    """On the events queue after the client came back on a new connection while in a space.

    `resumed`: the place was kept and every missed event follows on the queue, exactly once, in order.
    Otherwise `snapshot` (with `role`) replaces the missed events; `reason` says why (`"events_gone"`,
    `"window_passed"`, or `"not_resumable"` when the space was joined again); with no snapshot the client is
    in no space any more and `reason` is the refusal's code (`"removed"`, `"space_ended"`, ...)."""

    space_id: str
    resumed: bool
    role: p.Role | None
    snapshot: p.SpaceSnapshot | None = None
    reason: str | None = None
    missed: int = 0  # how many events the resume brought


Event = p.SpaceEvent | p.Error | p.Lagging | p.RtcClosed | Reconnected
