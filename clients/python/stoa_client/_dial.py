"""Opening one WebSocket connection so that its failures reach the caller, and only the caller.

trio-websocket's `connect_websocket_url` starts the connection's reader task in the nursery it is given, and a
refused handshake (`ConnectionRejected`: the HTTP status, headers and body) is raised in that task. In the
client's own nursery, a server's 503 or 429 would end the whole client. Here each connection's reader runs in
a nursery of its own, inside the client's; a refusal ends that nursery and is raised to the caller as itself.

A server that closes the connection before it answers the upgrade (one stopping at that moment, a proxy
giving up) is a failure too: trio-websocket (0.12) ends its reader quietly then and leaves the handshake
waiting for ever, so a reconnection would wait out its whole timeout. `_Answered` raises `HandshakeError`
in the reader instead, and it reaches the caller as a refusal does.
"""

from __future__ import annotations

import ssl
import urllib.parse
from functools import partial
from typing import cast

import trio
from trio_websocket import HandshakeError, WebSocketConnection, wrap_client_stream


async def dial(nursery: trio.Nursery, url: str, max_message_size: int) -> WebSocketConnection:
    """Open a connection to `url` (ws: or wss:) whose tasks live in `nursery` until it ends.

    Error handling: what opening it raises (OSError, `ConnectionRejected`, `HandshakeError`, also for a
    connection closed before the server answered) is raised here, not in `nursery`. Bound the wait with
    `trio.fail_after`."""
    try:
        ws: WebSocketConnection = await nursery.start(partial(_hold, url, max_message_size))
    except ExceptionGroup as group:
        raise first_leaf(group) from None
    return ws


async def _hold(
    url: str, max_message_size: int, *, task_status: trio.TaskStatus[WebSocketConnection] = trio.TASK_STATUS_IGNORED
) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a WebSocket URL: {url!r}")
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    tcp: trio.abc.Stream = await trio.open_tcp_stream(parts.hostname, port)
    if secure:
        tcp = trio.SSLStream(tcp, ssl.create_default_context(), server_hostname=parts.hostname, https_compatible=True)
    stream = _Answered(tcp)
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{port}"  # as trio-websocket sends it
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        async with trio.open_nursery() as own:  # the reader task's, until the connection ends
            # (typed for trio's own streams; it uses only the Stream interface)
            as_socket = cast(trio.SocketStream, stream)
            ws = await wrap_client_stream(own, as_socket, host, resource, max_message_size=max_message_size)
            stream.answered = True
            task_status.started(ws)
    except BaseException:
        await trio.aclose_forcefully(stream)  # (a connection that ended has closed it already: no harm)
        raise


class _Answered(trio.abc.Stream):
    """A stream whose end before the server's answer to the upgrade is an error (`HandshakeError`), not the
    quiet end trio-websocket would wait on for ever; once `answered`, an end is the connection's usual end."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.answered = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        data = await self.inner.receive_some(max_bytes)
        if not data and not self.answered:
            raise HandshakeError("the server closed the connection without answering the upgrade")
        return bytes(data)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self.inner.aclose()


def first_leaf(group: ExceptionGroup[Exception]) -> Exception:
    first = group.exceptions[0]
    return first_leaf(first) if isinstance(first, ExceptionGroup) else first
