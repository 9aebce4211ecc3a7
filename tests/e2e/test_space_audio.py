"""End to end: a real server process, real sockets, real Opus. Two speakers, three listeners, one late joiner."""

from __future__ import annotations

import time

import msgpack
import numpy as np
import pytest
import trio
from trio_websocket import open_websocket_url

from actors.space import Role
from gateway.client import Client, connect, connect_account
from tests.audio import assert_tone_absent, assert_tone_present, decode_stream, encode_tone
from tests.conftest import ServerProcess

pytestmark = pytest.mark.serial  # frames counted and stamped at the 20 ms pace

A_HZ, B_HZ = 440.0, 1000.0
SECONDS = 3.0


async def stream(client: Client, packets: list[bytes]) -> None:
    """Send packets at the real 20 ms pace, each stamped with its capture time."""
    start = trio.current_time()
    for i, packet in enumerate(packets):
        await trio.sleep_until(start + i * 0.020)
        await client.send_audio(i, time.time_ns() // 1000, packet)


async def collect(client: Client, seconds: float) -> list[tuple[int, int, bytes]]:
    frames: list[tuple[int, int, bytes]] = []
    with trio.move_on_after(seconds):
        while True:
            f = await client.audio.receive()
            frames.append((f.seq, f.captured_at, f.opus))
    return frames


def steady_pcm(frames: list[tuple[int, int, bytes]]) -> np.ndarray:
    """Decode a received stream and keep its steady middle (no start-up or tail)."""
    assert len(frames) > 100, f"only {len(frames)} frames arrived"
    pcm = decode_stream([opus for _, _, opus in frames])
    return pcm[len(pcm) // 5 : len(pcm) * 4 // 5]


async def raw_listener(
    url: str, space_id: str, seconds: float, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> tuple[list[dict], list[bytes]]:
    """A listener speaking the protocol with the independent msgpack package: proves the wire format. Started
    once the server answered its join (it hears from then on), for `seconds` from then."""
    messages: list[dict] = []
    opus: list[bytes] = []
    async with open_websocket_url(url) as ws:
        await ws.send_message(msgpack.packb({"type": "hello", "protocol": 2, "name": "raw_listener"}))
        welcome = msgpack.unpackb(await ws.get_message())
        assert welcome["type"] == "welcome" and welcome["limits"]["frame_ms"] == 20
        assert welcome["protocol"] == 2 and welcome["user"].startswith("g-") and welcome["name"] == "raw_listener"
        assert welcome["handle"] is None and welcome["guest_token"]
        await ws.send_message(msgpack.packb({"type": "join_space", "ref": 7, "space_id": space_id}))
        with trio.move_on_after(seconds):
            while True:
                m = msgpack.unpackb(await ws.get_message())
                if m["type"] == "audio":
                    for frame in m["frames"]:
                        assert set(frame) == {"seq", "captured_at", "opus"}
                        assert isinstance(frame["opus"], bytes)
                        opus.append(frame["opus"])
                else:
                    messages.append(m)
                    if len(messages) == 1:
                        task_status.started()  # the first is the answer to its join, checked by the caller
    return messages, opus


async def test_both_speakers_are_heard_and_each_speaker_hears_only_the_other(server: ServerProcess) -> None:
    url = server.url
    with trio.fail_after(60):
        async with (
            connect_account(url, "host") as host,
            connect_account(url, "alice") as alice,
            connect_account(url, "bob") as bob,
            connect(url, "l1") as l1,
            connect(url, "l2") as l2,
        ):
            joined = await host.create_space("Tones in the afternoon")
            space_id = joined.space.space_id
            assert joined.role is Role.HOST
            for c in (alice, bob, l1, l2):
                j = await c.join_space(space_id)
                assert j.role is Role.LISTENER
            await host.set_role(alice.user, Role.SPEAKER)
            await host.set_role(bob.user, Role.SPEAKER)
            await host.share_post("Welcome: two tones today")
            await alice.share_post("I am 440 Hz")

            results: dict[str, list] = {}
            raw: dict[str, tuple] = {}

            async def run_collect(name: str, client: Client) -> None:
                results[name] = await collect(client, SECONDS + 1.5)

            async def run_raw(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
                raw["l3"] = await raw_listener(url, space_id, SECONDS + 1.5, task_status)

            a_packets, b_packets = encode_tone(A_HZ, SECONDS), encode_tone(B_HZ, SECONDS)
            async with trio.open_nursery() as n:
                for name, c in (("l1", l1), ("l2", l2), ("alice", alice), ("bob", bob)):
                    n.start_soon(run_collect, name, c)
                await n.start(run_raw)  # the raw listener has joined
                n.start_soon(stream, alice, a_packets)
                n.start_soon(stream, bob, b_packets)

            for name in ("l1", "l2"):
                pcm = steady_pcm(results[name])
                assert_tone_present(pcm, A_HZ)
                assert_tone_present(pcm, B_HZ)
                seqs = [s for s, _, _ in results[name]]
                assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "frames in order, no duplicates"

            raw_messages, raw_opus = raw["l3"]
            assert raw_messages[0]["type"] == "joined" and raw_messages[0]["ref"] == 7
            snapshot = raw_messages[0]["space"]
            assert (snapshot["host"], snapshot["host_name"]) == (host.user, "host")
            assert [(p["user"], p["name"], p["role"]) for p in snapshot["participants"]] == [
                (host.user, "host", "host"),
                (alice.user, "alice", "speaker"),
                (bob.user, "bob", "speaker"),
            ]
            assert [(p["user"], p["name"]) for p in snapshot["timeline"]] == [
                (host.user, "host"),
                (alice.user, "alice"),
            ]
            pcm = steady_pcm([(0, 0, o) for o in raw_opus])
            assert_tone_present(pcm, A_HZ)
            assert_tone_present(pcm, B_HZ)

            alice_hears = steady_pcm(results["alice"])
            assert_tone_present(alice_hears, B_HZ)
            assert_tone_absent(alice_hears, A_HZ, reference_hz=B_HZ)
            bob_hears = steady_pcm(results["bob"])
            assert_tone_present(bob_hears, A_HZ)
            assert_tone_absent(bob_hears, B_HZ, reference_hz=A_HZ)

            # Capture time travels with each frame (0 marks a frame of loss concealment only).
            stamped = [cap for _, cap, _ in results["l1"] if cap != 0]
            assert len(stamped) > 0.9 * len(results["l1"])
            last_sent = time.time_ns() // 1000
            assert all(0 < last_sent - cap < 10_000_000 for cap in stamped)

            async with connect(url, "late") as late:
                j = await late.join_space(space_id)
                texts = [post.text for post in j.space.timeline]
                assert texts == ["Welcome: two tones today", "I am 440 Hz"]
                assert [post.id for post in j.space.timeline] == [1, 2]
                assert [(p.user, p.name) for p in j.space.participants] == [
                    (host.user, "host"),
                    (alice.user, "alice"),
                    (bob.user, "bob"),
                ]
                # The raw listener has gone again; the snapshot counts who is here now.
                assert j.space.listener_count == 3
                assert [(p.user, p.name) for p in j.space.listeners] == [
                    (l1.user, "l1"),
                    (l2.user, "l2"),
                    (late.user, "late"),
                ]
