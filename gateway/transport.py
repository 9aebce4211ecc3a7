"""Transports: how connections are accepted and read, and who writes their bytes.

- `rust` (the default): the Rust `mixer.Wire` reads every client socket on one thread (accept, the
  WebSocket handshake, frames, ping/pong, the close handshake, the keepalive) and the Rust `mixer.Fanout`
  writes every byte; a speaker's `audio` goes from its socket into its space's mixer in Rust. Python sees
  coarse events, many per wake-up of one eventfd (`pump_wire`): an upgrade request to admit or refuse,
  the other messages, audio with no route (counted, at most once a second), the end.
- `python`: trio-websocket reads and writes everything, one `send_message` per listener per message,
  drained from a Python Outbox per connection (`PyFanout`). The baseline the Rust path is measured against.
  Its handshakes in progress are capped as the wire's are (`gateway/handshakes.py`).

The policy is the `Host`'s (the gateway): whom to admit, and the session of each admitted connection.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from typing import Protocol, cast

import trio
from trio_websocket import WebSocketRequest, WebSocketServer

from gateway.connection import Connection, TrioConnection, WireConnection
from gateway.errors import contained
from gateway.handshakes import GatedListener, Handshakes
from gateway.pyfanout import PyFanout
from mixer import Wire

log = logging.getLogger("gateway")

LISTEN_BACKLOG = 65535  # the kernel caps it at net.core.somaxconn: a burst of joins waits there, not refused
HANDSHAKE_TIMEOUT_S = 10.0  # from accept until the upgrade request is read: the Rust wire's `handshake_timeout`


@dataclass(frozen=True)
class Refusal:
    """An upgrade refused: the HTTP status, its body, and headers."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


class Host(Protocol):
    def admit(self, conn: int, origins: list[str], address: str) -> Refusal | None:
        """The refusal of connection `conn` from `address` with these Origin headers, or None: it is then
        counted in, and `serve` (or `leave`, if its handshake fails) must follow."""

    async def serve(self, connection: Connection, conn: int, address: str) -> None:
        """Serve an admitted connection to its end (and count it out)."""

    def leave(self, address: str) -> None:
        """An admitted connection never got to `serve`."""

    def audio_unrouted(self, conn: int, packets: int) -> None:
        """`packets` audio messages came from `conn` while it had no route to a mixer."""

    def handshake_refused(self, limit: str) -> None:
        """The Python transport closed a connection in its handshake for the cap `limit`
        ("handshakes_per_address" or "handshakes"; the Rust wire counts its own)."""


def open_http_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound now so that a busy port stops the server at start, naming the option."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as e:
        sock.close()
        raise OSError(e.errno, f"{e.strerror} (--http-port {port})") from e
    return sock


def open_listeners(host: str, port: int) -> list[socket.socket]:
    """Listening TCP sockets on every address `getaddrinfo` gives for `host` (as `trio.open_tcp_listeners`
    does: "localhost" is 127.0.0.1 and ::1), all on `port`, for the `Wire` to serve. With port 0 the kernel
    picks the first socket's port and the others take the same one, so the server has one port to print.
    IPv6 sockets are IPv6-only, so that "::" and "0.0.0.0" can both be bound.

    Error handling: an address that cannot be bound fails the whole call (OSError), every socket closed."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    unique = list(dict.fromkeys((family, kind, proto, address) for family, kind, proto, _, address in found))
    listeners: list[socket.socket] = []
    try:
        for family, kind, proto, address in unique:
            sock = socket.socket(family, kind, proto)
            listeners.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(listeners) > 1:
                address = (address[0], listeners[0].getsockname()[1], *address[2:])
            sock.bind(address)
            sock.listen(LISTEN_BACKLOG)
    except BaseException:
        for sock in listeners:
            sock.close()
        raise
    return listeners


PUMP_SLICE = 64
"""Wire events handed over at once: each wakes (or starts) a session, so a slice is that many tasks' work."""
MAX_RUNNABLE = 128
"""`make_way` waits while more tasks than this are ready to run (at most `MAX_WAITS` batches)."""
MAX_WAITS = 16


