"""The Rust transport's descriptor contract: a socket's registration with the fan-out's writer is undone on
every way out of a connection, cancellation during the handshake included, before Trio closes the socket,
so a descriptor number the kernel hands out again never receives bytes meant for someone else."""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing
from trio_websocket import WebSocketRequest

from gateway import transport
from gateway.transport import FanoutStream, serve_rust
from mixer import Fanout

MAX_MESSAGE = 65536
OLD_CONN = 1  # connection ids start at 1 in a new fan-out


async def never_called(request: WebSocketRequest, conn: int, outbox: object, stream: FanoutStream | None) -> None:
    raise AssertionError("no handshake completes in these tests")


def unread(sock: socket.socket) -> bytes:
    """Whatever has arrived on `sock` (it is made non-blocking)."""
    sock.setblocking(False)
    try:
        return sock.recv(65536)
    except BlockingIOError:
        return b""


async def misdelivered(fanout: Fanout) -> bytes:
    """Open fresh sockets (the kernel hands out the lowest free numbers: the old server socket's among them),
    send to the old connection, and return every byte that reached any of the fresh sockets."""
    pairs = [socket.socketpair() for _ in range(4)]
    try:
        fanout.send_raw(OLD_CONN, b"meant for the old client")
        await trio.sleep(0.2)  # the writer thread's turn
        return b"".join(unread(end) for pair in pairs for end in pair)
    finally:
        for pair in pairs:
            for end in pair:
                end.close()


async def wait_registered(fanout: Fanout) -> None:
    while fanout.stats().connections < 1:  # noqa: ASYNC110 (the state is the Rust writer's)
        await trio.sleep(0.01)


async def test_a_handshake_cancelled_from_outside_never_lets_its_bytes_reach_another_socket() -> None:
    fanout = Fanout()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_rust, fanout, "127.0.0.1", 0, never_called, MAX_MESSAGE)
            client = await trio.open_tcp_stream("127.0.0.1", port)  # sends nothing: the handshake waits
            await wait_registered(fanout)
            nursery.cancel_scope.cancel()  # the server stops with the handshake under way
        # The hazard first (as the control below shows it): were the old socket still registered, its bytes
        # would reach a socket that reuses its number. Then the cause: nothing stays registered.
        assert await misdelivered(fanout) == b""
        assert fanout.stats().connections == 0, "the cancelled connection is still registered"
        await client.aclose()
    fanout.shutdown()


async def test_a_client_that_hangs_up_during_the_handshake_is_unregistered_when_it_times_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transport, "HANDSHAKE_TIMEOUT_S", 0.3)
    fanout = Fanout()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_rust, fanout, "127.0.0.1", 0, never_called, MAX_MESSAGE)
            client = await trio.open_tcp_stream("127.0.0.1", port)
            await client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n")  # half a request, then gone
            await wait_registered(fanout)
            await client.aclose()
            with trio.move_on_after(1.0):  # the handshake's timeout, then the writer's release
                while fanout.stats().connections:  # noqa: ASYNC110
                    await trio.sleep(0.01)
            assert await misdelivered(fanout) == b"", "bytes for the hung-up client reached another socket"
            assert fanout.stats().connections == 0, "the hung-up connection is still registered"
            nursery.cancel_scope.cancel()
    fanout.shutdown()


async def test_control_a_socket_closed_while_registered_hands_its_bytes_to_the_next_socket() -> None:
    """The hazard itself, without the transport: the check above does see misdelivered bytes."""
    fanout = Fanout()
    old, _peer = socket.socketpair()
    conn = fanout.register(old.fileno(), borrow=True)
    assert conn == OLD_CONN
    old.close()  # closed before `close(conn)` and `released(conn)`: what the transport must never do
    with trio.fail_after(10):
        assert await misdelivered(fanout) == b"meant for the old client"
    fanout.shutdown()
