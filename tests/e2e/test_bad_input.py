"""Bad input from one client gets the documented error or close code, and nobody else notices."""

from __future__ import annotations

import time

import msgpack
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from actors.space import PostShared, Role
from gateway.client import Client, RequestError, connect, connect_account
from tests.audio import encode_tone
from tests.conftest import ServerProcess
from tests.e2e.wire import hello_account, hello_guest, say

# (what an account sends after hello and log_in, expected error code, expected ref)
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
    ({"type": "set_role", "ref": 11, "user": "", "role": "speaker"}, "bad_message", 11),  # an id is 1 to 64
    ({"type": "audio", "seq": 1, "captured_at": 1, "opus": b"\x00"}, "not_in_space", None),
    ({"type": "hello", "protocol": 2, "name": "again"}, "already_authenticated", None),
    ({"type": "mute", "ref": 12, "user": "x" * 65}, "bad_message", 12),
]


@pytest.mark.parametrize(("message", "code", "ref"), ERROR_CASES)
async def test_bad_request_gets_documented_error(
    server: ServerProcess, message: object, code: str, ref: int | None
) -> None:
    with trio.fail_after(20):
        async with open_websocket_url(server.url) as ws:
            await hello_account(ws, "prober")
            reply = await say(ws, message)
            # exactly these fields: `retry_after_ms` comes only with `rate_limited`
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
            for hello, code in (
                ({"type": "hello", "protocol": 1, "user": "old"}, "unsupported_protocol"),  # protocol 1 is gone
                ({"type": "hello", "protocol": 3, "name": "future"}, "unsupported_protocol"),
                ({"type": "hello", "protocol": 2}, "bad_message"),  # neither a name, a token nor a guest token
                ({"type": "hello", "protocol": 2, "name": "bad name!"}, "bad_message"),
                ({"type": "hello", "protocol": 2, "token": "forged"}, "token_invalid"),
                ({"type": "hello", "protocol": 2, "guest_token": "g-0123456789ab.forged"}, "guest_token_invalid"),
            ):
                reply = await say(ws, hello)
                assert (reply["type"], reply["code"]) == ("error", code), hello
            welcome = await hello_guest(ws, "finally")
            assert welcome["user"].startswith("g-") and welcome["name"] == "finally"


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
            await hello_guest(ws, "bulky")
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
        async with (
            connect_account(url, "host") as host,
            connect(url, "calm") as calm,
            connect_account(url, "rowdy") as rowdy,
        ):
            space_id = (await host.create_space("Calm room")).space.space_id
            await calm.join_space(space_id)
            await rowdy.join_space(space_id)
            with pytest.raises(RequestError) as e:
                await calm.join_space(space_id)
            assert e.value.code == "already_in_space"

            # rowdy, an account listening, tries everything a listener may not do.
            for packet in encode_tone(440, 0.2):
                await rowdy.send_audio(0, time.time_ns() // 1000, packet)
            refusal = await rowdy.next_event()
            while not hasattr(refusal, "code"):
                refusal = await rowdy.next_event()
            assert refusal.code == "not_a_speaker"  # type: ignore[union-attr]
            for attempt, code in (
                (rowdy.set_role(calm.user, Role.SPEAKER), "not_allowed"),
                (rowdy.set_role(host.user, Role.LISTENER), "not_allowed"),
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
            assert (event.post.user, event.post.name) == (host.user, "host")
            async with connect(url, "late") as late:
                snap = (await late.join_space(space_id)).space
                assert [p.text for p in snap.timeline] == ["still here"]
                assert [(p.user, p.name, p.role) for p in snap.participants] == [(host.user, "host", Role.HOST)]
                assert [(p.user, p.name) for p in snap.listeners] == [
                    (calm.user, "calm"),
                    (rowdy.user, "rowdy"),
                    (late.user, "late"),
                ]
                assert snap.listener_count == 3 and (snap.host, snap.host_name) == (host.user, "host")
