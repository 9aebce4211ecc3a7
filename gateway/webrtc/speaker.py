"""A WebRTC speaker in Python (aiortc): sends pre-encoded 20 ms Opus packets over a peer connection, with the
offer and answer carried by a `gateway.client.Client`. What the tests and the WebRTC benchmark use as the
browser's stand-in on the sending side; the server's side is the same code whoever sends.

    async with trio_asyncio.open_loop():
        async with open_rtc_speaker(client, packets) as speaker:   # client is on the mic
            await speaker.sent_all.wait()
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import av
import trio
import trio_asyncio
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpsender import RTCEncodedFrame

from gateway.client import Client
from gateway.webrtc.ice import bind_hosts

FRAME_S = 0.020
FRAME_SAMPLES = 960
TIME_BASE = fractions.Fraction(1, 48_000)


class OpusTrack(MediaStreamTrack):
    """An audio track of ready Opus packets, one every 20 ms (aiortc packs them into RTP unchanged); with
    `repeat`, the packets go round until the track stops. With `levels` (one per packet, 0..127), each
    packet's RTP header carries its level (RFC 6464), as a browser's do; without, none."""

    kind = "audio"

    def __init__(
        self,
        packets: Sequence[bytes],
        *,
        levels: Sequence[int] | None = None,
        repeat: bool = False,
        gate: asyncio.Event | None = None,
    ) -> None:
        super().__init__()
        if levels is not None and len(levels) != len(packets):
            raise ValueError("one level per packet")
        self._packets = packets
        self._levels = levels
        self.level: int | None = None
        """The level of the packet `recv` returned last (None without `levels`)."""
        self._repeat = repeat
        self._gate = gate
        """Nothing is sent before it is set (None: from the start)."""
        self._index = 0
        self._start: float | None = None
        self.sent = 0
        self.finished = asyncio.Event()

    async def recv(self) -> av.Packet:  # type: ignore[type-arg]
        if self._gate is not None:
            await self._gate.wait()
        if self._start is None:
            self._start = time.monotonic()
        if self._index >= len(self._packets):
            if not self._repeat:
                self.finished.set()
                await asyncio.Event().wait()  # nothing more: park until the track stops
            self._index = 0
        delay = self._start + self.sent * FRAME_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        packet = av.Packet(self._packets[self._index])
        self.level = None if self._levels is None else self._levels[self._index]
        packet.pts = self.sent * FRAME_SAMPLES
        packet.time_base = TIME_BASE
        self._index += 1
        self.sent += 1
        return packet


class RtcSpeaker:
    """The peer connection's asyncio side: offer (gathering complete), then take the answer."""

    def __init__(self, track: OpusTrack, addresses: list[str]) -> None:
        self.track = track
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._addresses = addresses
        self._settled = asyncio.Event()
        self.ended = asyncio.Event()
        """Set once the peer connection failed or closed."""
        self.pc.on("connectionstatechange", self._state_changed)

    def _state_changed(self) -> None:
        if self.pc.connectionState in ("connected", "failed", "closed"):
            self._settled.set()
        if self.pc.connectionState in ("failed", "closed"):
            self.ended.set()

    async def offer(self) -> str:
        sender = self.pc.addTransceiver(self.track, direction="sendonly").sender
        sender._next_encoded_frame = _with_level(sender, self.track)  # type: ignore[method-assign]
        bind_hosts(self.pc, self._addresses)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, answer: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def connected(self) -> None:
        """Wait until connected; `ConnectionError` if it failed or closed instead."""
        await self._settled.wait()
        if self.pc.connectionState != "connected":
            raise ConnectionError(f"the peer connection {self.pc.connectionState}")

    async def close(self) -> None:
        await self.pc.close()


def _with_level(sender: RTCRtpSender, track: OpusTrack):  # type: ignore[no-untyped-def]
    """aiortc's sender measures the level of audio it encodes, and of ready packets none: this gives each
    packet of `track` the level the track holds for it (aiortc writes `-audio_level` into the header)."""
    next_frame = sender._next_encoded_frame

    async def next_encoded_frame(codec: RTCRtpCodecParameters) -> RTCEncodedFrame | None:
        frame = await next_frame(codec)
        if frame is not None and track.level is not None:
            frame.audio_level = -track.level
        return frame

    return next_encoded_frame


async def make_offer(addresses: Sequence[str] = ("127.0.0.1",)) -> str:
    """(asyncio) A real sending offer, its candidates on `addresses`; its peer connection is closed at once."""
    speaker = RtcSpeaker(OpusTrack([b"\xf8\xff\xfe"]), list(addresses))
    try:
        return await speaker.offer()
    finally:
        await speaker.close()


@asynccontextmanager
async def open_rtc_speaker(
    client: Client,
    packets: Sequence[bytes],
    *,
    levels: Sequence[int] | None = None,
    repeat: bool = False,
    addresses: Sequence[str] = ("127.0.0.1",),
    connect_timeout: float = 10.0,
) -> AsyncIterator[RtcSpeaker]:
    """Offer a peer connection through `client` (on the mic, under a trio-asyncio loop), wait until it is
    connected, and send `packets` (with `levels` in their RTP headers, if given) at their real pace; closed on
    exit."""
    speaker = RtcSpeaker(OpusTrack(packets, levels=levels, repeat=repeat), list(addresses))
    try:
        offer = await trio_asyncio.aio_as_trio(speaker.offer)()
        answer = await client.rtc_offer(offer)
        await trio_asyncio.aio_as_trio(speaker.accept)(answer)
        with trio.fail_after(connect_timeout):
            await trio_asyncio.aio_as_trio(speaker.connected)()
        yield speaker
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(5):
            await trio_asyncio.aio_as_trio(speaker.close)()
