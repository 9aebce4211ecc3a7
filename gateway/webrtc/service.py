"""RtcService: the server's WebRTC side. One asyncio loop for the whole server (trio-asyncio, in the server's
nursery), at most one peer connection per WebSocket connection, and one task that stops closed peer
connections and one that closes those that never connected.

Resource handling: a peer connection exists only for a connection allowed to send audio (the request
handler checks), is closed when its owner stops being allowed (`close(owner, reason)`), replaced by a newer
offer, or did not connect within `connect_timeout_s`; stopping it (`RTCPeerConnection.close`) releases its
sockets, tasks and thread. When the server stops, every one is stopped before the loop closes.

Error handling: whatever an offer or a peer does ends at its own peer connection: a bad offer is
`BadSdp`, an answer that takes too long `RtcFailed`; a fault in a peer's packet handling closes that peer
(`internal`), logged with an incident id.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import outcome
import trio
import trio_asyncio

from gateway.errors import RtcFailed, report_incident
from gateway.webrtc.ice import IceServer, host_addresses
from gateway.webrtc.peer import Deliver, PeerStats, RtcPeer
from gateway.webrtc.sdp import check_offer
from gateway.webrtc.turn import TurnCredential, TurnSettings, turn_credential

log = logging.getLogger("gateway.webrtc")

WATCH_INTERVAL_S = 1.0
STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class RtcSettings:
    ice_servers: tuple[IceServer, ...] = ()
    """STUN servers (`stoa serve --stun`), the server's peer connections' and the browsers'; none by default: host
    candidates only."""
    turn: TurnSettings | None = None
    """TURN servers for the browsers (`stoa serve --turn`), each user with a credential of its own
    (`credential_of`); the server's own peer connections gather no relay candidate."""
    addresses: tuple[str, ...] | None = None
    """Exactly these host addresses (`stoa serve --rtc-address`); None: this machine's interfaces, and
    127.0.0.1 too when the server is bound to loopback."""
    answer_timeout_s: float = 10.0
    connect_timeout_s: float = 20.0
    """A peer connection not connected (ICE and DTLS) this long after its answer is closed (`failed`)."""


Closed = Callable[[str], None]
"""Told once, with the reason, when the server closes a peer connection (not when its owner asked)."""


