"""A listener that stops reading loses its own audio and is cut off; everyone else hears every frame."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import trio

from actors.space import AudienceChanged, Role
from actors.space.actor import AUDIENCE_INTERVAL_S
from gateway.client import Client, connect, connect_account
from gateway.gateway_config import GatewayConfig
from gateway.handshakes import NOTSENT_LOWAT
from gateway.server import LAG_GRACE_S, NOTICE_INTERVAL_S
from gateway.session import CLOSE_TIMEOUT_S
from mixer import Encoder
from tests.audio import tone_frames
from tests.conftest import start_server, stop_server
from tests.e2e.test_metrics import samples, value
from tests.e2e.wire import raw_handshake

pytestmark = pytest.mark.serial  # the others must hear every frame while one listener stalls

RCVBUF = 4096  # the stalled listener's receive buffer, as it asks (Linux doubles it)
RESUME_WINDOW_S = 1.0
STREAM_S = 15.0
# The voice's Opus at 256 kbit/s (32 KB a second; the tone at the tests' usual 32 kbit/s makes 4): the stalled
# listener's buffers fill in under a second, not in four, and so its cut-off is seen sooner.
PACKETS = [Encoder(bitrate=256_000, complexity=5).encode(frame) for frame in tone_frames(440, STREAM_S)]
BYTES_PER_S = sum(map(len, PACKETS)) / STREAM_S  # the Opus alone: the messages' own bytes make filling faster

# How long the host waits to see the stalled listener leave, by the documented limits (docs/protocol.md,
# `lagging` and Reconnecting; docs/operations.md, Limits): its audio is dropped only once everything before
# the fan-out's queue is full (at most 16 KiB unsent in the server's socket, TCP_NOTSENT_LOWAT, and its own
# receive buffer), and then the queue's 64 audio messages (one frame each for an audience this small); after
# 5 s of losing audio, seen at the next look at the fan-out's notices, it is closed with 4000, and the close
# handshake waits 2 s for an answer that never comes; its place is kept for the resume window; its departure
# is announced with the others', at most once a second. At 32 kbit/s those came to 16.8 s (12.1-13.6 s
# measured, against a bound of 14 s); they are 10.9 s now (10.7-11.0 s measured), and 3 s for a busy machine.
FILL_S = (NOTSENT_LOWAT + 2 * RCVBUF) / BYTES_PER_S + GatewayConfig().max_audio_messages * 0.020
CUT_OFF_S = FILL_S + LAG_GRACE_S + NOTICE_INTERVAL_S + CLOSE_TIMEOUT_S + RESUME_WINDOW_S + AUDIENCE_INTERVAL_S
CUT_OFF_BOUND_S = CUT_OFF_S + 3.0


def stalled_listener(port: int, space_id: str) -> socket.socket:
    """Connect, join, and never read again (with a tiny receive buffer, so the server notices soon)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    hello = {"type": "hello", "protocol": 2, "name": "stalled"}
    raw_handshake(sock, hello, {"type": "join_space", "ref": 1, "space_id": space_id})
    return sock


async def stream(client: Client) -> None:
    start = trio.current_time()
    for i, packet in enumerate(PACKETS):
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
    srv = start_server(tmp_path / "data", *options, "--resume-window", str(RESUME_WINDOW_S))
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
                    await stream(voice)
                    n.cancel_scope.cancel()
                stalled.close()

                assert left_after, "the stalled listener was never cut off"
                found = await trio.to_thread.run_sync(samples, srv)
                assert value(found, "stoa_slow_listener_disconnects_total") == 1  # the steady one was not
                assert left_after[0] < CUT_OFF_BOUND_S, f"cut off only after {left_after[0]:.1f} s"
                assert len(seqs) > 600
                assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "the steady listener lost or reordered frames"
    finally:
        stop_server(srv)
