"""Handshakes in progress, capped before any request is read, on both transports.

The attack a black-box tester found: 150 connections from one address, each sending half an upgrade request,
held 150 descriptors for the whole handshake timeout (admission's cap of 64 connections per address acts only
on a request it has read). Now past 16 from one address each is closed at accept, while a client from another
address gets in; past the cap in all (1,024; 8 here), a newcomer whose request is not whole closes the oldest
handshake, and one whose request is whole closes no one; a connection that sends nothing is not accepted
until its deferral (TCP_DEFER_ACCEPT) is over.

The other address is 127.0.0.2, a loopback address as 127.0.0.1 is (the server still listens on 127.0.0.1
alone): the only way to be a second client address on one machine.

An IPv6 client is counted by its /64, an IPv4-mapped address (::ffff:a.b.c.d) as the IPv4 address it maps
(`limits.client_key`). Loopback routes ::1 alone, so no two addresses of one /64 can connect here (their
count is tested on fake streams: tests/gateway/test_handshakes.py); what real sockets can show is 127.0.0.1
reported as ::ffff:127.0.0.1 by a dual-stack IPv6 socket bound to it, beside an IPv4 socket and ::1.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from ipaddress import ip_address
from pathlib import Path
from typing import Literal

import pytest
import trio
import trio.testing

from bench.handshake_flood import WHOLE_REQUEST
from gateway.client import connect
from gateway.gateway_config import GatewayConfig
from gateway.handshakes import GatedListener, Handshakes, peer
from gateway.limits import LimitSettings
from gateway.server import Server, serve
from tests.conftest import start_server, stop_server
from tests.e2e.test_metrics import samples, value

PER_ADDRESS = LimitSettings().max_handshakes_per_address
HALF_A_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"


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
        return await head_of(sock)


async def head_of(sock: trio.socket.SocketType) -> bytes:
    """The head of the answer `sock` is sent, or b"" if the server closes it first."""
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
            await gets_in(srv.port, "127.0.0.1")  # a whole request needs no slot: a neighbour behind one NAT
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
    with trio.fail_after(30):
        async with served(tmp_path, transport, LimitSettings(max_handshakes=8)) as server:
            first = await half_requests(server.port, 8)
            await accepted(server, 8)
            [newer] = await half_requests(server.port, 1)
            assert await closed_by_server(first[0], 2), "the oldest was not closed"
            for i, sock in enumerate(first[1:], 1):
                assert not await closed_by_server(sock, 0.02), f"connection {i} was closed"
            assert not await closed_by_server(newer, 0.02), "the newcomer was closed"
            await gets_in(server.port, "127.0.0.2")  # its request whole: it needs no slot, and ends no one
            assert not await closed_by_server(first[1], 0.1)
            assert (
                server.gateway.limits.refused_by.get("handshakes", 0)
                + (server.wire.stats().handshakes_evicted if server.wire is not None else 0)
                == 1
            )
            for sock in (*first, newer):
                sock.close()


@pytest.mark.parametrize("transport", ["rust", "python"])
async def test_a_burst_past_the_cap_in_all_held_by_half_requests_gets_in_whole_and_closes_no_one(
    tmp_path: Path, transport: Literal["rust", "python"]
) -> None:
    """A popular host's notification while an attacker holds every slot (4 here) with half requests: 40
    connect at once, each sending its request a little later. The kernel holds them unaccepted until their
    bytes come (TCP_DEFER_ACCEPT), and each then comes whole, needing no slot: all get in and the half
    requests stay. (Ending the oldest for every newcomer at once, as both transports once did, shut out
    8,789 of a burst of 10,000 joins.)"""
    limits = LimitSettings(max_handshakes=4, defer_accept_s=5)  # 5 s (7, as Linux counts): a slow CI machine
    with trio.fail_after(30):
        async with served(tmp_path, transport, limits) as server:
            held = await half_requests(server.port, 4)
            await accepted(server, 4)
            burst = []
            for _ in range(40):
                sock = trio.socket.socket()
                await sock.connect(("127.0.0.1", server.port))
                burst.append(sock)
            await trio.sleep(0.1)  # longer than a round trip here, much shorter than the deferral
            if server.wire is not None:
                assert server.wire.stats().connections == 4, "accepted before sending anything"
            for sock in burst:
                await sock.send(WHOLE_REQUEST)
            for i, sock in enumerate(burst):
                head = await head_of(sock)
                assert head.startswith(b"HTTP/1.1 101 "), f"connection {i}: {head!r}"
            refused = server.gateway.limits.refused_by
            if server.wire is not None:
                assert (server.wire.stats().handshakes_evicted, server.wire.stats().handshakes_refused) == (0, 0)
            assert (refused.get("handshakes", 0), refused.get("handshakes_per_address", 0)) == (0, 0)
            for i, sock in enumerate(held):
                assert not await closed_by_server(sock, 0.02), f"half request {i} was closed"
            for sock in (*held, *burst):
                sock.close()


@asynccontextmanager
async def served(tmp_path: Path, transport: Literal["rust", "python"], limits: LimitSettings) -> AsyncIterator[Server]:
    """A server in this process (its counts at hand), shut down at the end."""
    config = GatewayConfig(port=0, data_dir=tmp_path / "data", transport=transport, limits=limits)
    async with trio.open_nursery() as nursery:
        server: Server = await nursery.start(serve, config)
        yield server
        await server.gateway.shut_down()
        nursery.cancel_scope.cancel()


async def accepted(server: Server, n: int) -> None:
    """Until `server` has accepted (and so counted) `n` connections: by the Rust wire's count of those open, or,
    on the Python transport, whose accept loop is a task of this process, until every task here waits (the
    kernel's accept queue wakes that loop while it holds any)."""
    if server.wire is None:
        await trio.testing.wait_all_tasks_blocked()
        return
    while server.wire.stats().connections < n:  # noqa: ASYNC110 (the count is the Rust reader thread's)
        await trio.sleep(0.001)


async def listening(family: socket.AddressFamily, address: str, *, v6only: bool = True) -> trio.SocketListener:
    sock = trio.socket.socket(family)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
    await sock.bind((address, 0))
    sock.listen()
    return trio.SocketListener(sock)


async def test_the_python_gate_counts_127_0_0_1_as_one_client_whether_its_socket_reports_it_mapped_or_not() -> None:
    """The gate of `--transport python` on three sockets sharing one count: 127.0.0.1 on IPv4, 127.0.0.1 on
    a dual-stack IPv6 socket (its clients are ::ffff:127.0.0.1), and ::1. (The Rust wire's own test is
    mixer-rs/wire/tests/handshakes.rs; a server's own IPv6 sockets are IPv6-only, so only these see it.)"""
    refused: list[str] = []
    handshakes = Handshakes(PER_ADDRESS, 1024, refused.append)
    v4 = await listening(socket.AF_INET, "127.0.0.1")
    mapped = await listening(socket.AF_INET6, "::ffff:127.0.0.1", v6only=False)
    v6 = await listening(socket.AF_INET6, "::1")
    passed: list[trio.SocketStream] = []

    async def pass_on(listener: GatedListener) -> None:
        while True:
            passed.append(await listener.accept())

    async def passed_count(n: int) -> None:
        while len(passed) < n:  # noqa: ASYNC110 (the kernel's accept queue: no event to wait on)
            await trio.sleep(0.01)

    def port(listener: trio.SocketListener) -> int:
        return int(listener.socket.getsockname()[1])

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            for listener in (v4, mapped, v6):
                nursery.start_soon(pass_on, GatedListener(listener, handshakes))
            clients = [await trio.open_tcp_stream("127.0.0.1", port(mapped)) for _ in range(PER_ADDRESS)]
            await passed_count(PER_ADDRESS)
            reported = {ip_address(peer(stream)[0]) for stream in passed}
            assert reported == {ip_address("::ffff:127.0.0.1")}, "the kernel did not map them"

            # One more from 127.0.0.1, through the IPv4 socket: the same client, closed at accept.
            async with await trio.open_tcp_stream("127.0.0.1", port(v4)) as more:
                assert await closed_by_server(more.socket, 2), "127.0.0.1 was counted apart from ::ffff:127.0.0.1"
            assert refused == ["handshakes_per_address"] and len(passed) == PER_ADDRESS

            # ::1 is another client (not lumped with the mapped addresses into ::/64).
            async with await trio.open_tcp_stream("::1", port(v6)):
                await passed_count(PER_ADDRESS + 1)
            assert peer(passed[-1])[0] == "::1" and refused == ["handshakes_per_address"]
            for stream in (*clients, *passed):
                await stream.aclose()
            nursery.cancel_scope.cancel()
        for listener in (v4, mapped, v6):
            await listener.aclose()
