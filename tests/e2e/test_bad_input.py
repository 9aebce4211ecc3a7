"""Bad input from one client gets the documented error or close code, and nobody else notices."""

from __future__ import annotations

import time

import msgpack
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from actors.space import PostShared, Role
from gateway.client import Client, RequestError, connect
from tests.audio import encode_tone
from tests.conftest import ServerProcess


async def say(ws: WebSocketConnection, message: object) -> dict:
    await ws.send_message(msgpack.packb(message) if not isinstance(message, bytes) else message)
    with trio.fail_after(5):
        return msgpack.unpackb(await ws.get_message())


async def hello(ws: WebSocketConnection, user: str) -> None:
    reply = await say(ws, {"type": "hello", "protocol": 1, "user": user})
    assert reply["type"] == "welcome", reply


# (what the client sends after hello, expected error code, expected ref)
ERROR_CASES = [
    (b"\xc1not msgpack", "bad_message", None),
    (b"\x93\x01\x02\x03", "bad_message", None),  # an array, not a map
    ({"type": "dance", "ref": 4}, "unknown_type", 4),
    ({"ref": 5}, "bad_message", 5),  # no type
    ({"type": "create_space", "ref": 6, "title": 12}, "bad_message", 6),
    ({"type": "create_space", "ref": 7, "title": "   "}, "bad_argument", 7),
    ({"type": "join_space", "ref": 8, "space_id": "nope"}, "no_such_space", 8),
    ({"type": "share_post", "ref": 9, "text": "not in a space yet"}, "not_in_space", 9),
    ({"type": "set_role", "ref": 10, "user": "x", "role": "speaker"}, "not_in_space", 10),
    ({"type": "set_role", "ref": 11, "user": "bad name!", "role": "speaker"}, "bad_message", 11),
    ({"type": "audio", "seq": 1, "captured_at": 1, "opus": b"\x00"}, "not_in_space", None),
    ({"type": "hello", "protocol": 1, "user": "again"}, "already_authenticated", None),
]


@pytest.mark.parametrize(("message", "code", "ref"), ERROR_CASES)
async def test_bad_request_gets_documented_error(
    server: ServerProcess, message: object, code: str, ref: int | None
) -> None:
    with trio.fail_after(20):
        async with open_websocket_url(server.url) as ws:
            await hello(ws, "prober")
            reply = await say(ws, message)
            assert reply == {"type": "error", "ref": ref, "code": code, "message": reply["message"]}
            assert reply["message"]
            # The connection is still usable afterwards.
            ok = await say(ws, {"type": "create_space", "ref": 99, "title": "still fine"})
            assert ok["type"] == "joined" and ok["ref"] == 99


async def test_requests_before_hello_are_refused(server: ServerProcess) -> None:
    with trio.fail_after(20):
        async with open_websocket_url(server.url) as ws:
            reply = await say(ws, {"type": "create_space", "ref": 1, "title": "too soon"})
            assert (reply["type"], reply["code"], reply["ref"]) == ("error", "not_authenticated", 1)
            reply = await say(ws, {"type": "hello", "protocol": 2, "user": "future"})
            assert (reply["type"], reply["code"]) == ("error", "unsupported_protocol")


@pytest.mark.parametrize(
    ("payload", "close_code"),
    [
        (b"\x80" + b"x" * (64 * 1024 + 1), 1009),  # over the 64 KiB message limit
        ("a text frame", 1003),
    ],
)
async def test_oversized_or_text_frames_close_the_connection(
    server: ServerProcess, payload: bytes | str, close_code: int
) -> None:
    with trio.fail_after(20):
        async with open_websocket_url(server.url) as ws:
            await hello(ws, "bulky")
            await ws.send_message(payload)
            with pytest.raises(ConnectionClosed) as closed:
                with trio.fail_after(5):
                    await ws.get_message()
            assert closed.value.reason.code == close_code


async def wait_for_post(client: Client, text: str) -> PostShared:
    while True:
        event = await client.next_event()
        if isinstance(event, PostShared) and event.post.text == text:
            return event


async def test_misbehaving_client_does_not_disturb_the_space(server: ServerProcess) -> None:
    url = server.url
    with trio.fail_after(40):
        async with connect(url, "host") as host, connect(url, "calm") as calm, connect(url, "rowdy") as rowdy:
            space_id = (await host.create_space("Calm room")).space.space_id
            await calm.join_space(space_id)
            await rowdy.join_space(space_id)
            with pytest.raises(RequestError) as e:
                await calm.join_space(space_id)
            assert e.value.code == "already_in_space"

            # rowdy, a listener, tries everything a listener may not do.
            for packet in encode_tone(440, 0.2):
                await rowdy.send_audio(0, time.time_ns() // 1000, packet)
            refusal = await rowdy.next_event()
            while not hasattr(refusal, "code"):
                refusal = await rowdy.next_event()
            assert refusal.code == "not_a_speaker"  # type: ignore[union-attr]
            for attempt, code in (
                (rowdy.set_role("calm", Role.SPEAKER), "not_allowed"),
                (rowdy.set_role("host", Role.LISTENER), "not_allowed"),
                (rowdy.end_space(), "not_allowed"),
                (rowdy.share_post("x" * 1001), "bad_argument"),
            ):
                with pytest.raises(RequestError) as e:
                    await attempt
                assert e.value.code == code
            await rowdy.ws.send_message(b"\xc1")
            await rowdy.ws.send_message(msgpack.packb({"type": "share_post", "ref": 1, "text": ["no"]}))

            # The host still runs the space; the calm listener still gets every event, in order.
            await host.share_post("still here")
            event = await wait_for_post(calm, "still here")
            assert event.post.user == "host"
            async with connect(url, "late") as late:
                snap = (await late.join_space(space_id)).space
                assert [p.text for p in snap.timeline] == ["still here"]
                assert [(p.user, p.role) for p in snap.participants] == [("host", Role.HOST)]
                assert snap.listeners == ["calm", "rowdy", "late"] and snap.listener_count == 3
