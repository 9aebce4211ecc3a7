"""Connection rules: Origin allow-list, one connection per user, orderly shutdown and close."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
import trio
import wsproto
import wsproto.events as ev
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from actors.space import AudienceChanged, ParticipantLeft, PostShared
from gateway.client import connect, connect_account
from gateway.refusals import MAX_REFUSED_IN_A_ROW
from tests.conftest import ServerProcess, start_server, stop_server
from tests.e2e.test_metrics import samples, value
from tests.e2e.wire import raw_handshake


@pytest.fixture(scope="module", params=["rust", "python"])
def either_transport(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server on each transport: both hand the handshake's Origin headers to the same admission."""
    srv = start_server(tmp_path_factory.mktemp(request.param) / "data", "--transport", request.param)
    try:
        yield srv
    finally:
        assert stop_server(srv) == 0


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        (None, True),  # not a browser
        ("http://127.0.0.1:3000", True),
        ("http://localhost", True),
        ("https://[::1]:8443", True),
        ("http://127.0.0.1:1", True),  # the ends of the port range
        ("http://127.0.0.1:65535", True),
        ("https://localhost:80", True),  # http's default port, not https's
        ("http://127.0.0.1:99999", False),  # not a port: no browser sends it
        ("http://127.0.0.1:65536", False),
        ("http://127.0.0.1:0", False),
        ("http://127.0.0.1:03000", False),  # browsers write no leading zero
        ("http://localhost:80", False),  # nor the scheme's default port
        ("https://localhost:443", False),
        ("http://127.0.0.1:", False),
        ("https://evil.example", False),
        ("null", False),
        ("http://127.0.0.1:1, http://evil.example", False),  # two origins merged into one header
        ("http://127.0.0.1:1/x", False),
        ("http://127.0.0.1:abc", False),
        ("http://LOCALHOST:1", False),  # browsers send lowercase
        ("http://127.0.0.1:1@evil.example", False),
        ("http://localhost.evil.example", False),
        ("capacitor://localhost", False),  # an app's web view: only when allow-listed (below)
    ],
)
async def test_browser_origins_are_checked_against_the_allow_list(
    either_transport: ServerProcess, origin: str | None, accepted: bool
) -> None:
    headers = [] if origin is None else [(b"Origin", origin.encode())]
    url = either_transport.url
    with trio.fail_after(10):
        if accepted:
            async with open_websocket_url(url, extra_headers=headers):
                pass
        else:
            with pytest.raises(ConnectionRejected) as rejected:
                async with open_websocket_url(url, extra_headers=headers):
                    pass
            assert rejected.value.status_code == 403
            headers = {k.decode().lower(): v.decode() for k, v in rejected.value.headers}
            assert headers["content-type"] == "text/plain; charset=utf-8"  # the body says why, for people


async def test_an_allow_list_may_name_an_apps_own_scheme_and_then_loopback_pages_are_refused(tmp_path: Path) -> None:
    """A web view wrapping the client in an app sends its own scheme (`capacitor://localhost`): an operator
    can allow it beside a site, and the allow-list then replaces the loopback default."""
    allowed = ("capacitor://localhost", "https://spaces.example.org")
    srv = start_server(tmp_path / "data", *(arg for origin in allowed for arg in ("--allow-origin", origin)))
    try:
        with trio.fail_after(10):
            for origin in allowed:
                async with open_websocket_url(srv.url, extra_headers=[(b"Origin", origin.encode())]):
                    pass
            for origin in ("http://127.0.0.1:3000", "capacitor://evil", "tauri://localhost"):
                with pytest.raises(ConnectionRejected) as rejected:
                    async with open_websocket_url(srv.url, extra_headers=[(b"Origin", origin.encode())]):
                        pass
                assert rejected.value.status_code == 403
    finally:
        assert stop_server(srv) == 0


async def test_a_second_connection_of_the_same_user_replaces_the_first(server: ServerProcess) -> None:
    """The same user is the same id proved again (here an account's token): the newer connection wins."""
    with trio.fail_after(20):
        async with connect_account(server.url, "host") as host, connect_account(server.url, "dana") as first:
            space_id = (await host.create_space("Reconnects")).space.space_id
            await first.join_space(space_id)
            async with connect(server.url, token=first.token) as second:
                assert second.user == first.user and second.handle == "dana"
                with trio.fail_after(5):
                    await first.closed.wait()
                assert first.ws.closed is not None and first.ws.closed.code == 4002
                # The new connection takes the place: same role, no one saw dana leave.
                joined = await second.join_space(space_id)
                assert joined.role == "listener"
                await host.share_post("still with us?")
                event = await second.next_event()
                assert isinstance(event, PostShared)
            seen = []
            while not isinstance(seen[-1] if seen else None, PostShared):
                seen.append(await host.next_event())
            assert not any(isinstance(e, ParticipantLeft) and e.user == first.user for e in seen)


