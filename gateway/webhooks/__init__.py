"""Webhooks: events for back-ends, written to a durable outbox with the change they describe, signed by the
Standard Webhooks scheme and delivered in order to each receiver, from the settings or registered through the
admin API (docs/operations.md, Webhooks)."""

from gateway.webhooks._config import WebhookConfig
from gateway.webhooks._events import account_event, space_started
from gateway.webhooks._outbox import OutboxWrite, WebhookOutbox
from gateway.webhooks._receivers import MAX_RECEIVERS, Receivers, url_problem
from gateway.webhooks._send import Delivery, RetryPolicy, Sender, body_of
from gateway.webhooks._sign import key_of, signature

__all__ = [
    "MAX_RECEIVERS",
    "Delivery",
    "OutboxWrite",
    "Receivers",
    "RetryPolicy",
    "Sender",
    "WebhookConfig",
    "WebhookOutbox",
    "account_event",
    "body_of",
    "key_of",
    "signature",
    "space_started",
    "url_problem",
]
