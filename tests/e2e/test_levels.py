"""Speakers who send each packet's `level` (docs/protocol.md, `audio`), against a real `stoa serve`: the messages
are written with the independent msgpack package, read by the Rust wire, mixed by the Rust mixer; what listeners
get is read off real sockets and the server's own /metrics. A lone talker's packets reach listeners exactly as
sent, none decoded; when a second voice joins, both are decoded, mixed and heard."""

from __future__ import annotations

import time
from functools import partial

import msgpack
import pytest
import trio
from stoa_protocol import audio_level

from actors.space import Role
from gateway.client import Client, connect, connect_account
from mixer import Encoder
from tests.audio import assert_tone_present, decode_stream, tone_frames
from tests.conftest import ServerProcess
from tests.e2e.levels import assert_lone_speaker_undecoded
from tests.e2e.test_metrics import samples, value

pytestmark = pytest.mark.serial  # every packet forwarded as it came, at the 20 ms pace

A_HZ, B_HZ = 440.0, 1000.0


def speech(freq_hz: float, seconds: float) -> list[tuple[bytes, int]]:
    """A tone's packets, each with the level of the samples it encodes, as a client measures its microphone."""
    encoder = Encoder(bitrate=32000, complexity=5)
    return [(encoder.encode(pcm), audio_level(pcm)) for pcm in tone_frames(freq_hz, seconds)]


async def send(speaker: Client, packets: list[tuple[bytes, int]], *, levels: bool, first_seq: int = 0) -> None:
    """At the real 20 ms pace, as `audio` messages packed by msgpack itself (`level` only if `levels`)."""
    start = trio.current_time()
    for i, (opus, level) in enumerate(packets):
        await trio.sleep_until(start + i * 0.020)
        message = {"type": "audio", "seq": first_seq + i, "captured_at": time.time_ns() // 1000, "opus": opus}
        if levels:
            message["level"] = level
        await speaker.ws.send_message(msgpack.packb(message))


async def heard(listener: Client, seconds: float, *, concealment: bool = True) -> list[bytes]:
    """The frames' Opus packets, those of loss concealment (`captured_at` 0: the hangover after a talker
    stops) left out unless `concealment`."""
    frames = []
    with trio.move_on_after(seconds):
        while True:
            frame = await listener.next_audio()
            if concealment or frame.captured_at:
                frames.append(frame.opus)
    return frames


async def test_a_lone_talker_with_levels_is_forwarded_undecoded_and_a_second_voice_is_mixed_in(
    server: ServerProcess,
) -> None:
    with trio.fail_after(60):
        async with (
            connect_account(server.url, "host") as host,
            connect_account(server.url, "guest") as guest,
            connect(server.url, "ear") as ear,
        ):
            space_id = (await host.create_space("Levels")).space.space_id
            await guest.join_space(space_id)
            await ear.join_space(space_id)
            await host.set_role(guest.user, Role.SPEAKER)
            before = await trio.to_thread.run_sync(samples, server)

            # The host alone, with levels: every packet reaches the listener as it was sent.
            alone = speech(A_HZ, 2.0)
            async with trio.open_nursery() as nursery:
                got: list[list[bytes]] = []
                nursery.start_soon(lambda: _into(got, heard(ear, 2.8, concealment=False)))
                await send(host, alone, levels=True)
            assert got[0] == [opus for opus, _ in alone], "every packet forwarded as it came"
            after_alone = await trio.to_thread.run_sync(samples, server)
            delta = _delta(before, after_alone)
            assert delta("stoa_speaker_packets_with_level_total") == len(alone)
            # None decoded while it talked on time; when it stopped, the hangover's loss concealment needed the
            # decoder, warmed up on the last 3 packets (a packet late for its tick on a loaded machine costs the same).
            assert_lone_speaker_undecoded(before, after_alone, at_least=len(alone))
            assert delta("stoa_wire_audio_total", route="routed") == len(alone), "read by the Rust wire"

            # Both talk, the guest without levels: the host's packets are decoded now, to be mixed. (The host's
            # packets go on numbering where they stopped: a `seq` already played is dropped as late.)
            a, b = speech(A_HZ, 2.0), speech(B_HZ, 2.0)
            async with trio.open_nursery() as nursery:
                got = []
                nursery.start_soon(lambda: _into(got, heard(ear, 2.8)))
                nursery.start_soon(partial(send, host, a, levels=True, first_seq=len(alone)))
                await send(guest, b, levels=False)
            pcm = decode_stream(got[0])
            steady = pcm[len(pcm) // 5 : len(pcm) * 3 // 5]
            assert_tone_present(steady, A_HZ)
            assert_tone_present(steady, B_HZ)
            after_both = await trio.to_thread.run_sync(samples, server)
            delta = _delta(after_alone, after_both)
            assert delta("stoa_speaker_packets_with_level_total") == len(a)
            decoded = delta("stoa_speaker_packets_decoded_total")
            assert decoded >= len(b) + 0.8 * len(a), f"both voices decoded to be mixed: {decoded}"
            assert decoded <= len(a) + len(b) + 3, "and each packet once (a warm-up of 3 at most)"


async def _into(out: list[list[bytes]], frames: object) -> None:
    out.append(await frames)  # type: ignore[misc]


def _delta(before: dict, after: dict):  # type: ignore[no-untyped-def]
    return lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)
