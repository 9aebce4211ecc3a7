"""Containment: whatever one connection sends or causes ends at most that connection.

Each attack runs against a real server process while a bystander space plays real Opus: its listener (speaking
the protocol with the independent `msgpack` package) must receive every frame, with no gap in `seq`, and the
server must still be alive. The attacker gets `bad_message` and its connection keeps working; a fault inside
the server's handling of one connection (injected in an in-process server) closes that connection alone with 1011.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Literal

import msgpack
import msgspec
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from gateway import protocol as p, requests
from gateway.client import Client, connect_account
from gateway.context import Caller
from gateway.errors import CloseCode
from gateway.gateway_config import GatewayConfig
from gateway.server import Server, serve
from gateway.session import Session
from tests.audio import encode_tone
from tests.conftest import ServerProcess
from tests.e2e.test_space_audio import stream

Transport = Literal["rust", "python"]
AUDIO_BURST, AUDIO_OVER_PACE = 250, 2_500  # docs/protocol.md, Rate limits and caps: audio
MAX_NESTING = 32  # docs/protocol.md: arrays and maps nest at most 32 levels, the message's own map included


def raw_str(data: bytes) -> bytes:
    """A msgpack str holding `data` as it is: the way to put bytes that are not UTF-8 into a str."""
    return msgpack.packb(data, use_bin_type=False)


def nested(levels: int) -> bytes:
    """`levels` arrays, each holding the next, the innermost holding nil."""
    return b"\x91" * levels + b"\xc0"


def message(*pairs: tuple[bytes, bytes]) -> bytes:
    """A msgpack map from already-encoded keys and values."""
    assert len(pairs) < 16
    return bytes([0x80 | len(pairs)]) + b"".join(k + v for k, v in pairs)


def pack(value: object) -> bytes:
    return msgpack.packb(value)


HELLO = ((pack("type"), pack("hello")), (pack("protocol"), pack(2)), (pack("name"), pack("mallory")))
CREATE = ((pack("type"), pack("create_space")), (pack("ref"), pack(5)), (pack("title"), pack("Mallory's")))

# (case, what the attacker sends). Each crashed the whole server before containment, but two that it accepted
# and now refuses by the documented rules: invalid UTF-8 in a field it ignores, and 33 levels of nesting.
ATTACKS = [
    ("invalid_utf8_key_7_bytes", b"\x81\xa4typ\xff\x01"),
    ("invalid_utf8_type", message((pack("type"), raw_str(b"\xff\xfe")))),
    ("invalid_utf8_key", message(*CREATE, (raw_str(b"ti\xfftle"), pack("x")))),
    ("invalid_utf8_value", message(*CREATE[:2], (pack("title"), raw_str(b"caf\xc3")))),
    ("invalid_utf8_ignored_field", message(*HELLO, (pack("note"), raw_str(b"\xed\xa0\x80")))),
    ("nesting_1000_arrays", message(*CREATE, (pack("extra"), nested(1000)))),
    ("nesting_1000_maps", message(*HELLO, (pack("extra"), b"\x81\xa1k" * 1000 + b"\xc0"))),
    ("nesting_33_levels", message(*HELLO, (pack("extra"), nested(MAX_NESTING)))),
    # Not a crash: 9 ms of the event loop each, within every rate limit (now refused after 1,024 values).
    ("values_65000_nils", message(*HELLO, (pack("extra"), b"\xdd" + (65_000).to_bytes(4, "big") + b"\xc0" * 65_000))),
]


async def say(ws: WebSocketConnection, data: bytes) -> dict:
    await ws.send_message(data)
    with trio.fail_after(5):
        return msgpack.unpackb(await ws.get_message())


async def reply_to(ws: WebSocketConnection, ref: int) -> dict:
    """The reply to request `ref`, past the events and audio that come before it."""
    with trio.fail_after(5):
        while True:
            m = msgpack.unpackb(await ws.get_message())
            if m.get("ref") == ref:
                return m


async def hello(ws: WebSocketConnection, user: str) -> None:
    reply = await say(ws, pack({"type": "hello", "protocol": 2, "name": user}))
    assert reply["type"] == "welcome", reply


async def listen(url: str, space_id: str, seqs: list[int], joined: trio.Event, stop: trio.Event) -> None:
    """The bystander: a listener that records the `seq` of every audio frame until `stop`."""
    async with open_websocket_url(url) as ws:
        await hello(ws, "bystander")
        reply = await say(ws, pack({"type": "join_space", "ref": 1, "space_id": space_id}))
        assert reply["type"] == "joined", reply
        joined.set()
        with trio.move_on_at(trio.current_time() + 30) as deadline:
            while not stop.is_set():
                with trio.move_on_after(0.2):
                    m = msgpack.unpackb(await ws.get_message())
                    if m["type"] == "audio":
                        seqs.extend(frame["seq"] for frame in m["frames"])
        assert not deadline.cancelled_caught


async def with_bystander(url: str, attack: Callable[[str], Awaitable[None]]) -> list[int]:
    """Play 2 s of a tone in a space with one listener; run `attack(space_id)` from 0.5 s in; return the
    listener's seqs."""
    seqs: list[int] = []
    async with connect_account(url, "host") as host:
        space_id = (await host.create_space("Bystanders")).space.space_id
        joined, stop = trio.Event(), trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(listen, url, space_id, seqs, joined, stop)
            await joined.wait()
            nursery.start_soon(speak_then_stop, host, stop)
            await trio.sleep(0.5)
            await attack(space_id)
    return seqs


