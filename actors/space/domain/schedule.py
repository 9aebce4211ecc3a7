"""The rules of a scheduled space: only its host cancels or starts it, and only while it waits to start.
Pure checks over the scheduled space's facts (the store keeps them; the gateway asks these)."""

from __future__ import annotations

from actors.space import errors


def check_host(host: int, caller: int, does: str) -> None:
    """`caller` (an account id) may act on a scheduled space of `host` only if it is that host."""
    if host != caller:
        raise errors.NotAllowed(f"only the host {does} a scheduled space")


def check_pending(scheduled_id: int, cancelled_at: int | None, started_space_id: str | None) -> None:
    """A scheduled space starts once, and never after it was cancelled."""
    if cancelled_at is not None:
        raise errors.ScheduledSpaceOver(f"scheduled space {scheduled_id} was cancelled")
    if started_space_id is not None:
        raise errors.ScheduledSpaceOver(f"scheduled space {scheduled_id} has started")
