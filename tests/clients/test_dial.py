"""The Python client's connection opening (`stoa_client._dial.dial`) against servers that fail the upgrade the
ways a stopping server or a proxy does, on real loopback sockets: each failure reaches the caller at once, as
itself, and a server that answers still gets the request the client always sent."""

from __future__ import annotations

import socket
import struct
from functools import partial

import pytest
import trio
from stoa_client._dial import dial
from trio_websocket import ConnectionRejected, HandshakeError

UPGRADE_WAIT_S = 5.0  # far longer than any of these take: a hang fails the test, not a slow machine


async def serve_once(
    nursery: trio.Nursery, answer: bytes, *, reset: bool = False, host: str = "127.0.0.1"
) -> tuple[int, list[bytes]]:
    """A TCP server that reads one request, sends `answer` (perhaps nothing) and closes (with a reset if
    `reset`: SO_LINGER 0, as a stopping server's kernel does to connections it never accepted)."""
    heads: list[bytes] = []

    async def handler(stream: trio.SocketStream) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += await stream.receive_some(4096)
        heads.append(head)
        await stream.send_all(answer)
        if reset:
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()

    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host=host))
    return listeners[0].socket.getsockname()[1], heads


@pytest.mark.parametrize("answer", [b"", b"HTTP/1.1 101 Switching Protocols\r\nUpgr"], ids=["nothing", "half"])
@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
async def test_a_server_that_ends_the_connection_before_its_whole_answer_fails_the_dial_at_once(
    answer: bytes, reset: bool
) -> None:
    """trio-websocket 0.12 alone waits for ever here; a reconnecting client waited out its whole timeout."""
    async with trio.open_nursery() as nursery:
        port, heads = await serve_once(nursery, answer, reset=reset)
        with trio.fail_after(UPGRADE_WAIT_S), pytest.raises(HandshakeError, match="before the server answered"):
            await dial(nursery, f"ws://127.0.0.1:{port}/", 1 << 16)
        assert len(heads) == 1
        nursery.cancel_scope.cancel()


async def test_a_refusal_reaches_the_caller_with_its_status_and_headers_and_the_request_names_host_and_path() -> None:
    refusal = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 9\r\n\r\ndraining\n"
    async with trio.open_nursery() as nursery:
        port, heads = await serve_once(nursery, refusal)
        with trio.fail_after(UPGRADE_WAIT_S), pytest.raises(ConnectionRejected) as refused:
            await dial(nursery, f"ws://127.0.0.1:{port}/rooms?x=1", 1 << 16)
        assert refused.value.status_code == 503 and (b"retry-after", b"5") in refused.value.headers
        request = heads[0].decode("latin-1").lower()
        assert request.startswith("get /rooms?x=1 http/1.1\r\n") and f"host: 127.0.0.1:{port}\r\n" in request
        nursery.cancel_scope.cancel()


async def test_a_url_that_is_not_a_websocket_url_is_refused_before_any_connection() -> None:
    async with trio.open_nursery() as nursery:
        with pytest.raises(ValueError, match="not a WebSocket URL"):
            await dial(nursery, "http://127.0.0.1:1/", 1 << 16)


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
async def test_an_ipv6_literal_is_dialled_and_named_in_brackets_in_the_host_header() -> None:
    refusal = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
    async with trio.open_nursery() as nursery:
        port, heads = await serve_once(nursery, refusal, host="::1")
        with trio.fail_after(UPGRADE_WAIT_S), pytest.raises(ConnectionRejected):
            await dial(nursery, f"ws://[::1]:{port}/", 1 << 16)
        assert f"host: [::1]:{port}\r\n" in heads[0].decode("latin-1").lower()
        nursery.cancel_scope.cancel()
