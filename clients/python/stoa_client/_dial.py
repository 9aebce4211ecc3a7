"""Opening one WebSocket connection so that its failures reach the caller, and only the caller.

trio-websocket's `connect_websocket_url` starts the connection's reader task in the nursery it is given, and a
refused handshake (`ConnectionRejected`: the HTTP status, headers and body) is raised in that task. In the
client's own nursery, a server's 503 or 429 would end the whole client. Here each connection's reader runs in
a nursery of its own, inside the client's; a refusal ends that nursery and is raised to the caller as itself.
"""

from __future__ import annotations

from functools import partial

import trio
from trio_websocket import WebSocketConnection, connect_websocket_url


async def dial(nursery: trio.Nursery, url: str, max_message_size: int) -> WebSocketConnection:
    """Open a connection to `url` whose tasks live in `nursery` until it ends.

    Error handling: what opening it raises (OSError, `ConnectionRejected`, `HandshakeError`) is raised here, not
    in `nursery`. Bound the wait with `trio.fail_after`."""
    try:
        ws: WebSocketConnection = await nursery.start(partial(_hold, url, max_message_size))
    except ExceptionGroup as group:
        raise first_leaf(group) from None
    return ws


async def _hold(
    url: str, max_message_size: int, *, task_status: trio.TaskStatus[WebSocketConnection] = trio.TASK_STATUS_IGNORED
) -> None:
    async with trio.open_nursery() as own:  # the reader task's, until the connection ends
        task_status.started(await connect_websocket_url(own, url, max_message_size=max_message_size))


def first_leaf(group: ExceptionGroup[Exception]) -> Exception:
    first = group.exceptions[0]
    return first_leaf(first) if isinstance(first, ExceptionGroup) else first