async def speak_then_stop(host: Client, stop: trio.Event) -> None:
    await stream(host, encode_tone(440, 2.0))
    await trio.sleep(0.3)  # the last frames reach the listener
    stop.set()


def assert_every_frame_arrived(seqs: list[int]) -> None:
    assert len(seqs) >= 90, f"only {len(seqs)} of 100 frames arrived"
    gaps = [(a, b) for a, b in zip(seqs, seqs[1:], strict=False) if b != a + 1]
    assert not gaps, f"the bystander lost frames: seq gaps {gaps}"


@pytest.mark.parametrize("before_hello", [True, False], ids=["before_hello", "after_hello"])
@pytest.mark.parametrize(("case", "data"), ATTACKS, ids=[case for case, _ in ATTACKS])
async def test_undecodable_message_is_refused_and_harms_no_one(
    server: ServerProcess, case: str, data: bytes, before_hello: bool
) -> None:
    async def attack(_: str) -> None:
        async with open_websocket_url(server.url) as ws:
            if not before_hello:
                await hello(ws, "mallory")
            reply = await say(ws, data)
            assert (reply["type"], reply["code"], reply["ref"]) == ("error", "bad_message", None), reply
            # The attacker's connection still works.
            if before_hello:
                await hello(ws, "mallory")
            reply = await say(ws, pack({"type": "list_spaces", "ref": 9, "kind": "live"}))
            assert (reply["type"], reply["ref"]) == ("spaces", 9), reply

    with trio.fail_after(40):
        seqs = await with_bystander(server.url, attack)
    assert_every_frame_arrived(seqs)
    assert server.proc.poll() is None, "the server died"


@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("valid_utf8_everywhere", message(*HELLO, (pack("note"), pack("café ☕")))),
        ("nesting_at_the_limit", message(*HELLO, (pack("extra"), nested(MAX_NESTING - 1)))),
        # 1 (the map) + 6 (hello's keys and values) + 2 ("extra" and its array) + 1,015 nils = 1,024 values.
        (
            "values_at_the_limit",
            message(*HELLO, (pack("extra"), b"\xdc" + (1_015).to_bytes(2, "big") + b"\xc0" * 1_015)),
        ),
    ],
)
async def test_controls_just_inside_the_rules_are_accepted(server: ServerProcess, case: str, data: bytes) -> None:
    """The controls of the attacks above: the same shapes, valid UTF-8 and 32 levels deep, are welcome."""
    with trio.fail_after(20):
        async with open_websocket_url(server.url) as ws:
            reply = await say(ws, data)
            assert reply["type"] == "welcome", reply


async def run_in_process_server(
    tmp_path: Path, transport: Transport, attack: Callable[[str, str], Awaitable[None]]
) -> list[int]:
    """`with_bystander` against a server in this process (where a fault can be injected); returns the seqs."""
    config = GatewayConfig(port=0, data_dir=tmp_path / "data", transport=transport)
    async with trio.open_nursery() as nursery:
        server: Server = await nursery.start(serve, config)
        url = f"ws://127.0.0.1:{server.port}/"
        seqs = await with_bystander(url, partial(attack, url))
        await server.gateway.shut_down()
        nursery.cancel_scope.cancel()
    return seqs


