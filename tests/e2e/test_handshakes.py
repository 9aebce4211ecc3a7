"""Handshakes in progress, capped before any request is read, on both transports.

The attack a black-box tester found: 150 connections from one address, each sending half an upgrade request,
held 150 descriptors for the whole handshake timeout (admission's cap of 64 connections per address acts only
on a request it has read). Now past 16 from one address each is closed at accept, while a client from another
address gets in; past the cap in all (1,024; 8 here), the oldest handshake is closed for the newcomer.

The other address is 127.0.0.2, a loopback address as 127.0.0.1 is (the server still listens on 127.0.0.1
alone): the only way to be a second client address on one machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
import trio

from gateway.client import connect
from gateway.gateway_config import GatewayConfig
from gateway.limits import LimitSettings
from gateway.server import Server, serve
from tests.conftest import start_server, stop_server
from tests.e2e.test_metrics import samples, value

PER_ADDRESS = LimitSettings().max_handshakes_per_address
HALF_A_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
WHOLE_REQUEST = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


async def half_requests(port: int, n: int) -> list[trio.socket.SocketType]:
    """`n` connections from 127.0.0.1, each with half an upgrade request sent."""
    socks = []
    for _ in range(n):
        sock = trio.socket.socket()
        await sock.connect(("127.0.0.1", port))
        await sock.send(HALF_A_REQUEST)
        socks.append(sock)
    return socks


async def closed_by_server(sock: trio.socket.SocketType, wait: float) -> bool:
    """Whether the server closed `sock` (FIN or reset), waiting at most `wait` to see it."""
    with trio.move_on_after(wait):
        try:
            data = await sock.recv(1)
        except ConnectionResetError:
            return True
        assert data == b"", "the server answered half a request"
        return True
    return False


async def answer(port: int, source: str) -> bytes:
    """What a client from `source` that sends its whole request gets: the answer's head, or b"" if closed."""
    with trio.socket.socket() as sock:
        await sock.bind((source, 0))
        await sock.connect(("127.0.0.1", port))
        await sock.send(WHOLE_REQUEST)
        head = b""
        while b"\r\n\r\n" not in head:
            try:
                chunk = await sock.recv(4096)
            except ConnectionResetError:
                return b""
            if not chunk:
                return b""
            head += chunk
        return head


async def gets_in(port: int, source: str) -> None:
    """A client from `source` sends its whole request and is answered 101."""
    head = await answer(port, source)
    assert head.startswith(b"HTTP/1.1 101 "), head


@pytest.mark.parametrize("transport", ["rust", "python"])
async def test_past_16_half_requests_from_one_address_each_is_closed_at_once_and_another_address_gets_in(
    tmp_path: Path, transport: str
) -> None:
    srv = start_server(tmp_path / "data", "--transport", transport)
    try:
        with trio.fail_after(30):
            attack = await half_requests(srv.port, 150)
            for i, sock in enumerate(attack[PER_ADDRESS:], PER_ADDRESS):
                assert await closed_by_server(sock, 2), f"connection {i} is still open"
            for i, sock in enumerate(attack[:PER_ADDRESS]):
                assert not await closed_by_server(sock, 0.02), f"connection {i} (within the cap) was closed"

            # Meanwhile: a client from another address gets in; one more from the attacker's is closed.
            await gets_in(srv.port, "127.0.0.2")
            [more] = await half_requests(srv.port, 1)
            assert await closed_by_server(more, 2)
            more.close()
            found = samples(srv)
            assert value(found, "stoa_rate_limit_refusals_total", limit="handshakes_per_address") == 150 - 16 + 1

            # The control: once its handshakes are over, the address gets in again. The Rust reader sees the
            # half requests end at once; trio-websocket holds a stream its client left until the handshake
            # timeout (10 s), and the count with it: its descriptor is held that long.
            for sock in attack:
                sock.close()
            while not await answer(srv.port, "127.0.0.1"):  # noqa: ASYNC110 (the server's own timeout frees them)
                await trio.sleep(0.2)
            async with connect(srv.url, "back") as back:
                assert (await back.list_spaces("live")).live == []
    finally:
        assert stop_server(srv) == 0


@pytest.mark.parametrize("transport", ["rust", "python"])
async def test_past_the_cap_in_all_the_oldest_handshake_is_closed_and_the_newcomer_kept(
    tmp_path: Path, transport: Literal["rust", "python"]
) -> None:
    limits = LimitSettings(max_handshakes=8)
    config = GatewayConfig(port=0, data_dir=tmp_path / "data", transport=transport, limits=limits)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            server: Server = await nursery.start(serve, config)
            first = await half_requests(server.port, 8)
            await trio.sleep(0.2)  # every one accepted and counted
            [newer] = await half_requests(server.port, 1)
            assert await closed_by_server(first[0], 2), "the oldest was not closed"
            for i, sock in enumerate(first[1:], 1):
                assert not await closed_by_server(sock, 0.02), f"connection {i} was closed"
            assert not await closed_by_server(newer, 0.02), "the newcomer was closed"
            await gets_in(server.port, "127.0.0.2")  # ending the oldest again
            assert await closed_by_server(first[1], 2)
            assert (
                server.gateway.limits.refused_by.get("handshakes", 0)
                + (server.wire.stats().handshakes_evicted if server.wire is not None else 0)
                == 2
            )
            for sock in (*first, newer):
                sock.close()
            await server.gateway.shut_down()
            nursery.cancel_scope.cancel()
