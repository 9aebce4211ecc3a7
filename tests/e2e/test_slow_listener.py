"""A listener that stops reading loses its own audio and is cut off; everyone else hears every frame."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import trio

from actors.space import AudienceChanged, Role
from gateway.client import Client, connect, connect_account
from tests.audio import encode_tone
from tests.conftest import start_server, stop_server
from tests.e2e.test_metrics import samples, value
from tests.e2e.wire import raw_handshake

pytestmark = pytest.mark.serial  # the others must hear every frame while one listener stalls


def stalled_listener(port: int, space_id: str) -> socket.socket:
    """Connect, join, and never read again (with a tiny receive buffer, so the server notices soon)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    hello = {"type": "hello", "protocol": 2, "name": "stalled"}
    raw_handshake(sock, hello, {"type": "join_space", "ref": 1, "space_id": space_id})
    return sock


async def stream(client: Client, seconds: float) -> None:
    packets = encode_tone(440, seconds)
    start = trio.current_time()
    for i, packet in enumerate(packets):
        await trio.sleep_until(start + i * 0.020)
        await client.send_audio(i, time.time_ns() // 1000, packet)


@pytest.mark.parametrize(
    "options",
    [[], ["--sndbuf", "4096"], ["--transport", "python"]],
    ids=["default", "sndbuf-4096", "python-transport"],
)
async def test_a_stalled_listener_is_cut_off_and_the_others_lose_nothing(tmp_path: Path, options: list[str]) -> None:
    # A listener cut off as too slow keeps its place for the resume window (here 1 s), then leaves. By default
    # the kernel holds at most 16 KiB unsent for it (TCP_NOTSENT_LOWAT, on both transports), so its send buffer
    # cannot grow to megabytes and hide it; `--sndbuf` (the Rust transport's) bounds the whole buffer.
    srv = start_server(tmp_path / "data", *options, "--resume-window", "1")
    try:
        with trio.fail_after(60):
            async with (
                connect_account(srv.url, "host") as host,
                connect_account(srv.url, "voice") as voice,
                connect(srv.url, "steady") as steady,
            ):
                space_id = (await host.create_space("Slow ones")).space.space_id
                await voice.join_space(space_id)
                await steady.join_space(space_id)
                await host.set_role(voice.user, Role.SPEAKER)
                stalled = await trio.to_thread.run_sync(stalled_listener, srv.port, space_id)

                seqs: list[int] = []
                left_after: list[float] = []

                async def collect() -> None:
                    async for frame in steady.audio:
                        seqs.append(frame.seq)

                async def watch_host() -> None:
                    t0 = trio.current_time()
                    while True:
                        event = await host.next_event()
                        if isinstance(event, AudienceChanged) and "stalled" in [p.name for p in event.departed]:
                            left_after.append(trio.current_time() - t0)
                            return

                async with trio.open_nursery() as n:
                    n.start_soon(collect)
                    n.start_soon(watch_host)
                    await stream(voice, 15.0)
                    n.cancel_scope.cancel()
                stalled.close()

                assert left_after, "the stalled listener was never cut off"
                found = await trio.to_thread.run_sync(samples, srv)
                assert value(found, "stoa_slow_listener_disconnects_total") == 1  # the steady one was not
                assert left_after[0] < 14, f"cut off only after {left_after[0]:.1f} s"
                assert len(seqs) > 600
                assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "the steady listener lost or reordered frames"
    finally:
        stop_server(srv)
