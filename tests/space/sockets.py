"""Spaces as the server runs them, for tests of what listeners hear: the Rust fan-out, the directory's
`TickPool` and each space's `DriverTicker`, with every member's connection a real socket registered with the
fan-out. The client's side reads the WebSocket frames the fan-out wrote and decodes them with the
independent `msgpack` package, not the gateway's own decoder."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import trio

from actors.space import SpaceDirectory, SpaceEvent, SpaceRef, SpaceState
from actors.space.persistence import NO_STORE, SpaceStore
from actors.space.ticking import DriverTicker
from mixer import Fanout
from tests.wsframes import take_frame

BINARY_FINAL = 0x82
RELEASE_POLL_S = 0.001
RELEASE_CEILING_S = 5.0
QUIET_POLL_S = 0.02
MARKER = "test-marker"  # no server message has this type


@dataclass(frozen=True)
class Heard:
    """A message a link read: when, how many audio frames it had read before it, and the message (as the
    `msgpack` package decodes it, and its bytes)."""

    at: float
    frames_before: int
    message: dict[str, Any]
    payload: bytes


class SocketLink:
    """A MemberLink whose `conn` is one end of a socket pair, registered with the fan-out with `borrow=True`,
    as `gateway/transport.py` registers a client's socket. `read` keeps each audio frame that reaches the
    other end, as (seq, opus), in `frames`, each `speaking` message, with the time it was read, in
    `speaking`, and every other message in `others`."""

    def __init__(self, fanout: Fanout) -> None:
        self._fanout = fanout
        self._ours, peer = socket.socketpair()
        self._peer = trio.socket.from_stdlib_socket(peer)
        try:
            self.conn = fanout.register(self._ours.fileno(), borrow=True)
        except BaseException:
            self._ours.close()
            self._peer.close()
            raise
        self.frames: list[tuple[int, bytes]] = []
        self.speaking: list[Heard] = []
        self.others: list[dict[str, Any]] = []
        self._buffer = bytearray()
        self._arrived = trio.Event()
        self._markers_sent = self._markers_seen = 0

    def joined(self, state: SpaceState) -> None:
        pass

    def observe(self, event: SpaceEvent) -> None:
        pass

    async def read(self) -> None:
        """Reads until end of file, keeping the frames of every `audio` message."""
        while chunk := await self._peer.recv(1 << 16):
            self._buffer += chunk
            while (frame := take_frame(self._buffer)) is not None:
                first, payload = frame
                assert first == BINARY_FINAL, f"a single binary frame per message, not {first:#x}"
                message = msgpack.unpackb(payload)
                if message["type"] == "audio":
                    self.frames.extend((f["seq"], f["opus"]) for f in message["frames"])
                elif message["type"] == "speaking":
                    self.speaking.append(Heard(trio.current_time(), len(self.frames), message, bytes(payload)))
                elif message["type"] == MARKER:
                    self._markers_seen = message["n"]
                else:
                    self.others.append(message)
            self._arrived.set()
            self._arrived = trio.Event()

    async def sync(self) -> list[tuple[int, bytes]]:
        """Every audio frame queued for this connection before the call: a marker queued after them (the
        fan-out keeps each connection's order) has come back."""
        self._markers_sent += 1
        assert self._fanout.send(self.conn, msgpack.packb({"type": MARKER, "n": self._markers_sent}))
        while self._markers_seen < self._markers_sent:
            await self._arrived.wait()
        return list(self.frames)

    async def aclose(self) -> None:
        """Unregisters from the fan-out and closes both ends: ours only once the writer has released it, as
        the gateway does, since a reused descriptor number would receive this connection's bytes."""
        self._fanout.close(self.conn)
        self._peer.close()
        # Shielded (a test's own `fail_after` must not skip it) but bounded, so it cannot hang either.
        with trio.CancelScope(shield=True, deadline=trio.current_time() + RELEASE_CEILING_S):
            while not self._fanout.released(self.conn):  # noqa: ASYNC110 (the state is the Rust writer's)
                await trio.sleep(RELEASE_POLL_S)
        assert self._fanout.released(self.conn), "the writer kept the socket: left open rather than reused"
        self._ours.close()


@asynccontextmanager
async def open_rust_directory(
    store: SpaceStore = NO_STORE, data_dir: Path | None = None
) -> AsyncIterator[tuple[SpaceDirectory, Callable[[], SocketLink]]]:
    """A space directory over a Rust fan-out (so with its own `TickPool`), and a maker of socket links, each
    read by a task of its own; with `data_dir`, its spaces record there. When the block ends, on every path:
    the spaces end, every link is unregistered and closed, then the fan-out shuts down."""
    fanout = Fanout()
    links: list[SocketLink] = []
    try:
        async with trio.open_nursery() as readers:

            def new_link() -> SocketLink:
                link = SocketLink(fanout)
                links.append(link)
                readers.start_soon(link.read)
                return link

            async with trio.open_nursery() as spaces:
                yield SpaceDirectory(spaces, fanout, store=store, data_dir=data_dir), new_link
                spaces.cancel_scope.cancel()
            readers.cancel_scope.cancel()
    finally:
        for link in links:
            await link.aclose()
        fanout.shutdown()


def driver_of(space: SpaceRef) -> DriverTicker:
    """The Rust driver ticking `space`: what production uses, never the Python baseline's `TrioTicker`."""
    ticker = space.audio.ticker
    assert isinstance(ticker, DriverTicker), f"ticked by {type(ticker).__name__}, not the Rust driver"
    return ticker


async def frames_once_quiet(directory: SpaceDirectory, link: SocketLink) -> list[tuple[int, bytes]]:
    """Once no space of `directory` talks (its tick pool has sent their last frames): every frame `link`
    was sent."""
    assert directory.tick_pool is not None
    while directory.tick_pool.talking:  # noqa: ASYNC110 (the state is the Rust pool's)
        await trio.sleep(QUIET_POLL_S)
    return await link.sync()


async def stream(space: SpaceRef, user: str, packets: list[bytes]) -> None:
    """`user` sends `packets` in real time, one per 20 ms, numbered from 0."""
    start = trio.current_time()
    for seq, packet in enumerate(packets):
        await trio.sleep_until(start + seq * 0.020)
        space.push_audio(user, seq, time.time_ns() // 1000, packet)
