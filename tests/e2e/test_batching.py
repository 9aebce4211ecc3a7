"""End to end: a space's frames per message follow its audience (docs/protocol.md, `audio`; docs/operations.md,
Frames per message). A real server process with `--listeners-per-frame 2`, two speakers streaming real Opus
tones, and a listener reading the raw protocol with the independent `msgpack` package while the audience
grows from 1 to 5 listeners and shrinks back: the messages it gets hold 1, 2, 3, then 2, then 1 frame, every
frame arrives once and in order across each switch, and the speakers' own streams stay at one frame."""

from __future__ import annotations

import time

import msgpack
import pytest
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from actors.space import Role
from gateway.client import Client, connect_account
from tests.audio import assert_tone_present, decode_stream, encode_tone
from tests.conftest import start_server, stop_server
from tests.e2e.wire import hello_account, hello_guest

pytestmark = pytest.mark.serial  # no frame lost across switches, read at the 20 ms pace

A_HZ, B_HZ = 440.0, 1000.0
PHASE_S = 1.0  # 50 frames: a phase ends on 16 messages or more, and the audience changes within a few ms of its start
# Listeners in the audience in each phase, and the frames per message of 2 listeners per frame:
# N frames hold up to 2N listeners; down a step only within 80% of the lower one (1 frame: 1.6 listeners).
AUDIENCE = [1, 3, 5, 2, 1]
EXPECTED_FRAMES = [1, 2, 3, 2, 1]


async def join(ws: WebSocketConnection, space_id: str) -> None:
    await ws.send_message(msgpack.packb({"type": "join_space", "ref": 1, "space_id": space_id}))
    while (reply := msgpack.unpackb(await ws.get_message()))["type"] != "joined":
        assert reply["type"] not in ("error", "refused"), reply


async def read_audio(ws: WebSocketConnection, out: list[list[dict]], cut: set[int] | None = None) -> None:
    """Every `audio` message's frames, in the order they came; in `cut`, the index of each one that a control
    message followed (the audio before a reply or an event goes out before it, even before its batch is full)."""
    while True:
        message = msgpack.unpackb(await ws.get_message())
        if message["type"] == "audio":
            out.append(message["frames"])
        elif out and cut is not None:
            cut.add(len(out) - 1)


async def listener(url: str, space_id: str, leave: trio.Event, *, task_status: trio.TaskStatus[None]) -> None:
    """One more member of the audience, reading (and dropping) everything until `leave` is set."""
    async with open_websocket_url(url) as ws:
        await hello_guest(ws, "listener")
        await join(ws, space_id)
        task_status.started()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_audio, ws, [])
            await leave.wait()
            nursery.cancel_scope.cancel()


async def stream_host(host: Client, packets: list[bytes]) -> None:
    start = trio.current_time()
    for i, packet in enumerate(packets):
        await trio.sleep_until(start + i * 0.020)
        await host.send_audio(i, time.time_ns() // 1000, packet)


async def stream_raw(ws: WebSocketConnection, packets: list[bytes]) -> None:
    start = trio.current_time()
    for i, packet in enumerate(packets):
        await trio.sleep_until(start + i * 0.020)
        audio = {"type": "audio", "seq": i, "captured_at": time.time_ns() // 1000, "opus": packet}
        await ws.send_message(msgpack.packb(audio))


async def test_frames_per_message_follow_the_audience_and_no_frame_is_lost_at_a_switch(tmp_path) -> None:
    server = start_server(tmp_path / "data", "--listeners-per-frame", "2")
    url = server.url
    seconds = PHASE_S * len(AUDIENCE) + 2.0
    heard: list[list[dict]] = []
    cut: set[int] = set()  # messages of `heard` a control message followed
    spoken: list[list[dict]] = []
    phase_starts: list[int] = []  # messages the listener had when each phase began
    try:
        with trio.fail_after(60):
            async with (
                connect_account(url, "host") as host,
                open_websocket_url(url) as alice,
                open_websocket_url(url) as ear,
                trio.open_nursery() as nursery,
            ):
                space_id = (await host.create_space("Batching")).space.space_id
                alice_id = (await hello_account(alice, "alice"))["user"]
                await join(alice, space_id)
                await host.set_role(alice_id, Role.SPEAKER)
                await hello_guest(ear, "ear")
                await join(ear, space_id)
                nursery.start_soon(read_audio, ear, heard, cut)
                nursery.start_soon(read_audio, alice, spoken)
                nursery.start_soon(stream_host, host, encode_tone(A_HZ, seconds))
                nursery.start_soon(stream_raw, alice, encode_tone(B_HZ, seconds))

                others: list[trio.Event] = []  # one per listener besides the ear, set to make it leave
                for audience in AUDIENCE:
                    while len(others) + 1 < audience:
                        others.append(trio.Event())
                        await nursery.start(listener, url, space_id, others[-1])
                    while len(others) + 1 > audience:
                        others.pop().set()
                    phase_starts.append(len(heard))
                    await trio.sleep(PHASE_S)
                nursery.cancel_scope.cancel()
    finally:
        assert stop_server(server) == 0

    seqs = [frame["seq"] for message in heard for frame in message]
    assert len(seqs) > 0.8 * len(AUDIENCE) * PHASE_S * 50, f"audio flowed: {len(seqs)} frames"
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "every frame once, in order, across every switch"
    sizes = [len(message) for message in heard]
    # A message shorter than both its neighbours was sent early: the mix went quiet for a moment (a packet
    # late on a busy machine), and what was batched went out then. So was one a control message followed, and
    # the rest of its batch is the message after it.
    early = {i for i in range(1, len(sizes) - 1) if sizes[i] < min(sizes[i - 1], sizes[i + 1])}
    early |= cut | {i + 1 for i in cut}
    full = [s for i, s in enumerate(sizes) if i not in early]
    steps = [size for i, size in enumerate(full) if i == 0 or size != full[i - 1]]
    assert steps == EXPECTED_FRAMES, f"frames per message: {sizes}"
    # Each phase settles at its size (a message under way when the audience changed keeps the old one).
    for phase, (start, frames) in enumerate(zip(phase_starts, EXPECTED_FRAMES, strict=True)):
        end = phase_starts[phase + 1] if phase + 1 < len(phase_starts) else len(sizes)
        tail = [sizes[i] for i in range(start, end) if i not in early][-3:]
        assert tail.count(frames) >= 2, f"phase {phase} ends at {frames} frames a message: {sizes[start:end]}"
    pcm = decode_stream([frame["opus"] for message in heard for frame in message])
    assert_tone_present(pcm[len(pcm) // 5 :], A_HZ)
    assert_tone_present(pcm[len(pcm) // 5 :], B_HZ)
    # A speaker's own stream (its mix-minus) is never batched.
    assert len(spoken) > 100 and all(len(message) == 1 for message in spoken), [len(m) for m in spoken[:20]]
