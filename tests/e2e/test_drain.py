"""Draining, against real `stoa serve` processes and real sockets: SIGTERM (or `stoa drain`) makes /readyz answer
503 at once, refuses new handshakes with 503, closes every connection with 4004, and the process exits 0 once
the clients have gone (or at the drain timeout), with every acknowledged write in the store.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from gateway.client import Client, connect, connect_account
from mixer import ListenerPool
from tests.conftest import FORKS, ROOT, ServerProcess, start_server, stop_server
from tests.e2e.test_metrics import samples
from tests.e2e.wire import raw_handshake

LISTENERS = 49  # and the host: 50 clients


def http_status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code


def exit_code_within(server: ServerProcess, seconds: float) -> int | None:
    try:
        return server.proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


async def wait_until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    with trio.fail_after(seconds):
        while not condition():  # noqa: ASYNC110 (a condition of another process: polled)
            await trio.sleep(0.05)


async def told_to_reconnect(client: Client) -> None:
    """The reconnecting Python client saw its connection end with 4004 and, as the close-code table says
    (docs/protocol.md: 4004, reconnect and resume), did not give up: it keeps trying (refused with 503
    while the server drains, then no server at all), so `closed` (stopped for good) stays unset."""
    await wait_until(lambda: client.close_code is not None, 5.0)
    assert client.close_code == 4004
    assert client.ws.closed is not None and client.ws.closed.code == 4004, "its connection ended"
    assert not client.closed.is_set(), "a client told 4004 reconnects"


async def test_a_drain_tells_fifty_clients_to_reconnect_and_exits_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data, "--drain-timeout", "20")
    try:
        with trio.fail_after(60):
            async with connect_account(srv.url, "host") as host:
                space_id = (await host.create_space("Draining")).space.space_id
                await host.share_post("acknowledged before the drain")  # returns once the server said ok
                users = [f"listener_{i}" for i in range(LISTENERS)]
                with ListenerPool("127.0.0.1", srv.port, space_id, users, connect_per_s=500.0) as pool:
                    await wait_until(lambda: pool.stats().joined == LISTENERS)
                    assert http_status(srv.http_port or 0, "/readyz") == 200
                    started = time.monotonic()
                    srv.proc.send_signal(signal.SIGTERM)
                    code = await trio.to_thread.run_sync(exit_code_within, srv, 20.0)
                    took = time.monotonic() - started
                    assert code == 0, f"exit code {code}"
                    assert took < 20.0, f"the drain took {took:.1f} s, past its timeout"
                    # Every client was told, and none is left hanging: each saw 4004 and its connection end.
                    await wait_until(lambda: pool.stats().connected == 0, 5.0)
                    for listener in pool.listeners():
                        assert (listener.state, listener.close_code) == ("closed", 4004), listener
                    assert pool.stats().closed_by_server == LISTENERS
                await told_to_reconnect(host)
    finally:
        stop_server(srv)
    # No acknowledged write was lost: the post is there after a restart on the same data.
    again = start_server(data)
    try:
        with trio.fail_after(20):
            async with connect(again.url, "later") as later:
                snapshot = (await later.join_space(space_id)).space
                assert [post.text for post in snapshot.timeline] == ["acknowledged before the drain"]
    finally:
        assert stop_server(again) == 0


def stubborn_client(port: int) -> socket.socket:
    """A client that completes the handshake and `hello`, then reads nothing and answers nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw_handshake(sock, {"type": "hello", "protocol": 2, "name": "stubborn"})
    return sock


async def test_readyz_turns_503_at_once_and_new_clients_are_refused_while_draining(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", "--drain-timeout", "0.5")
    http = srv.http_port or 0
    try:
        with trio.fail_after(30):
            stubborn = await trio.to_thread.run_sync(stubborn_client, srv.port)
            await wait_until(lambda: samples(srv).get(("stoa_users_signed_in", ())) == 1, 5.0)  # its hello is in
            assert (http_status(http, "/healthz"), http_status(http, "/readyz")) == (200, 200)
            srv.proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            await wait_until(lambda: http_status(http, "/readyz") == 503, 1.0)
            assert http_status(http, "/healthz") == 200, "alive while it drains"
            with pytest.raises(ConnectionRejected) as refused:
                async with open_websocket_url(srv.url):
                    pass
            assert refused.value.status_code == 503
            assert (b"retry-after", b"5") in refused.value.headers  # when to come back (docs/protocol.md)
            # The stubborn client never answers its 4004: the drain ends at its timeout, cleanly.
            code = await trio.to_thread.run_sync(exit_code_within, srv, 10.0)
            assert code == 0
            assert time.monotonic() - started < 5.0
            stubborn.close()
    finally:
        stop_server(srv)


def run_drain(data: Path, wait: str) -> subprocess.CompletedProcess[str]:
    return FORKS.run(["drain", "--data", str(data), "--wait", wait], ROOT, timeout=30)


async def test_stoa_drain_finds_the_server_by_its_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data)
    try:
        with trio.fail_after(30):
            async with connect(srv.url, "lena") as lena:
                done = await trio.to_thread.run_sync(run_drain, data, "20")
                assert done.returncode == 0, done.stderr
                assert f"server {srv.proc.pid} has exited" in done.stdout
                await told_to_reconnect(lena)
        assert srv.proc.wait(timeout=5) == 0
        # The control: with no server on the folder, `stoa drain` says so and fails.
        none = await trio.to_thread.run_sync(run_drain, data, "0")
        assert none.returncode == 1 and "no server" in none.stderr
    finally:
        stop_server(srv)
