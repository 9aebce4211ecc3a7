"""Delivering the outbox to one receiver URL, in order, at least once.

One task per URL reads the outbox from that URL's cursor and POSTs each event, one at a time: the next is sent
only once the last was acknowledged (any 2xx), so every space's events arrive in order (and so do all of
them: one slow receiver holds back its own queue, never another URL's). A failure (no connection, a timeout,
any other status) is retried with exponential backoff and full jitter (`retry_initial_s` doubling up to
`retry_max_s`, each wait a random fraction of 50-100% of that), forever: the event stays first in line.

The cursor is moved in the store after each acknowledgement: a server killed between a receiver's 2xx and that
write sends the event again after its restart, with the same `webhook-id` (receivers drop ids they have seen,
as Standard Webhooks asks).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec
import trio

import store
from gateway.webhooks import _sign
from gateway.webhooks._outbox import WebhookOutbox

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("gateway.webhooks")

BATCH = 100
TIMEOUT_S = 10.0
POLL_S = 1.0


@dataclass(frozen=True)
class RetryPolicy:
    initial_s: float = 0.5
    max_s: float = 30.0

    def wait_s(self, attempt: int) -> float:
        return float(min(self.max_s, self.initial_s * 2.0**attempt) * random.uniform(0.5, 1.0))  # noqa: S311 (jitter)


class Delivery(msgspec.Struct, frozen=True):
    """The body of every webhook request."""

    id: int
    type: str
    space_id: str | None
    space_seq: int | None
    timestamp: int
    """Unix milliseconds, when the event was written."""
    data: msgspec.Raw


def body_of(event: store.WebhookEvent) -> bytes:
    raw = msgspec.Raw(event.data.encode())
    return msgspec.json.encode(Delivery(event.id, event.type, event.space_id, event.space_seq, event.created_at, raw))


def message_id(event: store.WebhookEvent) -> str:
    return f"msg_{event.id}"


class Sender:
    """Sends the outbox to `url`; `run` until cancelled. Its cursor is kept in the store under `name` (the URL for
    a receiver of the settings, `receiver:<id>` for a registered one)."""

    def __init__(
        self, outbox: WebhookOutbox, url: str, key: bytes, retry: RetryPolicy, name: str | None = None
    ) -> None:
        self.outbox = outbox
        self.url = url
        self.name = name or url
        self.key = key
        self.retry = retry
        self.delivered = 0
        self.failures = 0
        self.backlog = 0
        """Events waiting for this URL (counted when a batch is read and after each failed attempt, then one less
        per delivery)."""
        self.cursor = 0
        """The last event id it acknowledged."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        import httpx  # here, not at the top: a server with no receiver never pays for importing it (make run)

        db = self.outbox.db
        self.cursor = await store.webhook_cursor(db, self.name)
        async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as client:
            task_status.started()
            while True:
                batch = await store.webhook_events_after(db, self.cursor, BATCH)
                if not batch:
                    self.backlog = 0
                    await self.outbox.wait_new(POLL_S)
                    continue
                self.backlog = await store.webhook_backlog(db, self.name)
                for event in batch:
                    await self._deliver(client, event)
                    await store.set_webhook_cursor(db, self.name, event.id)
                    self.cursor = event.id
                    self.backlog = max(0, self.backlog - 1)

    async def _deliver(self, client: httpx.AsyncClient, event: store.WebhookEvent) -> None:
        import httpx  # (imported by `run` already)

        body = body_of(event)
        attempt = 0
        while True:
            timestamp = int(time.time())
            headers = _sign.headers(self.key, message_id(event), timestamp, body)
            try:
                response = await client.post(self.url, content=body, headers=headers)
                if 200 <= response.status_code < 300:
                    self.delivered += 1
                    return
                why = f"HTTP {response.status_code}"
            except httpx.HTTPError as error:
                why = type(error).__name__
            self.failures += 1
            self.backlog = await store.webhook_backlog(self.outbox.db, self.name)  # it grows while this one waits
            wait = self.retry.wait_s(attempt)
            if attempt == 0 or attempt % 10 == 0:
                log.warning("webhook to %s failed (%s): event %d retried in %.1f s", self.url, why, event.id, wait)
            attempt += 1
            await trio.sleep(wait)
