"""A client whose replies and events overflow its send queue is closed with 4000 (docs/protocol.md, `lagging`
and *Close codes*), on both transports alike, and counted as a slow listener once: a client that stopped
reading (a server process), and one whose queue is smaller than a reply (a server in this process, with a
queue of 2 KiB), which the Python transport's writer used to close before the gateway could count it."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import msgpack
import pytest
import trio
import wsproto.events as ev
from trio_websocket import ConnectionClosed, open_websocket_url

from gateway.errors import OVERFLOW_REASON
from gateway.gateway_config import GatewayConfig
from gateway.server import NOTICE_INTERVAL_S, Server, serve
from tests.conftest import start_server, stop_server
from tests.e2e.test_metrics import samples, value
from tests.e2e.test_timeline import prefill
from tests.e2e.wire import hello_guest, raw_handshake

SPACE = "long-posts"
SLOW = "stoa_slow_listener_disconnects_total"
PAGES = 12  # each about 64 KiB: three times the 256 KiB queue, and the kernel's buffers besides


def ask_without_reading(port: int) -> tuple[list[str], int | None]:
    """A guest asks for `PAGES` pages of long posts in one go, with a tiny receive buffer, and reads nothing for
    a second: the replies overflow its queue. Then it reads to the end. Returns the `type` of each message it
    got, and the code of the server's close frame (None: the connection ended without one)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    asks = [{"type": "get_posts", "ref": ref, "space_id": SPACE, "limit": 100} for ref in range(1, PAGES + 1)]
    ws = raw_handshake(sock, {"type": "hello", "protocol": 2, "name": "stalled"}, *asks)
    time.sleep(1.0)  # the server answers every request meanwhile; nothing is read
    seen: list[str] = []
    message = b""  # wsproto hands a long message over in parts
    try:
        while data := sock.recv(65536):
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, ev.CloseConnection):
                    return seen, event.code
                if isinstance(event, ev.BytesMessage):
                    message += event.data
                    if event.message_finished:
                        seen.append(msgpack.unpackb(message)["type"])
                        message = b""
    finally:
        sock.close()
    return seen, None


async def long_posts(tmp_path: Path, posts: int) -> Path:
    """A data folder whose space `SPACE` holds `posts` posts of 4,000 bytes (a page holds 16 of them)."""
    data = tmp_path / "data"
    data.mkdir()
    await prefill(data, SPACE, posts, long_tail=posts)
    return data


@pytest.mark.parametrize("transport", ["rust", "python"])
async def test_a_client_whose_replies_overflow_its_queue_is_closed_with_4000_and_counted(
    tmp_path: Path, transport: str
) -> None:
    srv = start_server(await long_posts(tmp_path, 20), "--transport", transport)
    try:
        with trio.fail_after(30):
            seen, code = await trio.to_thread.run_sync(ask_without_reading, srv.port)
            assert code == 4000, f"the connection ended with {code} after {seen}"
            assert seen[0] == "welcome" and set(seen[1:]) <= {"posts"} and len(seen) < 1 + PAGES, seen
            # Counted as its session ends, once the server has seen the connection go.
            while value(found := await trio.to_thread.run_sync(samples, srv), SLOW) < 1:  # noqa: ASYNC110 (another process)
                await trio.sleep(NOTICE_INTERVAL_S)
            await trio.sleep(3 * NOTICE_INTERVAL_S)  # and never again
            assert value(await trio.to_thread.run_sync(samples, srv), SLOW) == value(found, SLOW) == 1
    finally:
        assert stop_server(srv) == 0


@pytest.mark.parametrize("transport", ["rust", "python"])
async def test_a_reply_larger_than_the_queue_closes_with_4000_and_is_counted_once(
    tmp_path: Path, transport: str
) -> None:
    data = await long_posts(tmp_path, 1)  # its page is twice the queue
    config = GatewayConfig(port=0, data_dir=data, transport=transport, max_queue_bytes=2048)  # type: ignore[arg-type]
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server: Server = await nursery.start(serve, config)
            metrics = server.gateway.metrics
            async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws:
                await hello_guest(ws, "small")
                await ws.send_message(msgpack.packb({"type": "get_posts", "ref": 1, "space_id": SPACE}))
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.get_message()
            assert closed.value.reason is not None
            assert (closed.value.reason.code, closed.value.reason.reason) == (4000, OVERFLOW_REASON)
            # Counted as its session ends (this client answered the 4000).
            while metrics.slow_disconnects.value < 1:  # noqa: ASYNC110 (a counter, no event to wait on)
                await trio.sleep(NOTICE_INTERVAL_S)
            await trio.sleep(3 * NOTICE_INTERVAL_S)  # and never again: the overflow's notice comes within one
            assert metrics.slow_disconnects.value == 1
            await server.gateway.shut_down()
            nursery.cancel_scope.cancel()
