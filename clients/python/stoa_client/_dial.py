"""Opening one WebSocket connection so that its failures reach the caller, and only the caller.

trio-websocket's `connect_websocket_url` starts the connection's reader task in the nursery it is given, and a
refused handshake (`ConnectionRejected`: the HTTP status, headers and body) is raised in that task. In the
client's own nursery, a server's 503 or 429 would end the whole client. Here each connection's reader runs in
a nursery of its own, inside the client's; a refusal ends that nursery and is raised to the caller as itself.

A server that closes the connection before it answers the upgrade (one stopping at that moment, a proxy
giving up) is a failure too: trio-websocket (0.12) ends its reader quietly then and leaves the handshake
waiting for ever, so a reconnection would wait out its whole timeout; so does a reset, or a TLS failure.
`_Answered` raises `HandshakeError` in the reader instead while the answer's head has not all come (decided
from the bytes themselves, not after the fact), and it reaches the caller as a refusal does.
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
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # an IPv6 literal, bracketed
    host = name if parts.port is None else f"{name}:{port}"  # the URL's own, for the Host header
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    tcp: trio.abc.Stream = await trio.open_tcp_stream(parts.hostname, port)
    stream = _Answered(tcp)
    try:
        if secure:
            tls = trio.SSLStream(
                tcp, ssl.create_default_context(), server_hostname=parts.hostname, https_compatible=True
            )
            stream = _Answered(tls)
        async with trio.open_nursery() as own:  # the reader task's, until the connection ends
            # (typed for trio's own streams; it uses only the Stream interface)
            as_socket = cast(trio.SocketStream, stream)
            task_status.started(
                await wrap_client_stream(own, as_socket, host, resource, max_message_size=max_message_size)
            )
    finally:
        # Ours to close: trio-websocket does not close it after a close the server began, nor after a failure.
        await trio.aclose_forcefully(stream)


ANSWER_END = b"\r\n\r\n"
"""The end of the server's answer to the upgrade (its status line and headers)."""


class _Answered(trio.abc.Stream):
    """A stream that fails (`HandshakeError`) when it ends or breaks before the server's whole answer to the
    upgrade came, instead of ending quietly as trio-websocket would wait on for ever; once the answer's head
    has come (a refusal's body may then end with the connection), it ends and breaks as usual."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.answered = False
        self._head = b""  # what came of the answer so far, until its end

    def _failed(self, what: str) -> HandshakeError:
        return HandshakeError(f"the connection {what} before the server answered the upgrade")

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        try:
            data = bytes(await self.inner.receive_some(max_bytes))
        except trio.BrokenResourceError as broken:  # a reset, a TLS failure
            if self.answered:
                raise
            raise self._failed("broke") from broken
        if not self.answered:
            if not data:
                raise self._failed("closed")
            self._head = self._head[-(len(ANSWER_END) - 1) :] + data
            self.answered = ANSWER_END in self._head
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        try:
            await self.inner.send_all(data)
        except trio.BrokenResourceError as broken:
            if self.answered:
                raise
            raise self._failed("broke") from broken

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self.inner.aclose()


def first_leaf(group: ExceptionGroup[Exception]) -> Exception:
    first = group.exceptions[0]
    return first_leaf(first) if isinstance(first, ExceptionGroup) else first
