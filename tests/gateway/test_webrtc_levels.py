"""The audio level of a WebRTC speaker's packets (RFC 6464's header extension): the server's answer accepts
the extension, and each packet reaches the space with the level its sender wrote, or None when it wrote none.
Two real aiortc peers on loopback (ICE, DTLS, SRTP), the server's `RtcPeer` and the speaker stand-in, in one
asyncio loop of a worker thread."""

from __future__ import annotations

import asyncio

import trio
from aiortc.sdp import SessionDescription

from gateway.webrtc.peer import AUDIO_LEVEL_URI, RtcPeer
from gateway.webrtc.speaker import OpusTrack, RtcSpeaker
from tests.audio import encode_tone

PACKETS = encode_tone(440.0, 1.0)


async def received(levels: list[int] | None) -> tuple[str, dict[int, int | None], int]:
    """(asyncio) The server's answer, each packet's level as delivered, by its place in the stream, and the
    packets the peer counted as delivered with a level."""
    got: dict[int, int | None] = {}

    def deliver(seq: int, captured_at: int, opus: bytes, level: int | None) -> bool:
        got[seq] = level
        return True

    server = RtcPeer((), ["127.0.0.1"], deliver, lambda peer, reason: None)
    speaker = RtcSpeaker(OpusTrack(PACKETS, levels=levels), ["127.0.0.1"])
    try:
        answer = await server.answer(await speaker.offer())
        await speaker.accept(answer)
        await asyncio.wait_for(speaker.connected(), 10)
        await asyncio.wait_for(speaker.track.finished.wait(), 10)
        await asyncio.sleep(0.3)  # the last packets arrive
    finally:
        await speaker.close()
        await server.stop()
    first = min(got)
    return answer, {seq - first: level for seq, level in got.items()}, server.stats.with_level


def extensions(sdp: str) -> set[str]:
    return {x.uri for x in SessionDescription.parse(sdp).media[0].rtp.headerExtensions}


async def test_each_packet_reaches_the_space_with_the_level_its_sender_wrote() -> None:
    levels = [0, 127, *((7 * i) % 128 for i in range(len(PACKETS) - 2))]  # both ends of the range, and between
    with trio.fail_after(60):
        answer, got, counted = await trio.to_thread.run_sync(asyncio.run, received(levels))
    assert AUDIO_LEVEL_URI in extensions(answer)
    assert len(got) >= len(PACKETS) - 2  # loopback UDP: at most a stray loss
    assert all(level == levels[i] for i, level in got.items())
    assert counted == len(got)


async def test_packets_without_the_extension_reach_the_space_with_no_level() -> None:
    with trio.fail_after(60):
        _, got, counted = await trio.to_thread.run_sync(asyncio.run, received(None))
    assert len(got) >= len(PACKETS) - 2
    assert set(got.values()) == {None}
    assert counted == 0
