"""Webhooks: events for back-ends, written to a durable outbox with the change they describe, signed by the
Standard Webhooks scheme and delivered in order to each configured URL (docs/operations.md, Webhooks)."""

from gateway.webhooks._config import WebhookConfig, start_senders
from gateway.webhooks._events import account_event, space_started
from gateway.webhooks._outbox import OutboxWrite, WebhookOutbox
from gateway.webhooks._send import Delivery, RetryPolicy, Sender, body_of
from gateway.webhooks._sign import key_of, signature

__all__ = [
    "Delivery",
    "OutboxWrite",
    "RetryPolicy",
    "Sender",
    "WebhookConfig",
    "WebhookOutbox",
    "account_event",
    "body_of",
    "key_of",
    "signature",
    "space_started",
    "start_senders",
]
