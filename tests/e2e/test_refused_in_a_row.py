"""A flood of refused messages is bounded (docs/protocol.md, *Rate limits and caps*, *Refused in a row*): every
message but `audio` spends one of the connection's `requests` (50 at once, then 20 a second), checked before
the message is decoded; more than 20 refused unread in a row (`bad_message`, `unknown_type`, or `rate_limited`
by `requests`) close the connection with 1008; only a message read and handled as a request ends the row.

Real servers, both transports; frames decoded with the independent `msgpack` package. The "valid" message
is `leave_space` outside a space: read and handled, answered with its own error, `not_in_space`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from gateway.limits import LimitSettings
from gateway.refusals import MAX_REFUSED_IN_A_ROW
from tests.conftest import ServerProcess, start_server, stop_server
from tests.e2e.wire import hello_guest

REQUESTS = LimitSettings().requests
BURST = REQUESTS.burst
REFUSED_CLOSE = (1008, "too many refused messages in a row")


@pytest.fixture(params=["rust", "python"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    srv = start_server(tmp_path / "data", "--transport", request.param)
    try:
        yield srv
    finally:
        assert stop_server(srv) == 0


def bad(ref: int) -> bytes:
    return msgpack.packb({"type": "dance", "ref": ref})  # unknown_type


def valid(ref: int) -> bytes:
    return msgpack.packb({"type": "leave_space", "ref": ref})  # not_in_space: read and handled


async def replies(ws: WebSocketConnection, n: int) -> list[dict]:
    with trio.fail_after(10):
        return [msgpack.unpackb(await ws.get_message()) for _ in range(n)]


async def until_closed(ws: WebSocketConnection, answered: list[dict], wait_s: float) -> tuple[int, str | None]:
    """Keep the replies until the server closes (its close code and reason), or fail after `wait_s`."""
    with trio.move_on_after(wait_s):
        try:
            while True:
                answered.append(msgpack.unpackb(await ws.get_message()))
        except ConnectionClosed as closed:
            assert closed.reason is not None
            return closed.reason.code, closed.reason.reason
    raise AssertionError(f"still open after {wait_s} s and {len(answered)} replies")


async def fresh_bucket(ws: WebSocketConnection) -> None:
    """Say hello, then wait for the token it spent to come back: the bucket is full (`BURST`)."""
    await hello_guest(ws, "flooder")
    await trio.sleep(1.5 / REQUESTS.per_s)


async def test_a_flood_of_bad_messages_with_one_valid_in_twenty_is_closed_with_1008(served: ServerProcess) -> None:
    """19 bad messages, then a valid request, again and again, as fast as the socket takes them. The valid one
    once reset the count of bad messages in a row, so this flood ran forever; now each spends a token, the
    bucket runs dry, and the rest (valid ones too) are refused `rate_limited`, 21 in a row: closed."""
    answered: list[dict] = []
    with trio.fail_after(30):
        async with open_websocket_url(served.url) as ws:
            await fresh_bucket(ws)

            async def flood() -> None:
                try:
                    for ref in range(2_000):  # 100 rounds: far past the bucket, and past 21 refused in a row
                        await ws.send_message(valid(ref) if ref % 20 == 19 else bad(ref))
                except ConnectionClosed:
                    pass  # closed while it still sent

            async with trio.open_nursery() as nursery:
                nursery.start_soon(flood)
                assert await until_closed(ws, answered, 10) == REFUSED_CLOSE
    assert len(answered) < BURST + 2 * MAX_REFUSED_IN_A_ROW, "the flood was bounded by the bucket"


async def test_bad_messages_past_the_bucket_are_refused_rate_limited_with_their_ref(served: ServerProcess) -> None:
    """The connection's `requests` limit is checked before a message is decoded: bad messages spend its tokens,
    and once none is left a message is refused `rate_limited` whatever it is (its `ref` still read), a valid
    request too. A pause of `retry_after_ms` brings the connection back to work."""
    with trio.fail_after(30):
        async with open_websocket_url(served.url) as ws:
            await fresh_bucket(ws)
            # Rounds of 9 bad and 1 valid (the valid one ends each row), then bad and valid by turns: 10 past
            # the bucket, fewer than 21 refused in a row.
            expected = ["not_in_space" if ref % 10 == 9 else "unknown_type" for ref in range(BURST + 10)]
            expected[BURST:] = ["unknown_type", "not_in_space"] * 5
            started = trio.current_time()
            for ref, code in enumerate(expected):
                await ws.send_message(valid(ref) if code == "not_in_space" else bad(ref))
            answered = await replies(ws, len(expected))
            refilled = int((trio.current_time() - started) * REQUESTS.per_s) + 1
            assert [reply["ref"] for reply in answered] == list(range(len(expected)))  # every ref, in order
            limited = [ref for ref, reply in enumerate(answered) if reply["code"] == "rate_limited"]
            assert limited and len(limited) >= 10 - refilled, "past the bucket, a message is refused unread"
            assert BURST <= limited[0] and len(expected) - len(limited) <= BURST + refilled, limited
            assert any(expected[ref] == "not_in_space" for ref in limited), "a valid request is refused too"
            assert all(answered[ref]["code"] == code for ref, code in enumerate(expected) if ref not in limited)
            late = answered[limited[-1]]
            assert 0 < late["retry_after_ms"] <= 1000 / REQUESTS.per_s + 1
            await trio.sleep(late["retry_after_ms"] / 1000 + 0.01)
            await ws.send_message(valid(999))
            assert (await replies(ws, 1))[0] | {"message": ""} == {
                "type": "error",
                "ref": 999,
                "code": "not_in_space",
                "message": "",
            }


async def test_a_burst_past_the_limit_then_a_pause_stays_connected(served: ServerProcess) -> None:
    """A legitimate client that overruns `requests` by a few, then waits as told, is not closed."""
    with trio.fail_after(30):
        async with open_websocket_url(served.url) as ws:
            await fresh_bucket(ws)
            for _ in range(2):
                for ref in range(BURST + MAX_REFUSED_IN_A_ROW // 2):
                    await ws.send_message(valid(ref))
                answered = await replies(ws, BURST + MAX_REFUSED_IN_A_ROW // 2)
                limited = [reply for reply in answered if reply["code"] == "rate_limited"]
                assert 0 < len(limited) <= MAX_REFUSED_IN_A_ROW // 2
                await trio.sleep(BURST / REQUESTS.per_s)  # the bucket refills whole
            await ws.send_message(valid(1))
            assert (await replies(ws, 1))[0]["code"] == "not_in_space"


async def test_audio_neither_counts_nor_ends_a_row_of_refusals(served: ServerProcess) -> None:
    """20 bad messages, an `audio` message (refused: not in a space), one more bad: the 21st in a row closes
    the connection. Audio once ended the row, so a speaker's stream could keep a flood open."""
    audio = msgpack.packb({"type": "audio", "seq": 1, "captured_at": 1, "opus": b"\xf8\xff\xfe"})
    with trio.fail_after(30):
        async with open_websocket_url(served.url) as ws:
            await fresh_bucket(ws)
            for ref in range(MAX_REFUSED_IN_A_ROW):
                await ws.send_message(bad(ref))
            await ws.send_message(audio)
            await ws.send_message(bad(MAX_REFUSED_IN_A_ROW))
            answered: list[dict] = []
            assert await until_closed(ws, answered, 5) == REFUSED_CLOSE
            # Every refusal comes before the close frame; the audio's is its own reply (on the Rust transport,
            # maybe before the last bad ones').
            codes = Counter(reply["code"] for reply in answered)
            assert codes == Counter({"unknown_type": MAX_REFUSED_IN_A_ROW, "not_in_space": 1}), codes