def incident_of(closed: ConnectionClosed, caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    """The log record of the incident that a 1011 close names."""
    assert closed.reason.code == CloseCode.INTERNAL_ERROR, closed.reason
    reason = closed.reason.reason or ""
    assert reason.startswith("internal error (incident "), reason
    incident = reason.removeprefix("internal error (incident ").rstrip(")")
    logged = [r for r in caplog.records if f"incident {incident}:" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    return logged[0]


async def closed_by_server(ws: WebSocketConnection) -> ConnectionClosed:
    with pytest.raises(ConnectionClosed) as e:
        with trio.fail_after(5):
            while True:
                await ws.get_message()
    return e.value


@pytest.mark.parametrize("transport", ["rust", "python"])
async def test_a_fault_in_one_request_closes_its_connection_alone_with_1011(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    transport: Literal["rust", "python"],
) -> None:
    """A bug the server does not expect (injected: `react` raises) ends that connection only: its client is
    closed with 1011 naming an incident id, the log holds the id with the traceback, the failed session leaves
    its space, and the space's other listener keeps hearing every frame."""
    dispatch = requests.dispatch

    async def faulty(caller: Caller, m: msgspec.Struct) -> p.Reply:
        if isinstance(m, p.React):
            raise RuntimeError("injected fault")
        return await dispatch(caller, m)

    monkeypatch.setattr(requests, "dispatch", faulty)
    caplog.set_level(logging.ERROR, logger="gateway")
    closed: list[ConnectionClosed] = []
    snapshot: list[dict] = []

    async def attack(url: str, space_id: str) -> None:
        async with open_websocket_url(url) as ws:
            await hello(ws, "mallory")
            await ws.send_message(pack({"type": "join_space", "ref": 1, "space_id": space_id}))
            assert (await reply_to(ws, 1))["type"] == "joined"
            # The control: a request the fault does not touch is answered.
            await ws.send_message(pack({"type": "list_spaces", "ref": 2, "kind": "live"}))
            assert (await reply_to(ws, 2))["type"] == "spaces"
            await ws.send_message(pack({"type": "react", "ref": 3, "emoji": "👏"}))
            closed.append(await closed_by_server(ws))
        async with open_websocket_url(url) as ws:
            await hello(ws, "late")
            await ws.send_message(pack({"type": "join_space", "ref": 1, "space_id": space_id}))
            snapshot.append((await reply_to(ws, 1))["space"])

    with trio.fail_after(40):
        seqs = await run_in_process_server(tmp_path, transport, attack)
    assert_every_frame_arrived(seqs)
    assert "injected fault" in str(incident_of(closed[0], caplog).exc_info)
    names = [listener["name"] for listener in snapshot[0]["listeners"]]
    assert "mallory" not in names and "bystander" in names, "the failed session left (the other stays)"


@pytest.mark.parametrize("transport", ["rust", "python"])
async def test_a_fault_in_a_session_outside_requests_closes_it_alone_with_1011(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    transport: Literal["rust", "python"],
) -> None:
    """The guard around each connection (`Gateway.serve`): a session that fails (injected: `run` raises
    for the attacker's connection) is closed with 1011; the server and the bystander's space carry on."""
    run = Session.run
    armed = trio.Event()

    async def faulty(self: Session) -> None:
        if armed.is_set():
            raise RuntimeError("injected session fault")
        await run(self)

    monkeypatch.setattr(Session, "run", faulty)
    caplog.set_level(logging.ERROR, logger="gateway")
    closed: list[ConnectionClosed] = []

    async def attack(url: str, space_id: str) -> None:
        armed.set()
        async with open_websocket_url(url) as ws:
            closed.append(await closed_by_server(ws))

    with trio.fail_after(40):
        seqs = await run_in_process_server(tmp_path, transport, attack)
    assert_every_frame_arrived(seqs)
    assert "injected session fault" in str(incident_of(closed[0], caplog).exc_info)


async def test_contained_handler_reports_errors_and_lets_cancellation_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from gateway.errors import contained  # here, so that the module's other tests run on code without it

    log = logging.getLogger("gateway")

    async def broken(_: object) -> None:
        raise KeyError("boom")

    await contained(log, broken)(None)
    assert any("incident" in r.getMessage() and r.exc_info for r in caplog.records)

    async def sleeper(_: object) -> None:
        await trio.sleep_forever()

    with trio.move_on_after(0.01) as scope:
        await contained(log, sleeper)(None)
    assert scope.cancelled_caught, "trio.Cancelled must pass through the guard"


@pytest.mark.parametrize("transport", ["rust", "python"])
async def test_audio_faster_than_real_time_closes_that_connection_alone(tmp_path: Path, transport: Transport) -> None:
    """docs/protocol.md, Rate limits and caps: 250 `audio` messages at once, then 100 a second, the rest dropped;
    2,500 over that pace close the connection with 1008. Mallory sends as fast as it can until it is closed, a
    listener in another space hears every frame.

    Not a fixed count: the pace refills while the server reads, so a fixed 3,000 left only 249 messages of slack,
    2.5 s of reading, and on a busy machine the in-process server took 2.4 s to read them (one closed no
    connection). Sending on until the close makes it wait for the server however slowly it reads; the close
    still must not come before message 2,751 (the burst, then 2,500 over it, then one more)."""

    async def attack(url: str, _: str) -> None:
        # Its refusals (not in a space: at most one a second) wait unread in a queue that holds them all, so that
        # the connection's reader, never blocked on a full one, sees the close and `send_message` raises.
        async with open_websocket_url(url, message_queue_size=64) as ws:
            await hello(ws, "mallory")
            sent = 0
            with trio.fail_after(20), pytest.raises(ConnectionClosed) as closed:
                while True:  # while the server reads more than 100 a second, the debt grows to the close
                    await ws.send_message(
                        pack({"type": "audio", "seq": sent, "captured_at": 0, "opus": b"\xf8\xff\xfe"})
                    )
                    sent += 1
            reason = closed.value.reason
            assert (reason.code, reason.reason) == (CloseCode.POLICY_VIOLATION, "audio faster than real time")
            assert sent >= AUDIO_BURST + AUDIO_OVER_PACE + 1, f"closed after {sent} messages"

    with trio.fail_after(40):
        seqs = await run_in_process_server(tmp_path, transport, attack)
    assert_every_frame_arrived(seqs)
