"""The gateway's side of the webhook outbox: which rows go with which write, and waking the senders.

"In the same transaction as the change": a space's commit (`SpaceActor._persist`) first stages its webhook
events here (`stage`), then makes its writes; the first write of that commit that the store keeps (a post, a
removal, the space's end, its creation) takes the staged rows into its own transaction (`take`). A commit that
writes nothing else (a join, a leave, a role change, a raised hand: the store keeps none of them, they live in
the space's memory; a listener's join or leave is staged by its own commit, never by the `audience_changed` that
tells it later, netted) writes its rows in a transaction of their own, before anyone is told of the change
(`SqliteSpaceStore.flush_events`): the outbox row is then the only durable record of it. The end of a space
writes `space.ended` and `space.summary` in the transaction that marks it ended.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence

import msgspec
import trio

import store
from actors.space import NO_CHURN, Churn, SpaceEvent, SpaceState
from gateway.webhooks import _events

log = logging.getLogger("gateway.webhooks")

OutboxWrite = Callable[[sqlite3.Connection], None]


class WebhookOutbox:
    """Staged rows per space, the outbox's bound, and an event the senders wait on."""

    def __init__(self, db: store.Database, enabled: bool, max_events: int) -> None:
        self.db = db
        self.enabled = enabled
        """Whether events are written: while any receiver exists, or `webhooks.record` is on (`Receivers` sets it)."""
        self.max_events = max_events
        self.dropped = 0
        """Events not written because the outbox was full (`stoa_webhook_events_dropped_total`)."""
        self._reported = 0
        self._staged: dict[str, list[store.NewWebhookEvent]] = {}
        self._new = trio.Event()

    def stage(
        self, before: SpaceState, after: SpaceState, events: Sequence[SpaceEvent], churn: Churn = NO_CHURN
    ) -> None:
        if self.enabled and (events or churn.arrived or churn.departed):
            rows = _events.from_space(before, after, list(events), churn)
            if rows:
                self._staged.setdefault(after.space_id, []).extend(rows)

    def take(
        self, space_id: str, extra: Sequence[store.NewWebhookEvent] = (), *, ended_at: int | None = None
    ) -> OutboxWrite | None:
        """The writes for the transaction of this space's next stored change (None: nothing to write). With
        `ended_at`, the space's summary is made from its rows and written too."""
        if not self.enabled:
            return None
        rows = [*extra, *self._staged.pop(space_id, [])]
        if not rows and ended_at is None:
            return None
        now = self.db.now_ms()

        def write(conn: sqlite3.Connection) -> None:
            self.dropped += store.append_webhook_events(conn, rows, now, self.max_events)
            if ended_at is not None:
                events = store.space_webhook_events(conn, space_id)
                started = next((e.data for e in events if e.type == "space.started"), None)
                # Without its start in the outbox (trimmed, or older than the outbox): from its first event kept.
                if started is not None:
                    created = int(msgspec.json.decode(started)["at"])
                else:
                    created = events[0].created_at if events else ended_at
                row = _events.summary(space_id, created, ended_at, events)
                self.dropped += store.append_webhook_events(conn, [row], now, self.max_events)

        return write

    async def flush(self, space_id: str) -> None:
        """Write what no stored change of this commit took, in its own transaction."""
        rows = self._staged.pop(space_id, [])
        if rows:
            self.dropped += await store.add_webhook_events(self.db, rows, self.max_events)
            self.notify()

    def notify(self) -> None:
        """New rows are committed: wake the senders (and say if the outbox was full)."""
        if self.dropped > self._reported:
            log.warning("webhook outbox full: %d events dropped", self.dropped - self._reported)
            self._reported = self.dropped
        self._new.set()
        self._new = trio.Event()

    async def wait_new(self, timeout_s: float) -> None:
        with trio.move_on_after(timeout_s):
            await self._new.wait()
