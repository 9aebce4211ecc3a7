"""Handshakes in progress on the Python transport: connections accepted whose upgrade request trio-websocket
has not read yet, capped per client address (an IPv6 client by its /64: `limits.client_key`) and in all, as
the Rust wire caps its own (`mixer-rs/wire/src/handshakes.rs` says why, and why 16 and 1,024).

Admission's cap on connections per address (429) acts only once a request has been read; a client that sends
half of one held its descriptor for the whole handshake timeout. Here, a connection from an address with
`per_address` handshakes in progress whose request has not come whole is closed as soon as it is accepted,
unanswered; at `total` in all, such a newcomer ends the oldest, at once (one whose request has come whole
needs no slot: it is not counted, and ends no one); and the listening sockets defer accepting a connection
until its first bytes come (`DEFER_ACCEPT_S`), as the Rust wire does (`mixer-rs/wire/src/handshakes.rs`).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from ipaddress import ip_address

import trio

from gateway.limits import client_key

NOTSENT_LOWAT = 16 * 1024
"""Bytes a client's socket may hold unsent (TCP_NOTSENT_LOWAT), as the Rust wire sets its own
(`mixer-rs/wire/src/reader.rs`): the rest waits in the connection's Outbox, where a slow reader is seen
(`lagging`, then 4000), not in a kernel send buffer that grows to megabytes and hides it."""

DEFER_ACCEPT_S = 1
"""TCP_DEFER_ACCEPT of the listening sockets, as `WireConfig::defer_accept` (`LimitSettings.defer_accept_s`):
a connection that has sent nothing waits this long in the kernel, unaccepted (a real client's request comes
with its first bytes). Linux counts it in SYN-ACK retransmissions: 1 s is one, 2 to 3 s two, and so on."""

HEAD_LIMIT = 8192
"""The longest upgrade request's head either transport reads (docs/protocol.md): all a peek needs to see."""

Refused = Callable[[str], None]
"""Told the limit's name at each connection closed by a cap: "handshakes_per_address" or "handshakes"."""


class Handshakes:
    """The count. A handshake starts at accept (`start`) and ends when the request reaches the handler
    (`finished`) or when trio-websocket closes its stream: closed streams are found when next counted, so no
    hook into trio-websocket is needed. (trio-websocket closes the stream of a client gone before its request
    only at the handshake timeout: until then it holds its descriptor, and it is counted.)"""

    def __init__(self, per_address: int, total: int, refused: Refused) -> None:
        if per_address < 1 or total < 1:
            raise ValueError("the caps on handshakes in progress are at least 1")
        self.per_address = per_address
        self.total = total
        self._refused = refused
        # Each stream in its handshake and its client key, by (address, port); dicts keep the order: oldest first.
        self._all: dict[tuple[str, int], tuple[trio.SocketStream, str]] = {}
        # The same, by client key: two addresses of one /64 may each send from the same port.
        self._by_key: dict[str, dict[tuple[str, int], trio.SocketStream]] = {}

    def in_progress(self, address: str | None = None) -> int:
        """Handshakes in progress, from `address`'s client key (`client_key`) or in all."""
        if address is None:
            self._forget_closed(list(self._all))
            return len(self._all)
        return self._from(client_key(address))

    def _from(self, key: str) -> int:
        self._forget_closed(list(self._by_key.get(key, {})))
        return len(self._by_key.get(key, {}))

    def start(self, stream: trio.SocketStream, *, whole: bool) -> trio.SocketStream | None:
        """Count `stream` in unless its request came `whole` (it needs no slot); returns the stream to close:
        `stream` itself if its address is at its cap (it is then not counted), the oldest in progress if the
        count is full, else None."""
        if whole:
            return None
        address, port = peer(stream)
        key = client_key(address)
        if self._from(key) >= self.per_address:
            self._refused("handshakes_per_address")
            return stream
        oldest = None
        if len(self._all) >= self.total and self.in_progress() >= self.total:
            first = next(iter(self._all))
            oldest = self._all[first][0]
            self._forget(first)
            self._refused("handshakes")
        self._all[(address, port)] = (stream, key)
        self._by_key.setdefault(key, {})[(address, port)] = stream
        return oldest

    def finished(self, address: str, port: int) -> None:
        """The request from (`address`, `port`) was read: its handshake is over."""
        self._forget((address, port))

    def _forget_closed(self, streams: list[tuple[str, int]]) -> None:
        for where in streams:
            if self._all[where][0].socket.fileno() == -1:
                self._forget(where)

    def _forget(self, where: tuple[str, int]) -> None:
        entry = self._all.pop(where, None)
        if entry is None:
            return
        key = entry[1]
        mine = self._by_key[key]
        del mine[where]
        if not mine:
            del self._by_key[key]


def peer(stream: trio.SocketStream) -> tuple[str, int]:
    """The client's address and port, as trio-websocket's `request.remote` gives them."""
    address, port, *_ = stream.socket.getpeername()
    return str(ip_address(address)), int(port)


def came_whole(stream: trio.SocketStream) -> bool:
    """Whether `stream`'s upgrade request has come whole (its head's end is in what the kernel holds),
    without reading it: trio-websocket reads it."""
    raw = socket.socket(fileno=stream.socket.fileno())
    try:
        head = raw.recv(HEAD_LIMIT, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except OSError:  # nothing yet (EAGAIN), or gone
        return False
    finally:
        raw.detach()  # the descriptor stays trio's
    return b"\r\n\r\n" in head


class GatedListener(trio.abc.Listener[trio.SocketStream]):
    """A listener whose `accept` passes on only the connections `handshakes` counts in (the others are
    closed at once), closing the oldest handshake when the count is full and a newcomer's request is not
    whole, each with at most `NOTSENT_LOWAT` unsent. Several listeners (every address of one host name)
    share one count. Each listening socket defers accepting until a connection's first bytes come."""

    def __init__(
        self, listener: trio.SocketListener, handshakes: Handshakes, defer_accept_s: int = DEFER_ACCEPT_S
    ) -> None:
        self.listener = listener
        self._handshakes = handshakes
        listener.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, defer_accept_s)

    async def accept(self) -> trio.SocketStream:
        while True:
            stream = await self.listener.accept()
            try:
                closing = self._handshakes.start(stream, whole=came_whole(stream))
            except OSError:  # gone already (getpeername fails once the client has reset)
                closing = stream
            if closing is not None:
                # Closing a stream trio-websocket's reader waits on wakes it with ClosedResourceError: it ends.
                await closing.aclose()
            if closing is not stream:
                try:
                    stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, NOTSENT_LOWAT)
                except OSError:
                    pass  # gone already: its handshake fails on its own
                return stream

    async def aclose(self) -> None:
        await self.listener.aclose()
