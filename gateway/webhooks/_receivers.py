"""The receivers the outbox is delivered to, and one sender each, while the server runs.

Two kinds: the URLs of the settings (`webhooks.urls`, signed with `webhooks.secret`, cursors keyed by URL) and
the receivers registered through the admin API (kept in the store, each with its own secret made here and
shown once, cursors keyed `receiver:<id>`). A registered receiver gets the events committed after its
registration; one removed stops at once (its sender is cancelled, and has ended, before its cursor goes, so no
late cursor write brings it back to hold the outbox's bound).

The outbox is written while any receiver exists (or `webhooks.record` is on): registering the first receiver
turns it on, removing the last registered one turns it back to what the settings say.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

import trio

import store
from gateway.webhooks._config import WebhookConfig
from gateway.webhooks._outbox import WebhookOutbox
from gateway.webhooks._send import Sender
from gateway.webhooks._sign import PREFIX, key_of

MAX_RECEIVERS = 20
"""Receivers registered through the admin API, at most (`limit_reached` beyond)."""
MAX_URL_CHARS = 2048
_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")
SECRET_BYTES = 32


@dataclass
class _Running:
    sender: Sender
    scope: trio.CancelScope
    done: trio.Event
    receiver: store.WebhookReceiver | None


URL_RULE = f"an http:// or https:// URL with a host, at most {MAX_URL_CHARS} characters, no space or control character"


def url_problem(url: str) -> str | None:
    """What is wrong with `url` as a receiver's address (`URL_RULE`), None if nothing: the admin API's and the
    settings' one check. A space or a control character (a NUL among them) is no part of a URL a sender could
    request, and would reach httpx or the logs as it came."""
    parts = urlsplit(url)
    well_formed = parts.scheme in ("http", "https") and parts.hostname and not _SPACE_OR_CONTROL.search(url)
    return None if well_formed and len(url) <= MAX_URL_CHARS else f"must be {URL_RULE}"


def check_url(url: str) -> None:
    """`store.BadArgument` unless `url` is a receiver's address (`url_problem`)."""
    if url_problem(url) is not None:
        raise store.BadArgument("url", URL_RULE)


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class Receivers:
    """Every receiver's sender. `load` before the spaces come back (it says whether the outbox is written);
    `run` in the server's nursery; then `add`, `remove` and `list` serve the admin API."""

    def __init__(self, outbox: WebhookOutbox, config: WebhookConfig) -> None:
        self._outbox = outbox
        self._config = config
        self._registered: list[store.WebhookReceiver] = []
        self._running: dict[str, _Running] = {}  # by cursor key
        self._nursery: trio.Nursery | None = None

    async def load(self) -> None:
        """Read the registered receivers; the outbox is written if there are any."""
        self._registered = await store.webhook_receivers(self._outbox.db)
        self._outbox.enabled = self._config.enabled or bool(self._registered)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start a sender per receiver; run until cancelled."""
        if self._outbox.enabled:
            await store.set_webhook_receivers(self._outbox.db, self._config.urls)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            key = key_of(self._config.secret or "")
            for url in self._config.urls:
                self._start(Sender(self._outbox, url, key, self._config.retry), None)
            for receiver in self._registered:
                self._start(self._sender_of(receiver), receiver)
            task_status.started()
            await trio.sleep_forever()

    def backlog(self) -> int:
        """Events waiting, summed over the receivers (`stoa_webhook_backlog`)."""
        return sum(running.sender.backlog for running in self._running.values())

    async def add(self, url: str) -> tuple[store.WebhookReceiver, int]:
        """Register `url` with a new secret and start delivering to it; return it and the id it starts after."""
        check_url(url)
        receiver, after = await store.add_webhook_receiver(self._outbox.db, url, new_secret(), MAX_RECEIVERS)
        self._registered.append(receiver)
        self._outbox.enabled = True
        self._start(self._sender_of(receiver), receiver)
        return receiver, after

    async def remove(self, receiver_id: int) -> bool:
        """Stop delivering to a registered receiver and forget it; False when there is none with that id."""
        known = next((r for r in self._registered if r.id == receiver_id), None)
        running = None if known is None else self._running.pop(known.key, None)
        if running is not None:
            running.scope.cancel()
            await running.done.wait()
        gone = await store.remove_webhook_receiver(self._outbox.db, receiver_id)
        self._registered = [r for r in self._registered if r.id != receiver_id]
        self._outbox.enabled = self._config.enabled or bool(self._registered)
        return gone

    def list(self) -> list[tuple[store.WebhookReceiver | None, Sender]]:
        """Each receiver (None for a URL of the settings) with its sender: the settings' first, then the
        registered ones, oldest first."""
        return [(running.receiver, running.sender) for running in self._running.values()]

    def _sender_of(self, receiver: store.WebhookReceiver) -> Sender:
        return Sender(self._outbox, receiver.url, key_of(receiver.secret), self._config.retry, receiver.key)

    def _start(self, sender: Sender, receiver: store.WebhookReceiver | None) -> None:
        assert self._nursery is not None, "Receivers.run has not started"
        running = _Running(sender, trio.CancelScope(), trio.Event(), receiver)
        self._running[sender.name] = running
        self._nursery.start_soon(self._run_one, running)

    @staticmethod
    async def _run_one(running: _Running) -> None:
        try:
            with running.scope:  # (cancelled before it is entered: cancelled at once)
                await running.sender.run()
        finally:
            running.done.set()
