"""WebRTC speakers end to end: a real server process, aiortc peers over real UDP on loopback (host candidates
only, nothing outside), real Opus through the real codec, listeners on the WebSocket.

The speaker side is `gateway/webrtc/speaker.py` (aiortc under trio-asyncio in this process), as a browser
would be: offer after gathering, answer over the WebSocket, Opus RTP.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio_asyncio
from aiortc.sdp import SessionDescription
from trio_websocket import open_websocket_url

from actors.space import Role
from gateway.client import Client, RequestError, connect, connect_account
from gateway.protocol import RtcClosed
from gateway.webrtc.speaker import OpusTrack, RtcSpeaker, make_offer, open_rtc_speaker
from tests.audio import assert_tone_absent, assert_tone_present, decode_stream, encode_tone
from tests.conftest import ServerProcess, start_server, stop_server
from tests.e2e.test_metrics import samples
from tests.e2e.test_space_audio import collect, steady_pcm, stream
from tests.e2e.wire import hello_account, say

# RTP at the 20 ms pace through aiortc: those tests run alone. Which offers are answered (the replies only)
# runs beside the other tests.
at_the_pace = pytest.mark.serial

A_HZ, B_HZ = 440.0, 1000.0


async def offer() -> str:
    """A real offer, as a speaker would send it (its peer connection is dropped at once)."""
    return await trio_asyncio.aio_as_trio(make_offer)()


async def in_space(host: Client, *others: Client) -> str:
    space_id = (await host.create_space("WebRTC")).space.space_id
    for other in others:
        await other.join_space(space_id)
    return space_id


@asynccontextmanager
async def speaking_space(url: str) -> AsyncIterator[tuple[Client, Client, Client]]:
    """Under a trio-asyncio loop: a space of `host`, with `ada` on the mic as a speaker and the guest `lis`
    listening."""
    async with (
        trio_asyncio.open_loop(),
        connect_account(url, "host") as host,
        connect_account(url, "ada") as ada,
        connect(url, "lis") as lis,
    ):
        await in_space(host, ada, lis)
        await host.set_role(ada.user, Role.SPEAKER)
        yield host, ada, lis


def os_threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def drain(client: Client) -> None:
    """Forget the audio already received."""
    while True:
        try:
            client.audio.receive_nowait()
        except trio.WouldBlock:
            return


def talking_spaces(server: ServerProcess) -> float:
    return samples(server)[("stoa_spaces", (("state", "talking"),))]


async def drain_once_quiet(server: ServerProcess, client: Client) -> None:
    """Once the server's mixes have all gone quiet (their last frames queued): forget every frame it sent
    `client` until then. A reply asked for after that is queued behind them (the fan-out keeps each
    connection's order), so they have all been received when it comes. Bounded by the caller's deadline."""
    while await trio.to_thread.run_sync(talking_spaces, server):  # noqa: ASYNC110 (a gauge of the server process)
        await trio.sleep(0.05)
    await client.list_spaces("live", limit=1)
    drain(client)


async def rtc_closed(client: Client) -> RtcClosed:
    while True:
        event = await client.next_event()
        if isinstance(event, RtcClosed):
            return event


async def settled(speaker: RtcSpeaker, seconds: float) -> str:
    """The speaker's peer connection state once it is no longer connected (or still, after `seconds`)."""
    with trio.move_on_after(seconds):
        await trio_asyncio.aio_as_trio(speaker.ended.wait)()
    return speaker.pc.connectionState


@at_the_pace
async def test_a_webrtc_speaker_is_heard_and_hears_the_others_without_itself_on_its_websocket(
    server: ServerProcess,
) -> None:
    with trio.fail_after(60):
        async with speaking_space(server.url) as (host, ada, lis):
            results: dict[str, list[tuple[int, int, bytes]]] = {}

            async def run_collect(name: str, client: Client) -> None:
                results[name] = await collect(client, 4.0)

            threads = os_threads(server.proc.pid)
            async with open_rtc_speaker(ada, encode_tone(A_HZ, 3.0)), trio.open_nursery() as n:
                assert os_threads(server.proc.pid) == threads, "a peer connection holds no thread of its own"
                n.start_soon(run_collect, "lis", lis)
                n.start_soon(run_collect, "ada", ada)
                n.start_soon(stream, host, encode_tone(B_HZ, 3.0))  # the host speaks on the WebSocket

            heard = steady_pcm(results["lis"])
            assert_tone_present(heard, A_HZ)  # WebRTC
            assert_tone_present(heard, B_HZ)  # WebSocket
            ada_hears = steady_pcm(results["ada"])  # her mix-minus, on her WebSocket
            assert_tone_present(ada_hears, B_HZ)
            assert_tone_absent(ada_hears, A_HZ, reference_hz=B_HZ)


async def test_an_offer_is_answered_for_people_on_the_mic_only(server: ServerProcess) -> None:
    """Read with the independent msgpack package: the answer for the host (the control), and the refusals
    of a listener, a guest in the space, and an account in no space."""
    url = server.url
    with trio.fail_after(60):
        async with (
            trio_asyncio.open_loop(),
            connect_account(url, "host") as host,
            connect_account(url, "lena") as lena,
            connect(url, "guest") as guest,
            connect_account(url, "out") as out,
        ):
            sdp = await offer()
            space_id = await in_space(host, lena, guest)
            for client, code in ((lena, "not_a_speaker"), (guest, "account_required"), (out, "not_in_space")):
                with pytest.raises(RequestError) as refused:
                    await client.rtc_offer(sdp)
                assert refused.value.code == code
            await host.leave_space()  # the raw connection below is the host's now
            async with open_websocket_url(url) as ws:
                await hello_account(ws, "raw_host")
                joined = await say(ws, {"type": "join_space", "ref": 3, "space_id": space_id})
                assert joined["type"] == "joined" and joined["role"] == "listener"
                refused = await say(ws, {"type": "rtc_offer", "ref": 4, "sdp": sdp})
                assert (refused["type"], refused["ref"], refused["code"]) == ("error", 4, "not_a_speaker")
                await say(ws, {"type": "leave_space", "ref": 5})
                created = await say(ws, {"type": "create_space", "ref": 6, "title": "Raw"})
                assert created["type"] == "joined" and created["role"] == "host"
                answer = await say(ws, {"type": "rtc_offer", "ref": 7, "sdp": sdp})
                assert answer["type"] == "rtc_answer" and answer["ref"] == 7 and set(answer) == {"type", "ref", "sdp"}
                media = SessionDescription.parse(answer["sdp"]).media
                assert [m.kind for m in media] == ["audio"] and media[0].direction == "recvonly"
                assert [c.mimeType for c in media[0].rtp.codecs] == ["audio/opus"]
                assert "127.0.0.1" in [c.ip for c in media[0].ice_candidates]
                closed = await say(ws, {"type": "rtc_close", "ref": 8})
                assert closed == {"type": "ok", "ref": 8}


def bad_offers(offer: str) -> list[tuple[str, str]]:
    """(what, sdp) of offers that break one rule each."""
    no_candidates = "\r\n".join(line for line in offer.split("\r\n") if not line.startswith("a=candidate"))
    video = offer.replace("m=audio", "m=video")
    recvonly = offer.replace("a=sendonly", "a=recvonly")
    return [
        ("not SDP", "hello, I am not an offer"),
        ("binary-looking", "v=0\r\no=\x00\x01\x02\r\nm=audio x y\r\n"),
        ("too big", offer + "a=x-padding:" + "x" * 16_384 + "\r\n"),
        ("no candidates", no_candidates),
        ("video", video),
        ("not sending", recvonly),
        ("two sections", offer + offer[offer.index("m=audio") :]),
    ]


@pytest.fixture
def unlimited_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server without per-request rate limits: more bad offers than `rtc_offers` allows at once."""
    srv = start_server(tmp_path / "data", "--rate-limits", "off")
    try:
        yield srv
    finally:
        assert stop_server(srv) == 0


@at_the_pace
async def test_bad_offers_and_garbage_datagrams_are_refused_and_the_speaker_keeps_being_heard(
    unlimited_server: ServerProcess,
) -> None:
    with trio.fail_after(60):
        async with speaking_space(unlimited_server.url) as (host, ada, lis):
            real = await offer()
            heard: list[tuple[int, int, bytes]] = []

            async def listen() -> None:
                heard.extend(await collect(lis, 4.0))

            async with open_rtc_speaker(host, encode_tone(A_HZ, 4.0)) as speaker, trio.open_nursery() as n:
                n.start_soon(listen)
                for what, sdp in bad_offers(real):
                    with pytest.raises(RequestError) as refused:
                        await ada.rtc_offer(sdp)
                    assert refused.value.code in ("bad_sdp", "bad_message"), what
                    assert refused.value.code == "bad_sdp" or what == "too big", what
                # Datagrams that are not the peer's (random, RTP-, DTLS- and STUN-looking) at the server's ports.
                assert speaker.pc.remoteDescription is not None
                candidates = SessionDescription.parse(speaker.pc.remoteDescription.sdp).media[0].ice_candidates
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    for i in range(300):
                        for c in candidates:
                            if c.ip == "127.0.0.1":
                                lead = (0x80, 0x16, 0x00, 0x42)[i % 4]
                                junk = bytes([lead]) + bytes((i * 7 + k) % 256 for k in range(120))
                                sock.sendto(junk, (c.ip, c.port))
                        if i % 50 == 0:
                            await trio.sleep(0.1)
                await ada.share_post("still here")  # the refused connection is fine
            pcm = steady_pcm(heard)
            assert_tone_present(pcm, A_HZ)
            assert len(heard) > 0.9 * 4.0 * 50 - 10, f"the tone went on: {len(heard)} frames"


@at_the_pace
async def test_leaving_the_mic_closes_the_peer_connection_and_the_speaker_is_no_longer_heard(
    server: ServerProcess,
) -> None:
    with trio.fail_after(60):
        async with speaking_space(server.url) as (host, ada, lis):
            async with open_rtc_speaker(ada, encode_tone(A_HZ, 1.0), repeat=True) as speaker:
                before = await collect(lis, 1.5)
                assert_tone_present(decode_stream([o for _, _, o in before]), A_HZ)  # the control
                await host.set_role(ada.user, Role.LISTENER)
                with trio.fail_after(5):
                    assert (await rtc_closed(ada)).reason == "left_mic"
                assert await settled(speaker, 10.0) in ("closed", "failed")
                await drain_once_quiet(server, lis)  # frames the mixer had already queued
                after = await collect(lis, 1.0)
                assert after == [], "nothing is heard once the speaker left the mic"
                with pytest.raises(RequestError) as refused:
                    await ada.rtc_offer(await offer())
                assert refused.value.code == "not_a_speaker"


@at_the_pace
async def test_a_muted_speakers_peer_connection_stays_open_and_is_heard_again_after_unmute(
    server: ServerProcess,
) -> None:
    with trio.fail_after(60):
        async with speaking_space(server.url) as (host, ada, lis):
            async with open_rtc_speaker(ada, encode_tone(A_HZ, 1.0), repeat=True) as speaker:
                assert_tone_present(decode_stream([o for _, _, o in await collect(lis, 1.0)]), A_HZ)
                await host.mute(ada.user)
                await drain_once_quiet(server, lis)  # frames the mixer had already queued
                assert await collect(lis, 1.0) == [], "a muted speaker is not heard"
                assert speaker.pc.connectionState == "connected"
                await ada.unmute()
                assert_tone_present(decode_stream([o for _, _, o in await collect(lis, 1.5)]), A_HZ)


@at_the_pace
async def test_the_websocket_closing_closes_the_peer_connection(server: ServerProcess) -> None:
    with trio.fail_after(60):
        async with trio_asyncio.open_loop():
            speaker = RtcSpeaker(OpusTrack(encode_tone(A_HZ, 1.0), repeat=True), ["127.0.0.1"])
            try:
                async with connect_account(server.url, "ada") as ada:
                    await ada.create_space("Closing")
                    sdp = await trio_asyncio.aio_as_trio(speaker.offer)()
                    await trio_asyncio.aio_as_trio(speaker.accept)(await ada.rtc_offer(sdp))
                    await trio_asyncio.aio_as_trio(speaker.connected)()
                    assert await settled(speaker, 1.0) == "connected"  # the control
                started = trio.current_time()
                assert await settled(speaker, 10.0) in ("closed", "failed")
                assert trio.current_time() - started < 5.0, "closed by the server, not by ICE's consent timeout"
            finally:
                await trio_asyncio.aio_as_trio(speaker.close)()
