"""Structured logs under Trio: each task's bound context is its own (inherited as a copy by the tasks it starts),
lines of the standard library's logging carry it too, and `detached` keeps a long-lived task started from a
connection's request from logging as that connection."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
import trio
import trio.testing
from structlog.contextvars import get_contextvars

from gateway import logs


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved, processing = (root.handlers[:], root.level), structlog.get_config()
    logs.configure("INFO", "json", stream)
    try:
        yield stream
    finally:
        # structlog's configuration too: left as `configure` made it, later tests' records would carry their
        # exception in the message instead of `exc_info` (test_containment's incidents).
        structlog.configure(**processing)
        root.handlers[:], level = saved
        root.setLevel(level)


def read(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_each_task_logs_with_its_own_context(lines: io.StringIO) -> None:
    log = logs.get_logger("gateway")

    async def connection(conn: int, user: str, told: trio.Event, go: trio.Event) -> None:
        logs.bind(conn=conn)
        await go.wait()  # both have bound before either binds more
        logs.bind(user=user)
        log.info("signed in")
        logging.getLogger("actors.space").info("from the standard library")
        told.set()

    go = trio.Event()
    async with trio.open_nursery() as nursery:
        done = [trio.Event(), trio.Event()]
        nursery.start_soon(connection, 1, "u1", done[0], go)
        nursery.start_soon(connection, 2, "u2", done[1], go)
        await trio.testing.wait_all_tasks_blocked()
        go.set()
    found = read(lines)
    assert len(found) == 4
    for line in found:
        assert line["user"] == f"u{line['conn']}", line
    assert {line["event"] for line in found} == {"signed in", "from the standard library"}
    assert "conn" not in get_contextvars(), "the parent task bound nothing"


async def test_a_task_started_detached_does_not_log_as_its_starter(lines: io.StringIO) -> None:
    log = logs.get_logger("gateway")

    async def space() -> None:
        log.info("space started")

    logs.bind(conn=7)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(space)  # the control: started from the connection, it inherits conn 7
            await trio.testing.wait_all_tasks_blocked()
            with logs.detached():
                nursery.start_soon(space)
            await trio.testing.wait_all_tasks_blocked()
            log.info("still the connection's")
    finally:
        logs.unbind("conn")
    inherited, detached, after = read(lines)
    assert inherited["conn"] == 7
    assert "conn" not in detached
    assert after["conn"] == 7 and after["event"] == "still the connection's"
