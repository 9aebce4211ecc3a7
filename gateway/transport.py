"""Transports: how connections are accepted, and who writes their bytes.

- `rust` (the default): the Rust `mixer.Fanout` owns every byte written to every client socket. Trio
  reads the socket and trio-websocket parses it; trio-websocket's own writes (the handshake response,
  pongs, close frames) go through `FanoutStream.send_all` into the same per-connection queue as the
  server's messages, so nothing ever interleaves inside a frame and order is kept.
- `python`: trio-websocket writes everything, one `send_message` per listener per message, drained
  from a Python Outbox per connection (`PyFanout`). The baseline the Rust path is measured against.

Each transport calls `on_connection(request, conn, outbox)` for every accepted WebSocket handshake.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable

import trio
from trio_websocket import WebSocketRequest, WebSocketServer, wrap_server_stream

from gateway.errors import contained
from gateway.outbox import Outbox
from gateway.pyfanout import PyFanout
from mixer import Fanout

log = logging.getLogger("gateway")

Handler = Callable[[WebSocketRequest, int, "Outbox | None", "FanoutStream | None"], Awaitable[None]]

HANDSHAKE_TIMEOUT_S = 10.0
USER_TIMEOUT_MS = 10_000
RELEASE_POLL_S = 0.01  # the writer releases a closed connection within its 2 s flush grace


class FanoutStream(trio.abc.Stream):
    """A TCP stream whose reads are Trio's and whose writes are queued in the Rust fan-out."""

    def __init__(self, stream: trio.SocketStream, fanout: Fanout, conn: int) -> None:
        self._stream = stream
        self._fanout = fanout
        self.conn = conn
        # For the gateway's keepalive: when bytes last arrived, and when it last pinged (Trio's clock).
        self.last_received = trio.current_time()
        self.pinged_at: float | None = None

    @property
    def peer_address(self) -> str:
        """The client's IP address (trio-websocket sees only this wrapper, not the socket under it)."""
        try:
            return str(self._stream.socket.getpeername()[0])
        except OSError:  # the peer is already gone
            return ""

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()
        if not self._fanout.send_raw(self.conn, bytes(data)):
            raise trio.BrokenResourceError("the connection's send queue is closed")

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self._stream.receive_some(max_bytes)
        self.last_received = trio.current_time()
        return data

    async def aclose(self) -> None:
        """Let the fan-out flush what is queued (a close frame, say) and shut the socket for writing, then
        close it. The descriptor is shared with the fan-out's writer (registered with `borrow=True`, so a
        client costs one descriptor, not two), so it must not close while the writer may still use it:
        a reused descriptor would receive someone else's bytes."""
        self._fanout.close(self.conn)
        with trio.CancelScope(shield=True):
            while not self._fanout.released(self.conn):  # noqa: ASYNC110 (the state is the Rust writer's)
                await trio.sleep(RELEASE_POLL_S)
            await self._stream.aclose()


async def serve_rust(
    fanout: Fanout,
    host: str,
    port: int,
    on_connection: Handler,
    max_message_size: int,
    *,
    sndbuf: int | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    listeners = await trio.open_tcp_listeners(port, host=host)

    async def handle(stream: trio.SocketStream) -> None:
        if sndbuf:
            # A small kernel buffer bounds how much audio can wait in the kernel for a slow reader.
            stream.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        # Data unacknowledged for this long fails the writes: a dead peer is found while we send to it.
        stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, USER_TIMEOUT_MS)
        conn = fanout.register(stream.socket.fileno(), borrow=True)
        fanout_stream = FanoutStream(stream, fanout, conn)
        # From here on the descriptor is shared with the writer thread. Every way out (a handshake
        # that times out, fails or is cancelled, a session that ends or raises) goes through this
        # `finally`, whose `aclose` waits, shielded, until the writer has released the descriptor:
        # only then may Trio close it, so its number is never reused while the writer could still
        # send into it.
        try:
            async with trio.open_nursery() as nursery:
                try:
                    with trio.move_on_after(HANDSHAKE_TIMEOUT_S) as handshake:
                        request = await wrap_server_stream(
                            nursery, fanout_stream, message_queue_size=1, max_message_size=max_message_size
                        )
                    if not handshake.cancelled_caught:
                        await on_connection(request, conn, None, fanout_stream)
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            await fanout_stream.aclose()

    bound = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, contained(log, handle), listeners)
        task_status.started(bound)


async def serve_python(
    fanout: PyFanout,
    host: str,
    port: int,
    on_connection: Handler,
    max_message_size: int,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    async def handle(request: WebSocketRequest) -> None:
        conn, outbox = fanout.register_outbox()
        try:
            await on_connection(request, conn, outbox, None)
        finally:
            fanout.close(conn)

    listeners = await trio.open_tcp_listeners(port, host=host)
    server = WebSocketServer(contained(log, handle), listeners, max_message_size=max_message_size)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        task_status.started(server.port)
