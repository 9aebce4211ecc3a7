"""A client connection as a Session sees it: messages in, and a close handshake. Both transports provide it:

- `WireConnection` (the `rust` transport): the Rust `mixer.Wire` reads the socket; the gateway's pump
  (`transport.pump_wire`) hands this connection its messages and its end. It holds a queue of messages and
  at most one `trio.Event` while a task waits: no socket object, no WebSocket library state.
- `TrioConnection` (the `python` transport): a trio-websocket connection, the measured baseline.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

import trio
from trio_websocket import CloseReason, ConnectionClosed, WebSocketConnection

from gateway.errors import CloseCode
from gateway.outbox import Outbox, OutboxClosed
from mixer import Wire

KEEPALIVE_INTERVAL_S = 5.0
KEEPALIVE_TIMEOUT_S = 5.0
Close = Callable[[CloseCode, str], None]
"""How a connection's task asks its session to close it (`Session.close`)."""


class Connection(Protocol):
    closed_by_server: bool
    """Once `get_message` raised `ConnectionClosed`: its code is the server's own close (one the transport made
    itself, such as the Rust wire's 1002 for a broken frame), not the client's."""

    async def get_message(self) -> bytes | str:
        """The next message; raises `ConnectionClosed` once the connection is over."""

    async def aclose(self, code: int, reason: str) -> None:
        """Close with `code` and `reason`, and wait for the client's answer (the caller bounds the wait)."""


class WireConnection:
    """A connection whose socket the Rust `Wire` reads: it sees only what the wire does not take itself."""

    __slots__ = ("_changed", "_closed", "_inbox", "_wire", "address", "closed_by_server", "conn")

    def __init__(self, wire: Wire, conn: int, address: str) -> None:
        self._wire = wire
        self.conn = conn
        self.address = address
        self._inbox: deque[bytes] = deque()
        self._closed: CloseReason | None = None
        self._changed: trio.Event | None = None
        self.closed_by_server = False  # the close's code is the server's, not the client's (`ended`)

    # -- from the pump ------------------------------------------------------------------------------

    def deliver(self, data: bytes) -> None:
        self._inbox.append(data)
        self._wake()

    def ended(self, code: int, reason: str, by_server: bool) -> None:
        """The connection is over, with the client's close code and reason, or the server's (`by_server`: the
        session's own close, or one the wire made itself, such as 1002 for a broken frame)."""
        self._closed = CloseReason(code, reason)
        self.closed_by_server = by_server
        self._wake()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def _wait(self) -> None:
        if self._changed is None:
            self._changed = trio.Event()
        await self._changed.wait()

    # -- the Session's side ---------------------------------------------------------------------------

    async def get_message(self) -> bytes:
        while not self._inbox:
            if self._closed is not None:
                raise ConnectionClosed(self._closed)
            await self._wait()
        data = self._inbox.popleft()
        self._wire.taken(self.conn)  # the wire reads on once fewer than its bound are pending
        return data

    async def aclose(self, code: int, reason: str) -> None:
        if self._closed is None:
            self._wire.close(self.conn, code, reason)
        while self._closed is None:
            await self._wait()


class TrioConnection:
    """trio-websocket's connection, for the `python` transport (which also writes and pings through it): what
    the server sends goes through `outbox` (the connection's own, registered with the `PyFanout`), drained by
    `write_outbox`."""

    __slots__ = ("_heard_at", "_sent_at", "_written", "outbox", "ws")

    closed_by_server = False  # trio-websocket's own closes reach the session as the client's (docs/protocol.md)

    def __init__(self, ws: WebSocketConnection, outbox: Outbox) -> None:
        self.ws = ws  # every message, audio included, is read here
        self.outbox = outbox
        self._heard_at = self._sent_at = trio.current_time()  # the last message in, and out
        self._written: trio.Event | None = None  # while `write_outbox` runs: set once it is done

    async def get_message(self) -> bytes | str:
        message = await self.ws.get_message()
        self._heard_at = trio.current_time()
        return message

    async def aclose(self, code: int, reason: str) -> None:
        """The close frame goes after the replies and events already queued (audio not yet begun is dropped),
        as the Rust fan-out sends it: closing trio-websocket at once let the frame overtake them, and the
        client lost them. So the outbox is closed, and the frame waits for its writer (`write_outbox`) to be
        done (if it ever started); the caller bounds the whole."""
        self.outbox.close(CloseCode(code), reason)
        if self._written is not None:
            await self._written.wait()
        await self.ws.aclose(code, reason)

    async def write_outbox(
        self, close: Close, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """The Python transport's writer: one trio-websocket `send_message` per queued message, until the
        outbox is closed and empty. An outbox closes when its session closes, or when it overflowed: the
        `PyFanout` notices that to the gateway, which closes the session with 4000 (as for the Rust fan-out;
        counted as the session ends), so the writer asks nothing of the session itself then."""
        self._written = written = trio.Event()
        task_status.started()
        try:
            while True:
                await self.ws.send_message(await self.outbox.get())
                self._sent_at = trio.current_time()
        except OutboxClosed:
            pass
        except ConnectionClosed:
            close(CloseCode.NORMAL, "")
        finally:
            written.set()

    async def keep_alive(self, close: Close) -> None:
        """The Python transport's keepalive, the Rust `Wire`'s rule (docs/protocol.md, *Transport*): a connection
        idle both ways for 5 s is pinged, and closed with 4001 if nothing (the pong, or a message) comes back
        within 5 s. One the server is writing to is not pinged: a peer that stopped reading it is the fan-out's
        to find (`lagging`, then 4000), as on the Rust transport; a ping would end it first, as 4001."""
        while True:
            idle_from = max(self._heard_at, self._sent_at)
            if trio.current_time() < idle_from + KEEPALIVE_INTERVAL_S:
                await trio.sleep_until(idle_from + KEEPALIVE_INTERVAL_S)
                continue
            heard = self._heard_at
            with trio.move_on_after(KEEPALIVE_TIMEOUT_S) as scope:
                try:
                    await self.ws.ping()
                except ConnectionClosed:
                    return
            if scope.cancelled_caught and self._heard_at == heard:
                close(CloseCode.KEEPALIVE_TIMEOUT, "no pong within 5 s")
                return
            self._sent_at = trio.current_time()  # the pong came (or a message): idle from now
