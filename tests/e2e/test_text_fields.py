"""Text fields and what a refused request costs, on the wire of a real server, decoded with `msgpack` as a
client written from docs/protocol.md would: the rule of *Text fields* (visible characters, no bidi
controls), topics given once, the token a `bad_argument` gives back (*Rate limits and caps*), the range of
`hello.protocol`, and the first `audience_changed` after a snapshot."""

from __future__ import annotations

import time

import msgpack
import pytest
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from gateway.limits import LimitSettings
from tests.conftest import ServerProcess
from tests.e2e.wire import PASSWORD, hello_account, hello_guest, say

LIMITS = LimitSettings()

REFUSED_TEXTS = [
    "",
    "   ",
    "x" * 101,
    "\u200b",  # zero-width space only
    " \u200b\u200c\u200d\u2060\ufeff ",  # zero-width characters and white space
    "\u3164",  # Hangul filler: a Default_Ignorable_Code_Point
    "\u2800",  # Braille pattern blank: not ignorable to Unicode, but shows nothing (a black-box tester's)
    "\u0301\u0301",  # combining marks alone, with nothing to sit on
    "\u2800\u0308 ",
    "\u202eevil",  # right-to-left override
    "a\u202ab",  # left-to-right embedding
    "bell\x07",  # a control character
]
ACCEPTED_TEXTS = [
    ("  hello  ", "hello"),
    ("\U0001f468\u200d\U0001f469\u200d\U0001f467", "\U0001f468\u200d\U0001f469\u200d\U0001f467"),  # ZWJ emoji
    ("\u05e9\u05dc\u05d5\u05dd\u200f!", "\u05e9\u05dc\u05d5\u05dd\u200f!"),  # a right-to-left mark is allowed
    # An Arabic name in first-strong isolates, as bidi-aware software wraps names: isolates are allowed.
    ("\u2068\u0645\u0631\u062d\u0628\u0627\u2069 hi", "\u2068\u0645\u0631\u062d\u0628\u0627\u2069 hi"),
    ("\u4f60\u597d \u4e16\u754c", "\u4f60\u597d \u4e16\u754c"),  # CJK
    ("\u0939\u093f\u0902\u0926\u0940", "\u0939\u093f\u0902\u0926\u0940"),  # Hindi: marks on letters
]


async def request(ws: WebSocketConnection, message: dict) -> dict:
    """Send a request and return its reply, skipping events and other messages without a `ref`."""
    await ws.send_message(msgpack.packb(message))
    with trio.fail_after(5):
        while True:
            reply = msgpack.unpackb(await ws.get_message())
            if reply.get("ref") == message["ref"]:
                return reply


@pytest.mark.parametrize("text", REFUSED_TEXTS, ids=repr)
async def test_a_title_or_post_without_visible_text_or_with_bidi_controls_is_bad_argument(
    server: ServerProcess, text: str
) -> None:
    with trio.fail_after(20):
        async with open_websocket_url(server.url) as ws:
            await hello_account(ws, "writer")
            refused = await request(ws, {"type": "create_space", "ref": 3, "title": text})
            assert (refused["type"], refused["code"]) == ("error", "bad_argument"), refused
            joined = await request(ws, {"type": "create_space", "ref": 4, "title": "Fine"})
            assert joined["type"] == "joined", joined
            post = await request(ws, {"type": "share_post", "ref": 5, "text": text if text != "x" * 101 else ""})
            assert (post["type"], post["code"]) == ("error", "bad_argument"), post
            soon = int(time.time() * 1000) + 3_600_000
            scheduled = await request(ws, {"type": "schedule_space", "ref": 6, "title": text, "starts_at": soon})
            assert (scheduled["type"], scheduled["code"]) == ("error", "bad_argument"), scheduled
            name = text if text != "x" * 101 else "x" * 51
            register = {"type": "register", "ref": 7, "handle": "other", "password": PASSWORD, "display_name": name}
            assert (await request(ws, register))["code"] == "bad_argument"


@pytest.mark.parametrize(("text", "kept"), ACCEPTED_TEXTS, ids=repr)
async def test_visible_text_is_kept_trimmed_with_its_joiners_and_marks(
    server: ServerProcess, text: str, kept: str
) -> None:
    with trio.fail_after(20):
        async with open_websocket_url(server.url) as ws:
            await hello_account(ws, "writer")
            joined = await request(ws, {"type": "create_space", "ref": 3, "title": text})
            assert joined["type"] == "joined" and joined["space"]["title"] == kept, joined
            ok = await request(ws, {"type": "share_post", "ref": 4, "text": f"{text}\nsecond line"})
            assert ok["type"] == "ok", ok


async def test_a_topic_given_twice_in_any_casing_is_bad_argument(server: ServerProcess) -> None:
    with trio.fail_after(20):
        async with open_websocket_url(server.url) as ws:
            await hello_account(ws, "writer")
            soon = int(time.time() * 1000) + 3_600_000
            for topics in (["music", "Music"], ["a", "b", "a"]):
                refused = await request(ws, {"type": "create_space", "ref": 3, "title": "T", "topics": topics})
                assert (refused["type"], refused["code"]) == ("error", "bad_argument"), refused
                scheduled = {"type": "schedule_space", "ref": 4, "title": "T", "starts_at": soon, "topics": topics}
                assert (await request(ws, scheduled))["code"] == "bad_argument"
            joined = await request(ws, {"type": "create_space", "ref": 5, "title": "T", "topics": ["music", "jazz"]})
            assert joined["space"]["topics"] == ["music", "jazz"], joined


