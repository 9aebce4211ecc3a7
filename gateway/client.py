"""The Python client, as the tests, the load harness and the benchmarks import it: `stoa_client` (the
pure-Python package in `clients/python/`, installable on its own as `stoa-client`), re-exported."""

from __future__ import annotations

from stoa_client import (
    Backoff as Backoff,
    Client as Client,
    Notice as Notice,
    Reconnected as Reconnected,
    RequestError as RequestError,
    connect as connect,
    connect_account as connect_account,
)
