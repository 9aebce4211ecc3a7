"""The webhook settings the server runs with (`webhooks.*`, docs/operations.md)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.webhooks._send import RetryPolicy


@dataclass(frozen=True)
class WebhookConfig:
    urls: tuple[str, ...] = ()
    secret: str | None = None
    record: bool = False
    """Write the outbox even with no receiver (for `GET /admin/events`)."""
    max_events: int = 100_000
    retry: RetryPolicy = RetryPolicy()

    @property
    def enabled(self) -> bool:
        """Whether the settings alone have the outbox written (registered receivers turn it on too)."""
        return bool(self.urls) or self.record