async def test_refused_titles_spend_no_create_space_token(server: ServerProcess) -> None:
    """More typos than the burst of `create_space`, then the space is created at once."""
    with trio.fail_after(20):
        async with open_websocket_url(server.url) as ws:
            await hello_account(ws, "typist")
            for ref in range(3, 3 + LIMITS.create_space.burst + 2):
                refused = await request(ws, {"type": "create_space", "ref": ref, "title": "\u200b"})
                assert (refused["type"], refused["code"]) == ("error", "bad_argument"), refused
            joined = await request(ws, {"type": "create_space", "ref": 99, "title": "At last"})
            assert joined["type"] == "joined", joined


async def test_refused_registrations_spend_no_register_token_but_a_taken_handle_does(server: ServerProcess) -> None:
    """More bad handles and passwords than the burst of `register` per address, then an account is made;
    the control: a handle already taken keeps the token it spent (it says the handle exists)."""
    with trio.fail_after(20):
        async with open_websocket_url(server.url) as ws:
            await hello_guest(ws, "newcomer")
            bad = [{"handle": "no spaces", "password": PASSWORD}, {"handle": "shortpass", "password": "x"}]
            for ref in range(3, 3 + LIMITS.register.burst + 2):
                fields = bad[ref % 2] | {"type": "register", "ref": ref, "display_name": "New"}
                refused = await request(ws, fields)
                assert (refused["type"], refused["code"]) == ("error", "bad_argument"), refused
            made = {"type": "register", "handle": "first", "password": PASSWORD, "display_name": "New"}
            assert (await request(ws, made | {"ref": 20}))["type"] == "registered"
            for ref in range(21, 21 + LIMITS.register.burst - 1):
                taken = await request(ws, made | {"ref": ref})
                assert (taken["type"], taken["code"]) == ("error", "handle_taken"), taken
            spent = await request(ws, made | {"handle": "second", "ref": 40})
            assert (spent["type"], spent["code"]) == ("error", "rate_limited"), spent


async def test_a_refused_post_spends_no_share_post_token_but_a_served_one_does(server: ServerProcess) -> None:
    """The control: served posts spend the budget, so the one past the burst is refused."""
    with trio.fail_after(20):
        async with open_websocket_url(server.url) as ws:
            await hello_account(ws, "poster")
            assert (await request(ws, {"type": "create_space", "ref": 3, "title": "Posts"}))["type"] == "joined"
            for ref in range(10, 10 + LIMITS.share_post.burst * 2):
                refused = await request(ws, {"type": "share_post", "ref": ref, "text": "\u202e"})
                assert refused["code"] == "bad_argument", refused
            codes = [
                (await request(ws, {"type": "share_post", "ref": ref, "text": "hi"})).get("code")
                for ref in range(100, 100 + LIMITS.share_post.burst + 1)
            ]
            assert codes[:-1] == [None] * LIMITS.share_post.burst and codes[-1] == "rate_limited", codes


async def test_endless_invalid_requests_are_bounded_by_the_connection_budget(server: ServerProcess) -> None:
    with trio.fail_after(20):
        async with open_websocket_url(server.url) as ws:
            await hello_account(ws, "flooder")
            messages = [
                msgpack.packb({"type": "create_space", "ref": ref, "title": ""})
                for ref in range(10, 10 + LIMITS.requests.burst + 20)
            ]
            for data in messages:  # all at once: the budget refills at 20 a second
                await ws.send_message(data)
            replies = [msgpack.unpackb(await ws.get_message()) for _ in messages]
            codes = {reply["code"] for reply in replies}
            assert codes == {"bad_argument", "rate_limited"}, codes
            limited = [r for r in replies if r["code"] == "rate_limited"]
            assert all("requests on one connection" in r["message"] for r in limited), limited


@pytest.mark.parametrize(
    ("protocol", "code"),
    [
        (2**64 - 1, "bad_message"),
        (2**63, "bad_message"),
        (2**63 - 1, "unsupported_protocol"),
        (-(2**63), "unsupported_protocol"),
    ],
)
async def test_hello_protocol_beyond_the_signed_64_bit_range_is_bad_message(
    server: ServerProcess, protocol: int, code: str
) -> None:
    with trio.fail_after(20):
        async with open_websocket_url(server.url) as ws:
            reply = await say(ws, {"type": "hello", "protocol": protocol, "name": "future"})
            assert (reply["type"], reply["code"]) == ("error", code), reply
            await hello_guest(ws, "then")  # the connection is still open for a good hello


async def test_the_first_audience_changed_after_a_snapshot_may_repeat_the_joiner_and_has_the_next_seq(
    server: ServerProcess,
) -> None:
    """As docs/protocol.md (Events) says: the joiner's arrival is in its snapshot and in the next
    `audience_changed`, which the joiner receives too (seq continuity), as do the others."""
    with trio.fail_after(20):
        async with open_websocket_url(server.url) as host, open_websocket_url(server.url) as guest:
            await hello_account(host, "hostess")
            space = (await request(host, {"type": "create_space", "ref": 3, "title": "Audience"}))["space"]
            me = (await hello_guest(guest, "lena"))["user"]
            joined = await request(guest, {"type": "join_space", "ref": 1, "space_id": space["space_id"]})
            snapshot = joined["space"]
            assert me in [p["user"] for p in snapshot["listeners"]] and snapshot["listener_count"] == 1
            seen = []
            for ws in (guest, host):
                with trio.fail_after(5):
                    event = msgpack.unpackb(await ws.get_message())
                    while event["type"] != "audience_changed":
                        event = msgpack.unpackb(await ws.get_message())
                seen.append(event)
            assert seen[0] == seen[1]
            assert seen[0]["seq"] == snapshot["seq"] + 1
            assert seen[0]["listener_count"] == 1 and [p["user"] for p in seen[0]["arrived"]] == [me]