async def test_sigterm_closes_every_connection_with_draining(tmp_path: object) -> None:
    """SIGTERM drains (tests/e2e/test_drain.py): clients are told 4004, reconnect elsewhere and resume."""
    srv = start_server(tmp_path / "data")  # type: ignore[operator]
    try:
        with trio.fail_after(20):
            async with open_websocket_url(srv.url) as ws:
                await trio.to_thread.run_sync(stop_server, srv)
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.get_message()
                assert closed.value.reason.code == 4004
    finally:
        stop_server(srv)


def silent_peer(port: int) -> tuple[int | None, float]:
    """A client that reads everything but never answers a ping: how and when the server closes it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    ws = raw_handshake(sock, {"type": "hello", "protocol": 2, "name": "mute"})
    start, pings = time.monotonic(), 0
    while True:
        data = sock.recv(4096)
        if not data:
            return None, time.monotonic() - start
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, ev.Ping):
                pings += 1  # and no pong
            elif isinstance(event, ev.CloseConnection):
                assert pings >= 1
                return event.code, time.monotonic() - start


def answering_peer(port: int, seconds: float) -> int:
    """A client that reads everything and answers every ping, silent otherwise: the pings in `seconds`."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    ws = raw_handshake(sock, {"type": "hello", "protocol": 2, "name": "idle"})
    deadline, pings = time.monotonic() + seconds, 0
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(4096)
        except TimeoutError:
            break
        assert data, "the server closed an idle client that answers its pings"
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, ev.Ping):
                pings += 1
                sock.sendall(ws.send(event.response()))
    sock.close()
    return pings


async def test_an_idle_client_is_pinged_every_five_seconds(either_transport: ServerProcess) -> None:
    with trio.fail_after(30):
        pings = await trio.to_thread.run_sync(answering_peer, either_transport.port, 12.0)
    assert pings == 2, f"{pings} pings in 12 s"


async def test_a_client_that_never_answers_pings_is_closed_after_ten_seconds(either_transport: ServerProcess) -> None:
    with trio.fail_after(30):
        code, after = await trio.to_thread.run_sync(silent_peer, either_transport.port)
    assert code == 4001
    assert 9 <= after <= 13, f"closed after {after:.1f} s"


async def test_a_client_that_never_says_hello_is_closed_after_the_hello_timeout(tmp_path: Path) -> None:
    # The timeout shortened to 2 s: its default, 10 s, is checked in tests/gateway/test_config.py.
    srv = start_server(tmp_path / "data", "--hello-timeout", "2")
    try:
        with trio.fail_after(30):
            async with open_websocket_url(srv.url) as ws:
                started = trio.current_time()
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.get_message()
                assert (closed.value.reason.code, closed.value.reason.reason) == (4003, "no hello within 2 s")
                assert 1.5 <= trio.current_time() - started <= 5
    finally:
        assert stop_server(srv) == 0


def refused_until_closed(port: int) -> tuple[list[str], int | None]:
    """A guest's hello then, in one segment, one message more than may be refused in a row: the server queues
    the welcome and a refusal for each but the last, which closes the connection with 1008 (docs/protocol.md,
    *Rate limits and caps*). Returns the `type` (an error's `code`) of each message before the close frame,
    and the frame's code (None: the connection ended without one)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    ws = raw_handshake(sock)
    messages = [{"type": "hello", "protocol": 2, "name": "refused"}]
    messages += [{"type": "dance", "ref": ref} for ref in range(MAX_REFUSED_IN_A_ROW + 1)]  # unknown_type
    sock.sendall(b"".join(ws.send(ev.BytesMessage(msgpack.packb(message))) for message in messages))
    seen: list[str] = []
    while data := sock.recv(65536):
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, ev.CloseConnection):
                sock.close()
                return seen, event.code
            if isinstance(event, ev.BytesMessage):
                message = msgpack.unpackb(event.data)
                seen.append(message.get("code", message["type"]))
    sock.close()
    return seen, None


async def test_replies_queued_before_the_server_closes_reach_the_client_before_its_close_frame(
    either_transport: ServerProcess,
) -> None:
    # The Python transport's close frame once overtook them: this client saw the welcome, 10 refusals, the close.
    with trio.fail_after(30):
        seen, code = await trio.to_thread.run_sync(refused_until_closed, either_transport.port)
    assert (seen, code) == (["welcome"] + ["unknown_type"] * MAX_REFUSED_IN_A_ROW, 1008)


def join_as_guest(port: int, space_id: str, name: str) -> tuple[socket.socket, wsproto.WSConnection]:
    """A guest `name` in `space_id`, on a blocking socket and wsproto, once its `join_space` is answered."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    ws = raw_handshake(sock, {"type": "hello", "protocol": 2, "name": name},
                       {"type": "join_space", "ref": 1, "space_id": space_id})  # fmt: skip
    joined = False
    while not joined:
        ws.receive_data(sock.recv(65536))
        events = ws.events()
        joined = any(isinstance(e, ev.BytesMessage) and msgpack.unpackb(e.data).get("ref") == 1 for e in events)
    return sock, ws


