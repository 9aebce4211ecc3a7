"""`served`: a real `stoa serve` of the web client, one frame a message (the browser tests' pages). And the
browser tests' event loop: Playwright's sync API runs an asyncio loop of its own, made by the asyncio
policy in force. trio-asyncio (which the WebRTC code imports, so any test importing the server brings it in)
replaces the policy with its own, whose loops are trio-asyncio's synchronous ones that Playwright cannot run
(`You can't nest calls to run_until_complete()`). Each browser test module runs with asyncio's own policy, and
puts back what it found."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, start_server, stop_server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServerProcess]:
    server = start_server(tmp_path / "data", "--frames-per-message", "1")
    try:
        yield server
    finally:
        assert stop_server(server) == 0


@pytest.fixture(scope="module", autouse=True)
def asyncio_own_policy() -> Iterator[None]:
    if "trio_asyncio" not in sys.modules:
        yield
        return
    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    try:
        yield
    finally:
        asyncio.set_event_loop_policy(None)  # trio-asyncio's again (its setter keeps a per-thread override)
