"""RtcPeer: one speaker's WebRTC peer connection on the server (aiortc, on the server's one asyncio loop).

It receives and never sends media: the answer is `recvonly`, Opus only. aiortc decodes what it receives
by default (a decoder thread per receiver); here the receiver's packet handler is replaced (and the thread
never started), so each Opus
RTP payload goes, undecoded, with its sequence number and timestamp made into `SendAudio` numbers
(`rtp.py`) and the level its sender measured (RFC 6464's audio-level header extension, which the answer
negotiates), through one narrow call, `deliver(seq, captured_at, opus, level)`, to the space's mixer input,
as a WebSocket speaker's `audio` does. RTCP keeps being handled by aiortc.

Everything here runs on the asyncio loop (trio-asyncio runs it in the Trio thread): `answer` is awaited
through `RtcService`, the packet hook and the state callbacks are called by aiortc.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.rtcrtpparameters import RTCRtpReceiveParameters
from aiortc.rtp import RtpPacket
from aiortc.sdp import SessionDescription

from gateway.errors import BadSdp, report_incident
from gateway.webrtc.ice import IceServer, bind_hosts
from gateway.webrtc.rtp import PacketBudget, RtpStream

log = logging.getLogger("gateway.webrtc")

Deliver = Callable[[int, int, bytes, int | None], bool]
"""`deliver(seq, captured_at, opus, level)`: hand one packet to the space, with its audio level (0..127,
-dBov, as `audio`'s `level`; None when the packet carried none); False when the sender is not routed now
(muted, or between roles): the packet is dropped."""

AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
"""RFC 6464's header extension: the sender's level of each packet, so that the mixer need not decode a packet
it forwards as it is (one talker). aiortc's answer accepts it whenever the offer has it (browsers' do), and
browsers then send it on every packet."""

MAX_PACKETS_PER_S = 60.0
"""A speaker sends 50 packets a second (20 ms each); beyond this average, with `PACKET_BURST` at once,
packets are dropped before the mixer (see `PeerStats.over_budget`)."""
PACKET_BURST = 100.0


@dataclass(slots=True)
class PeerStats:
    """What one peer connection received, by fate."""

    received: int = 0
    """RTP packets that reached the receiver (SRTP authenticated, parsed)."""
    delivered: int = 0
    """Handed to the space's mixer input (the ingress counts what happens to them there)."""
    not_routed: int = 0
    """Dropped because the sender was not routed then (muted)."""
    over_budget: int = 0
    """Dropped because the sender went over `MAX_PACKETS_PER_S`."""
    not_opus: int = 0
    """Dropped because their payload type was not the negotiated Opus."""
    with_level: int = 0
    """Delivered with the sender's audio level (RFC 6464), which the mixer then uses instead of decoding."""


def _receiving_without_decoder(
    receiver: RTCRtpReceiver,
) -> Callable[[RTCRtpReceiveParameters], Coroutine[Any, Any, None]]:
    """aiortc's `RTCRtpReceiver.receive` (aiortc 1.16) without its decoder thread: nothing is decoded here
    (`_on_rtp` takes every packet), so a peer connection holds no thread of its own. The receiver is
    registered with its transport and its RTCP task started, as aiortc does; its `stop` then works unchanged
    (it stops a decoder thread only if there is one)."""

    async def receive(parameters: RTCRtpReceiveParameters) -> None:
        if not receiver._RTCRtpReceiver__started:  # type: ignore[attr-defined]
            receiver._RTCRtpReceiver__transport._register_rtp_receiver(receiver, parameters)  # type: ignore[attr-defined]
            receiver._RTCRtpReceiver__rtcp_task = asyncio.ensure_future(receiver._run_rtcp())  # type: ignore[attr-defined]
            receiver._RTCRtpReceiver__started = True  # type: ignore[attr-defined]

    return receive