def ask_then_break_the_protocol(port: int, space_id: str) -> list[int]:
    """A guest in a space asks for its posts and, in the same segment, sends an unmasked frame (RFC 6455
    requires a client's to be masked), then never answers the server's close: the Rust reader closes it with
    1002 on its own, and waits 2 s for the answer before it tells the gateway. The gateway's reply to the
    request comes in that time. Returns the close codes seen."""
    sock, ws = join_as_guest(port, space_id, "breaker")
    ask = ws.send(ev.BytesMessage(msgpack.packb({"type": "get_posts", "ref": 2, "space_id": space_id})))
    sock.sendall(ask + b"\x82\x01x")  # then a binary frame, unmasked, of 1 byte
    codes = []
    while data := sock.recv(65536):  # the close frame, then FIN
        ws.receive_data(data)
        codes += [event.code for event in ws.events() if isinstance(event, ev.CloseConnection)]
    time.sleep(2.5)  # no answer: the server gives up waiting for it
    sock.close()
    return codes


async def test_a_close_the_reader_began_is_not_counted_as_a_slow_client(server: ServerProcess) -> None:
    # The reply is refused (the connection is closing): that is no sign of a client that reads too slowly.
    with trio.fail_after(30):
        async with connect_account(server.url, "host") as host:
            space_id = (await host.create_space("A client that breaks the protocol")).space.space_id
            codes = await trio.to_thread.run_sync(ask_then_break_the_protocol, server.port, space_id)
    assert codes == [1002]
    found = await trio.to_thread.run_sync(samples, server)
    assert value(found, "stoa_slow_listener_disconnects_total") == 0


# What a client sends that the wire itself closes the connection for (docs/protocol.md, *Close codes*), and the
# close code it gets: none of them keeps the client's place in its space, unlike a connection that just drops.
WIRE_CLOSES = {
    "unmasked": (lambda ws: b"\x82\x01x", 1002),  # a client's frames must be masked (RFC 6455)
    "text": (lambda ws: ws.send(ev.TextMessage("hello")), 1003),
    "too_big": (lambda ws: ws.send(ev.BytesMessage(b"x" * 70_000)), 1009),
    "dropped": (None, None),  # the control: no close frame at all (1006), so the place is kept
}


def join_then_misbehave(port: int, space_id: str, how: str) -> int | None:
    """A guest joins `space_id`, then sends what `how` names and answers the server's close frame; returns
    its code (None: the guest just closed its socket)."""
    sock, ws = join_as_guest(port, space_id, "misbehaving")
    make, _ = WIRE_CLOSES[how]
    code = None
    if make is not None:
        sock.sendall(make(ws))
        while code is None and (data := sock.recv(65536)):
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, ev.CloseConnection):
                    code = event.code
                    sock.sendall(ws.send(event.response()))
    sock.close()
    return code


@pytest.mark.parametrize("how", list(WIRE_CLOSES))
async def test_a_connection_the_wire_closes_for_a_broken_message_loses_its_place_at_once(
    either_transport: ServerProcess, how: str, request: pytest.FixtureRequest
) -> None:
    server = either_transport
    # The python transport's two differences (docs/protocol.md, *Close codes*): trio-websocket ends a broken
    # frame's connection without a close frame and sends 1009 itself; either way the place is kept.
    python = request.node.callspec.params["either_transport"] == "python"
    expected = None if python and how == "unmasked" else WIRE_CLOSES[how][1]
    kept = expected is None or (python and how == "too_big")
    with trio.fail_after(30):
        async with connect_account(server.url, f"host{list(WIRE_CLOSES).index(how)}") as host:  # a space each
            space_id = (await host.create_space(f"A guest that is {how}")).space.space_id
            code = await trio.to_thread.run_sync(join_then_misbehave, server.port, space_id, how)
            assert code == expected
            departed = False
            with trio.move_on_after(4):  # the resume window is 60 s; `audience_changed` comes once a second
                while not departed:
                    event = await host.next_event()
                    departed = isinstance(event, AudienceChanged) and "misbehaving" in [p.name for p in event.departed]
    assert departed == (not kept)