async def make_way() -> None:
    """Let the tasks the last slice woke run before handing over more: Trio runs every task ready at the
    start of a batch before it looks at the clock again, so a pump that woke thousands of sessions at once
    (a burst of joins, a crowd leaving) stopped the loop for their total, 0.2-0.5 s at 10,000. A checkpoint
    alone was not enough (the sessions' own follow-ups pile up behind it): wait until few tasks are
    ready, but for a bounded number of batches, so that other work can never starve the pump."""
    for _ in range(MAX_WAITS):
        await trio.lowlevel.checkpoint()
        if trio.lowlevel.current_statistics().tasks_runnable <= MAX_RUNNABLE:
            return


async def pump_wire(wire: Wire, host: Host, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Deliver the wire's events until cancelled: admit or refuse each upgrade, start its session, hand each
    connection its messages and its end. A connection costs Python one `WireConnection` and its session."""
    connections: dict[int, WireConnection] = {}

    async def serve_one(connection: WireConnection) -> None:
        await host.serve(connection, connection.conn, connection.address)

    serve = contained(log, serve_one)
    async with trio.open_nursery() as nursery:
        task_status.started()
        while True:
            await trio.lowlevel.wait_readable(wire.fileno())
            events = wire.take_events()
            for index, event in enumerate(events):
                if index and not index % PUMP_SLICE:
                    await make_way()
                kind, conn = event.kind, event.conn
                if kind == "message":
                    connection = connections.get(conn)
                    if connection is not None and event.data is not None:
                        connection.deliver(event.data)
                elif kind == "opened":
                    refusal = host.admit(conn, event.origins, event.peer)
                    if refusal is not None:
                        wire.refuse(conn, refusal.status, refusal.body, refusal.headers)
                        continue
                    wire.accept(conn)
                    connections[conn] = connection = WireConnection(wire, conn, event.peer)
                    nursery.start_soon(serve, connection)
                elif kind == "audio_unrouted":
                    host.audio_unrouted(conn, event.packets)
                else:  # "closed"
                    gone = connections.pop(conn, None)
                    if gone is not None:
                        gone.ended(event.code, event.reason, event.by_server)


async def serve_python(
    fanout: PyFanout,
    host_name: str,
    port: int,
    host: Host,
    max_message_size: int,
    handshakes: tuple[int, int, int],
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve WebSockets with trio-websocket on every address of `host_name`; `handshakes` caps the
    handshakes in progress (per address, in all) and says how long accepting waits for a connection's
    first bytes (seconds)."""
    per_address, total, defer_accept_s = handshakes
    in_progress = Handshakes(per_address, total, refused=host.handshake_refused)

    async def handle(request: WebSocketRequest) -> None:
        origins = [v.decode("latin-1") for k, v in request.headers if k.lower() == b"origin"]
        remote = request.remote
        address = str(remote.address) if hasattr(remote, "address") else str(remote)
        if hasattr(remote, "port"):
            in_progress.finished(address, remote.port)
        conn, outbox = fanout.register_outbox()
        try:
            refusal = host.admit(conn, origins, address)
            if refusal is not None:
                headers = [(k.encode(), v.encode()) for k, v in refusal.headers]
                headers.append((b"Content-Type", b"text/plain; charset=utf-8"))  # as the Rust wire's refusals
                await request.reject(refusal.status, extra_headers=headers, body=refusal.body)
                return
            try:
                ws = await request.accept()
            except BaseException:
                host.leave(address)
                raise
            await host.serve(TrioConnection(ws, outbox), conn, address)
        finally:
            fanout.close(conn)

    listeners = await trio.open_tcp_listeners(port, host=host_name)
    gated = [GatedListener(listener, in_progress, defer_accept_s) for listener in listeners]
    server = WebSocketServer(
        contained(log, handle),
        # trio-websocket types its listeners narrower than it uses them (trio.serve_listeners takes any).
        cast("list[trio.SocketListener]", gated),
        max_message_size=max_message_size,
        connect_timeout=HANDSHAKE_TIMEOUT_S,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        task_status.started(listeners[0].socket.getsockname()[1])