class RtcPeer:
    def __init__(
        self,
        ice_servers: tuple[IceServer, ...],
        addresses: list[str],
        deliver: Deliver,
        closing: Callable[[RtcPeer, str], None],
    ) -> None:
        self._ice_servers = ice_servers
        self._addresses = addresses
        self._deliver = deliver
        self._closing = closing
        """Tell the service this peer is closing, and why (the service closes `pc` on the loop)."""
        self.pc: RTCPeerConnection | None = None
        self.opened_at = time.monotonic()
        self.connected = False
        self.closed = False
        self.stats = PeerStats()
        self._opus_type: int | None = None
        self._stream = RtpStream()
        self._budget = PacketBudget(per_s=MAX_PACKETS_PER_S, burst=PACKET_BURST)

    async def answer(self, offer: str) -> str:
        """(asyncio) Take the offer (already checked by `sdp.check_offer`) and return the answer, with the
        server's ICE candidates in it (gathering completes inside `setLocalDescription`)."""
        pc = self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[s.for_aiortc() for s in self._ice_servers]))
        pc.on("connectionstatechange", self._state_changed)
        # The transceiver comes first, so the offer's audio section is matched to it: Opus alone, received only.
        transceiver = pc.addTransceiver("audio", direction="recvonly")
        capabilities = RTCRtpReceiver.getCapabilities("audio")
        assert capabilities is not None
        transceiver.setCodecPreferences([c for c in capabilities.codecs if c.mimeType.lower() == "audio/opus"])
        receiver = transceiver.receiver
        receiver._handle_rtp_packet = self._on_rtp  # type: ignore[method-assign]
        receiver.receive = _receiving_without_decoder(receiver)  # type: ignore[method-assign,assignment]
        bind_hosts(pc, self._addresses)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        except Exception as e:  # aiortc refuses what it cannot take with assorted errors: all the offer's
            raise BadSdp(f"the offer was refused: {type(e).__name__}") from None
        await pc.setLocalDescription(await pc.createAnswer())
        answer = pc.localDescription.sdp
        codecs = SessionDescription.parse(answer).media[0].rtp.codecs
        opus = [c.payloadType for c in codecs if c.mimeType.lower() == "audio/opus"]
        if not opus:
            raise BadSdp("no Opus payload type in common with the offer")
        self._opus_type = opus[0]
        return answer

    async def _on_rtp(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        """aiortc's receiver hook: one SRTP-authenticated, parsed RTP packet of this peer."""
        self.stats.received += 1
        if packet.payload_type != self._opus_type:
            self.stats.not_opus += 1
            return
        if not self._budget.take(time.monotonic()):
            self.stats.over_budget += 1
            return
        seq, captured_at = self._stream.numbers(
            packet.ssrc, packet.sequence_number, packet.timestamp, time.time_ns() // 1000
        )
        audio_level = packet.extensions.audio_level  # (voice activity, level), or None
        level: int | None = None if audio_level is None else audio_level[1]
        try:
            routed = self._deliver(seq, captured_at, packet.payload, level)
        except Exception as error:  # a fault of ours ends this peer connection, nothing else
            report_incident(log, error, "a WebRTC packet's delivery")
            self.close("internal")
            return
        if routed:
            self.stats.delivered += 1
            if level is not None:
                self.stats.with_level += 1
        else:
            self.stats.not_routed += 1

    def _state_changed(self) -> None:
        pc = self.pc
        if pc is None or self.closed:
            return
        if pc.connectionState == "connected":
            self.connected = True
        elif pc.connectionState in ("failed", "closed"):
            self.close(pc.connectionState)

    def close(self, reason: str) -> None:
        """Close this peer connection (once): the service stops it on the loop and tells its owner."""
        if not self.closed:
            self.closed = True
            self._closing(self, reason)

    async def stop(self) -> None:
        """(asyncio) Release the peer connection's sockets, tasks and threads."""
        if self.pc is not None:
            await self.pc.close()
