"""A TCP proxy for tests: real sockets on 127.0.0.1 between clients and a server, that can break the
connections going through it the two ways networks do.

- `cut()`: every connection through it ends at once with a reset, on both sides (a network that fails
  loudly: both ends see the connection break, with no WebSocket close frame).
- `blackhole()`: the connections stay open but nothing gets through any more, either way (a network that
  fails silently: a sleeping laptop, a dead Wi-Fi); the bytes are read and thrown away, so neither end
  sees its writes block.

New connections after either pass through as usual. `hold()` makes new connections wait, accepted but not yet
passed on, until `release()` (a slow network: the client's handshake arrives late).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

import trio

CHUNK = 65536


@dataclass
class Pipe:
    client: trio.SocketStream
    server: trio.SocketStream
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    silent: bool = False  # blackholed: bytes are dropped


class Proxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.pipes: list[Pipe] = []
        self.accepted = 0
        self.accepted_at: list[float] = []  # trio.current_time() of each connection accepted
        self._held: trio.Event | None = None

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self.port)
        await trio.serve_listeners(self._serve, listeners)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def cut(self) -> int:
        """Reset every open connection through the proxy (both sides); returns how many."""
        pipes, self.pipes = self.pipes, []
        for pipe in pipes:
            for stream in (pipe.client, pipe.server):
                # SO_LINGER with a zero timeout: close() sends a reset, not an orderly FIN.
                stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            pipe.scope.cancel()
        return len(pipes)

    def blackhole(self) -> int:
        """Let nothing through the open connections any more (they stay open); returns how many."""
        for pipe in self.pipes:
            pipe.silent = True
        return len(self.pipes)

    def hold(self) -> None:
        """New connections wait before being passed on, until `release()`."""
        self._held = trio.Event()

    def release(self) -> None:
        if self._held is not None:
            self._held.set()
            self._held = None

    async def _serve(self, client: trio.SocketStream) -> None:
        self.accepted += 1
        self.accepted_at.append(trio.current_time())
        if self._held is not None:
            await self._held.wait()
        try:
            server = await trio.open_tcp_stream("127.0.0.1", self.target_port)
        except OSError:
            await client.aclose()
            return
        pipe = Pipe(client, server)
        self.pipes.append(pipe)
        with pipe.scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._pump, pipe, client, server)
                nursery.start_soon(self._pump, pipe, server, client)
        for stream in (client, server):
            with trio.CancelScope(shield=True):
                await stream.aclose()
        if pipe in self.pipes:
            self.pipes.remove(pipe)

    @staticmethod
    async def _pump(pipe: Pipe, source: trio.SocketStream, sink: trio.SocketStream) -> None:
        try:
            while data := await source.receive_some(CHUNK):
                if not pipe.silent:
                    await sink.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        pipe.scope.cancel()  # one side ended: end the other
