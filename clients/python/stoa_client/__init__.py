"""The Python client of Stoa: connect, say hello, take part in spaces; reconnects and resumes by itself.

Pure Python (trio, trio-websocket, msgspec): no server, no Rust toolchain. The wire messages it sends and
receives are `stoa_protocol`'s, the definitions the server uses too.
"""

from __future__ import annotations

from stoa_client._backoff import (
    BACKOFF_FIRST_S as BACKOFF_FIRST_S,
    BACKOFF_MAX_S as BACKOFF_MAX_S,
    DRAIN_SPREAD_S as DRAIN_SPREAD_S,
    RETRY_AFTER_MAX_S as RETRY_AFTER_MAX_S,
    Backoff as Backoff,
    retry_after_s as retry_after_s,
)
from stoa_client._client import Client as Client, connect as connect, connect_account as connect_account
from stoa_client._delivered import (
    Event as Event,
    Notice as Notice,
    Reconnected as Reconnected,
    RequestError as RequestError,
)
from stoa_client._policy import RECONNECTING as RECONNECTING, should_reconnect as should_reconnect

__all__ = [
    "BACKOFF_FIRST_S",
    "BACKOFF_MAX_S",
    "DRAIN_SPREAD_S",
    "RETRY_AFTER_MAX_S",
    "RECONNECTING",
    "Backoff",
    "Client",
    "Event",
    "Notice",
    "Reconnected",
    "RequestError",
    "connect",
    "connect_account",
    "retry_after_s",
    "should_reconnect",
]
