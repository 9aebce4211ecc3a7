"""End to end: who is talking, through a real server process (the Rust wire, mixer, driver and fan-out), as
the Python client exposes it (`Client.speaking`, `next_speaking`) and as the independent `msgpack` package
reads it off a raw WebSocket."""

from __future__ import annotations

import time

import msgpack
import pytest
import trio
from trio_websocket import open_websocket_url

from actors.space import Role
from gateway.client import Client, connect, connect_account
from tests.audio import encode_silence, encode_tone
from tests.conftest import ServerProcess
from tests.space.test_speaking import KEPT_PACE_S

pytestmark = pytest.mark.serial  # the rings follow talk within 250 ms


async def stream(client: Client, packets: list[bytes], pace: list[float]) -> None:
    """Send packets at the real 20 ms pace; `pace` gets the longest the sending fell behind, in seconds."""
    start, behind = trio.current_time(), 0.0
    for i, packet in enumerate(packets):
        await trio.sleep_until(start + i * 0.020)
        behind = max(behind, trio.current_time() - (start + i * 0.020))
        await client.send_audio(i, time.time_ns() // 1000, packet)
    pace.append(behind)


async def raw_speaking(
    url: str, space_id: str, seconds: float, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> list[dict[str, object]]:
    """The `speaking` messages a listener speaking the protocol with `msgpack` gets within `seconds` of its
    join's answer (started then)."""
    got: list[dict[str, object]] = []
    async with open_websocket_url(url) as ws:
        await ws.send_message(msgpack.packb({"type": "hello", "protocol": 2, "name": "raw"}))
        assert msgpack.unpackb(await ws.get_message())["type"] == "welcome"
        await ws.send_message(msgpack.packb({"type": "join_space", "ref": 1, "space_id": space_id}))
        with trio.move_on_after(seconds):
            while True:
                message = msgpack.unpackb(await ws.get_message())
                if message["type"] == "speaking":
                    got.append(message)
                elif message["type"] == "joined":
                    task_status.started()
    return got


async def test_listeners_are_told_who_talks_and_a_latecomer_at_once(server: ServerProcess) -> None:
    with trio.fail_after(60):
        async with (
            connect_account(server.url, "host") as host,
            connect_account(server.url, "alice") as alice,
            connect(server.url, "ear") as ear,
            connect(server.url, "late") as late,
        ):
            space_id = (await host.create_space("Who talks")).space.space_id
            for client in (alice, ear):
                await client.join_space(space_id)
            await host.set_role(alice.user, Role.SPEAKER)
            raw: list[list[dict[str, object]]] = []

            async def run_raw(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
                raw.append(await raw_speaking(server.url, space_id, 4.0, task_status))

            pace: list[float] = []
            async with trio.open_nursery() as nursery:
                await nursery.start(run_raw)  # the raw listener has joined
                nursery.start_soon(stream, alice, encode_tone(440, 2.0), pace)
                nursery.start_soon(stream, host, encode_silence(2.0), [])  # the host's microphone is on, and quiet
                with trio.fail_after(5):
                    first = await ear.next_speaking()
                assert (first.space_id, first.user_ids) == (space_id, [alice.user])
                assert ear.speaking == (alice.user,)
                await trio.sleep(0.5)
                await late.join_space(space_id)  # mid-talk: told at once, with no change
                with trio.fail_after(1):
                    greeting = await late.next_speaking()
                greeted = greeting.user_ids, greeting.frame_seq
                with trio.fail_after(5):
                    # (a sender stalled for over 100 ms by a busy machine makes a pause in the talk, told too)
                    while (ended := await ear.next_speaking()).frame_seq < first.frame_seq + 90:
                        assert ended.user_ids in ([], [alice.user]), ended
                assert ended.user_ids == [] and ear.speaking == (), "told when alice's two seconds ended"

    if pace[0] < KEPT_PACE_S:  # alice's sending kept its pace (a quiet machine): no pause in her talk
        assert greeted == ([alice.user], first.frame_seq), "the set as the others were told it"
    told = [m["user_ids"] for m in raw[0]]
    assert told[0] == [alice.user] and told[-1] == [] and all(t in ([], [alice.user]) for t in told), told
    assert all(set(m) == {"type", "space_id", "user_ids", "frame_seq"} for m in raw[0])