class RtcService:
    def __init__(self, settings: RtcSettings, *, loopback: bool = False) -> None:
        self.settings = settings
        self._addresses = host_addresses(loopback, settings.addresses)
        self._peers: dict[object, tuple[RtcPeer, Closed]] = {}
        self._stopping, self._to_stop = trio.open_memory_channel[RtcPeer](math.inf)  # one entry per peer at most
        self._loop: trio_asyncio.TrioEventLoop | None = None
        self._calls_in, self._calls = trio.open_memory_channel[
            tuple[Callable[[str], Awaitable[str]], str, trio.MemorySendChannel[outcome.Outcome[str]]]
        ](math.inf)  # one entry per offer being answered: bounded by the connections allowed to offer
        self.asyncio_errors = 0
        """Errors asyncio code left unhandled (logged, never raised)."""
        self.opened = 0
        self.closed_stats = PeerStats()
        """Every closed peer's counts, summed."""

    @property
    def peers(self) -> int:
        return len(self._peers)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Open the asyncio loop and serve until cancelled; then stop every peer connection."""
        async with trio_asyncio.open_loop() as loop:
            loop.set_exception_handler(self._asyncio_error)
            self._loop = loop
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._stop_closed)
                    nursery.start_soon(self._watch)
                    nursery.start_soon(self._serve_calls, nursery)
                    task_status.started()
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(STOP_TIMEOUT_S):
                    for owner in list(self._peers):
                        self.close(owner, "shutdown", tell=False)
                    while True:
                        try:
                            peer = self._to_stop.receive_nowait()
                        except trio.WouldBlock:
                            break
                        await self._stop(peer)
                self._loop = None

    async def open(self, owner: object, sdp: str, deliver: Deliver, on_closed: Closed) -> str:
        """Answer `owner`'s offer with a new peer connection (replacing `owner`'s current one, if any);
        return the answer's SDP. Raises `BadSdp` or `RtcFailed`; then `owner` has no peer connection."""
        self.close(owner, "replaced", tell=False)  # even if this offer is refused: at most one, the newest
        check_offer(sdp)
        loop = self._loop
        if loop is None:
            raise RtcFailed("WebRTC is not running on this server")
        peer = RtcPeer(self.settings.ice_servers, self._addresses, deliver, self._closing)
        self._peers[owner] = (peer, on_closed)  # from now on, the owner's departure closes it too
        self.opened += 1
        try:
            with trio.fail_after(self.settings.answer_timeout_s):
                answer: str = await self._call(peer.answer, sdp)
        except trio.TooSlowError:
            self.close(owner, "failed", tell=False, only=peer)
            raise RtcFailed(f"no answer within {self.settings.answer_timeout_s:g} s") from None
        except BaseException:
            self.close(owner, "failed", tell=False, only=peer)
            raise
        if peer.closed:  # the owner stopped being allowed while the answer was made
            raise RtcFailed("the peer connection was closed while it was being answered")
        return answer

    def close(self, owner: object, reason: str, *, tell: bool = True, only: RtcPeer | None = None) -> bool:
        """Close `owner`'s peer connection, if it has one (and, with `only`, if it is that one); its owner is
        told `reason` unless `tell` is False. True if one was closed."""
        entry = self._peers.get(owner)
        if entry is None or (only is not None and entry[0] is not only):
            return False
        peer, on_closed = entry
        del self._peers[owner]
        if not peer.closed:
            peer.closed = True
            self._stopping.send_nowait(peer)
        if tell:
            on_closed(reason)
        return True

    def credential_of(self, user: str, now_s: float) -> TurnCredential | None:
        """`user`'s TURN credential from now (`docs/protocol.md`, `get_rtc_config`); None without TURN servers."""
        turn = self.settings.turn
        return None if turn is None else turn_credential(turn.secret, user, now_s, turn.ttl_s)

    def peer_of(self, owner: object) -> RtcPeer | None:
        entry = self._peers.get(owner)
        return None if entry is None else entry[0]

    def _closing(self, peer: RtcPeer, reason: str) -> None:
        """A peer closed itself (failed, closed by the remote side, a fault): find its owner and tell it."""
        self._stopping.send_nowait(peer)
        for owner, (known, on_closed) in list(self._peers.items()):
            if known is peer:
                del self._peers[owner]
                on_closed(reason)

    async def _call(self, fn: Callable[[str], Awaitable[str]], arg: str) -> str:
        """Run the asyncio coroutine function `fn(arg)` on the loop, from a task of the service's own nursery.

        Not from the caller's task: asyncio code copies the context it starts in into everything it
        schedules (tasks, and trio-asyncio's reader tasks for the sockets it opens), and only the service's
        tasks, started inside `open_loop`, carry the loop in theirs; from a session's task, aioice's socket
        callbacks would later find no running loop. The call is bounded by `answer_timeout_s` on its own."""
        reply_in, reply = trio.open_memory_channel[outcome.Outcome[str]](1)
        self._calls_in.send_nowait((fn, arg, reply_in))
        result = await reply.receive()
        return result.unwrap()

    async def _serve_calls(self, nursery: trio.Nursery) -> None:
        async for fn, arg, reply in self._calls:
            nursery.start_soon(self._run_call, fn, arg, reply)

    async def _run_call(
        self, fn: Callable[[str], Awaitable[str]], arg: str, reply: trio.MemorySendChannel[outcome.Outcome[str]]
    ) -> None:
        with trio.move_on_after(self.settings.answer_timeout_s + 1.0):  # the caller has given up by then
            result: outcome.Outcome[str]
            try:
                result = outcome.Value(await trio_asyncio.aio_as_trio(fn)(arg))
            except Exception as error:  # the caller's to raise (trio.Cancelled passes through)
                result = outcome.Error(error)
            with contextlib.suppress(trio.BrokenResourceError):
                reply.send_nowait(result)

    def _asyncio_error(self, loop: object, context: dict[str, Any]) -> None:
        """What asyncio code leaves unhandled (in aiortc's and aioice's callbacks and tasks, about one peer's
        datagrams): logged with an incident id, never raised (trio-asyncio's default handler raises it into
        the loop's nursery, which would end every peer connection and the server)."""
        self.asyncio_errors += 1
        error = context.get("exception")
        what = str(context.get("message", "asyncio"))[:200]
        if isinstance(error, BaseException):
            report_incident(log, error, what)
        else:
            log.error("asyncio: %s", what)

    async def _stop_closed(self) -> None:
        async for peer in self._to_stop:
            await self._stop(peer)

    async def _stop(self, peer: RtcPeer) -> None:
        assert self._loop is not None
        try:
            with trio.move_on_after(STOP_TIMEOUT_S):
                await trio_asyncio.aio_as_trio(peer.stop, loop=self._loop)()
        except Exception as error:  # one peer's trouble stopping must not stop the others'
            report_incident(log, error, "stopping a peer connection")
        self.closed_stats = _sum(self.closed_stats, peer.stats)

    async def _watch(self) -> None:
        """Close peer connections that did not connect in time."""
        while True:
            await trio.sleep(WATCH_INTERVAL_S)
            deadline = time.monotonic() - self.settings.connect_timeout_s
            for owner, (peer, _) in list(self._peers.items()):
                if not peer.connected and peer.opened_at < deadline:
                    self.close(owner, "failed")

    def stats(self) -> PeerStats:
        """Packets of every peer connection since the server started, open ones included."""
        total = self.closed_stats
        for peer, _ in self._peers.values():
            total = _sum(total, peer.stats)
        return total


def _sum(a: PeerStats, b: PeerStats) -> PeerStats:
    return PeerStats(
        a.received + b.received,
        a.delivered + b.delivered,
        a.not_routed + b.not_routed,
        a.over_budget + b.over_budget,
        a.not_opus + b.not_opus,
        a.with_level + b.with_level,
    )
