"""The webhook settings the server runs with, and starting one sender per URL."""

from __future__ import annotations

from dataclasses import dataclass

import trio

import store
from gateway.webhooks._outbox import WebhookOutbox
from gateway.webhooks._send import RetryPolicy, Sender
from gateway.webhooks._sign import key_of


@dataclass(frozen=True)
class WebhookConfig:
    urls: tuple[str, ...] = ()
    secret: str | None = None
    record: bool = False
    """Write the outbox even with no URL (for `GET /admin/events`)."""
    max_events: int = 100_000
    retry: RetryPolicy = RetryPolicy()

    @property
    def enabled(self) -> bool:
        return bool(self.urls) or self.record


async def start_senders(nursery: trio.Nursery, outbox: WebhookOutbox, config: WebhookConfig) -> list[Sender]:
    """One sender per URL, in `nursery` (each reads its cursor before this returns)."""
    if outbox.enabled:
        await store.set_webhook_receivers(outbox.db, config.urls)
    key = key_of(config.secret or "")
    senders = [Sender(outbox, url, key, config.retry) for url in config.urls]
    for sender in senders:
        await nursery.start(sender.run)
    return senders
