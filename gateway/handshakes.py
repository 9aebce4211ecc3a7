"""Handshakes in progress on the Python transport: connections accepted whose upgrade request trio-websocket
has not read yet, capped per client address (an IPv6 client by its /64: `limits.client_key`) and in all, as
the Rust wire caps its own (`mixer-rs/wire/src/handshakes.rs` says why, and why 16 and 1,024).

Admission's cap on connections per address (429) acts only once a request has been read; a client that
sends half of one held its descriptor for the whole handshake timeout. Here, a connection from an address
with `per_address` handshakes in progress is closed as soon as it is accepted, unanswered; at `total` in
all, the oldest one is closed to make room, not the newcomer, once it has lasted `GRACE_S`. Until then the
listener accepts no one more: the connection it took waits, the others in the kernel's queue (trio's accept
loop calls `accept` again only once it has returned), as the Rust wire's do (`mixer-rs/wire/src/reader/
accept.rs`). Closing the oldest at once shut out most of a burst of joins (docs/security.md).
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

GRACE_S = 1.0
"""Seconds the oldest handshake in progress lasts before a newcomer past the cap in all ends it, as
`WireConfig::handshake_grace`: longer than a slow real client's round trip."""

Refused = Callable[[str], None]
"""Told the limit's name at each connection closed by a cap: "handshakes_per_address" or "handshakes"."""


class Handshakes:
    """The count. A handshake starts at accept (`start`) and ends when the request reaches the handler
    (`finished`) or when trio-websocket closes its stream: closed streams are found when next counted, so no
    hook into trio-websocket is needed. (trio-websocket closes the stream of a client gone before its request
    only at the handshake timeout: until then it holds its descriptor, and it is counted.)"""

    def __init__(self, per_address: int, total: int, refused: Refused, grace: float = GRACE_S) -> None:
        if per_address < 1 or total < 1:
            raise ValueError("the caps on handshakes in progress are at least 1")
        self.per_address = per_address
        self.total = total
        self.grace = grace
        self._refused = refused
        # Each stream in its handshake, its client key and when it started (trio's clock), by (address, port);
        # dicts keep the order: oldest first.
        self._all: dict[tuple[str, int], tuple[trio.SocketStream, str, float]] = {}
        self._ended = trio.Event()  # set (and replaced) as each handshake is forgotten
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

    def at_cap(self, stream: trio.SocketStream) -> bool:
        """Whether `stream`'s address has its cap's worth in progress (raises OSError if it is gone)."""
        return self._from(client_key(peer(stream)[0])) >= self.per_address

    async def room(self) -> None:
        """Until one more may be counted in: the count is under its cap, or the oldest has had its grace
        (`start` then ends it). Several listeners wait together: each checks again as it wakes, and counts
        its newcomer in (`start`) before any other can, there being no checkpoint in between."""
        while self.in_progress() >= self.total:
            grace_over = next(iter(self._all.values()))[2] + self.grace
            if trio.current_time() >= grace_over:
                return
            # A handshake trio-websocket ends without reaching the handler (a bad request, its timeout) is
            # not told: it is found closed at the next count, at the oldest's grace at the latest.
            with trio.move_on_at(grace_over):
                await self._ended.wait()

    def start(self, stream: trio.SocketStream) -> trio.SocketStream | None:
        """Count `stream` in; returns the stream to close: `stream` itself if its address is at its cap
        (it is then not counted), the oldest in progress if the count is full (`room` waits for its grace),
        else None."""
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
        self._all[(address, port)] = (stream, key, trio.current_time())
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
        self._ended.set()
        self._ended = trio.Event()
        key = entry[1]
        mine = self._by_key[key]
        del mine[where]
        if not mine:
            del self._by_key[key]


def peer(stream: trio.SocketStream) -> tuple[str, int]:
    """The client's address and port, as trio-websocket's `request.remote` gives them."""
    address, port, *_ = stream.socket.getpeername()
    return str(ip_address(address)), int(port)


class GatedListener(trio.abc.Listener[trio.SocketStream]):
    """A listener whose `accept` passes on only the connections `handshakes` counts in (the others are
    closed at once), waiting while the count is full for a handshake to end or the oldest's grace to be over
    (then closing that one), each with at most `NOTSENT_LOWAT` unsent. Several listeners (every address of
    one host name) share one count."""

    def __init__(self, listener: trio.SocketListener, handshakes: Handshakes) -> None:
        self.listener = listener
        self._handshakes = handshakes

    async def accept(self) -> trio.SocketStream:
        while True:
            stream = await self.listener.accept()
            try:
                if not self._handshakes.at_cap(stream):  # refused by its address's cap: it ends no one
                    await self._handshakes.room()
                closing = self._handshakes.start(stream)
            except OSError:  # gone already (getpeername fails once the client has reset)
                closing = stream
            except BaseException:  # cancelled while it waited: the listener is closing
                stream.socket.close()
                raise
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
