"""Every per-request rate limit against a real server with its default settings: the burst is served, the
request past it is refused with `rate_limited` and a `retry_after_ms` that matches the documented refill,
and, where the refill is quick, the same request is served again once that wait has passed (the control).

The bursts and refills are read from `LimitSettings`, the same values `docs/protocol.md` tabulates (a test in
tests/gateway/test_requests.py keeps the two equal). Register, log-in and the connection cap are checked in
test_identity.py.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import msgpack
import pytest
import trio
from trio_websocket import open_websocket_url

from gateway.client import Client, RequestError, connect, connect_account
from gateway.limits import LimitSettings
from tests.conftest import ServerProcess

LIMITS = LimitSettings()
WAIT_AT_MOST_MS = 1500  # the control waits out `retry_after_ms` only for limits that refill this fast


class World:
    """Two accounts on one server: ada hosts a space (`space_id`); bob hosts another (`other_id`)."""

    def __init__(self, url: str, ada: str, bob: str, space_id: str, other_id: str) -> None:
        self.url, self.ada, self.bob, self.space_id, self.other_id = url, ada, bob, space_id, other_id

    @asynccontextmanager
    async def as_ada(self) -> AsyncIterator[Client]:
        """A new connection of ada's (replacing the last), back in her space."""
        async with connect(self.url, token=self.ada) as ada:
            await ada.join_space(self.space_id)
            yield ada


@asynccontextmanager
async def world(url: str) -> AsyncIterator[World]:
    async with connect_account(url, "ada") as ada, connect_account(url, "bob") as bob:
        assert ada.token is not None and bob.token is not None
        space_id = (await ada.create_space("Limits")).space.space_id
        other_id = (await bob.create_space("Other")).space.space_id
        await bob.share_post("a post to page through")
        yield World(url, ada.token, bob.token, space_id, other_id)


Request = Callable[[World, Client, int], Awaitable[object]]


async def hand(w: World, c: Client, i: int) -> None:
    await (c.raise_hand() if i % 2 == 0 else c.lower_hand())


async def as_listener_of_bob(w: World, c: Client) -> None:
    await c.leave_space()
    await c.join_space(w.other_id)


def later(i: int) -> int:
    return int(time.time() * 1000) + 86_400_000 + i


CASES: list[tuple[str, Request, Callable[[World, Client], Awaitable[None]] | None]] = [
    ("share_post", lambda w, c, i: c.share_post(f"post {i}"), None),
    ("reactions", lambda w, c, i: c.react("👏"), None),
    ("invitations", lambda w, c, i: c.invite_speaker("bob"), None),
    ("direct_messages", lambda w, c, i: c.send_dm("bob", f"hello {i}"), None),
    ("listings", lambda w, c, i: c.list_spaces("live"), None),
    ("timeline_pages", lambda w, c, i: c.get_posts(w.other_id), None),
    ("schedule_space", lambda w, c, i: c.schedule_space(f"Later {i}", later(i)), None),
    ("hands", hand, as_listener_of_bob),
]


@pytest.mark.parametrize(("limit", "request_", "setup"), CASES, ids=[case[0] for case in CASES])
async def test_past_its_burst_a_request_is_refused_with_rate_limited_and_when_to_retry(
    server: ServerProcess,
    limit: str,
    request_: Request,
    setup: Callable[[World, Client], Awaitable[None]] | None,
) -> None:
    rate = LIMITS.rate(limit)
    with trio.fail_after(60):
        async with world(server.url) as w, w.as_ada() as ada:
            if setup is not None:
                await setup(w, ada)
            started, served = trio.current_time(), 0
            with pytest.raises(RequestError) as refused:
                while served <= 2 * rate.burst + 10:  # a limit that never refuses fails below
                    await request_(w, ada, served)
                    served += 1
            refill = int((trio.current_time() - started) * rate.per_s) + 1
            assert rate.burst <= served <= rate.burst + refill, "the burst is served, then (almost) no more"
            assert refused.value.code == "rate_limited"
            retry_after_ms = refused.value.retry_after_ms
            assert retry_after_ms is not None and 0 < retry_after_ms <= 1000 / rate.per_s + 50
            if retry_after_ms <= WAIT_AT_MOST_MS:  # the control: after the wait it is served again
                await trio.sleep(retry_after_ms / 1000 + 0.05)
                await request_(w, ada, served + 1)


async def test_create_space_past_its_burst_is_refused_even_between_spaces(server: ServerProcess) -> None:
    """One live space at a time, and at most `burst` created before the refill (1 a minute): ending each
    space does not make room for more."""
    rate = LIMITS.rate("create_space")
    with trio.fail_after(60):
        async with connect_account(server.url, "ada") as ada:
            for i in range(rate.burst):
                await ada.create_space(f"Space {i}")
                await ada.end_space()  # the connection is then in no space (docs/protocol.md)
            with pytest.raises(RequestError) as refused:
                await ada.create_space("One too many")
            assert refused.value.code == "rate_limited"
            assert 0 < (refused.value.retry_after_ms or 0) <= 60_000


async def test_a_connection_past_its_request_budget_is_refused_and_the_wire_carries_retry_after_ms(
    server: ServerProcess,
) -> None:
    """Every message but audio spends the connection's budget (50 at once, then 20 a second), whatever its
    kind: a guest's `get_space` of an unknown id costs the space nothing but still counts. Read with the
    independent msgpack package: `retry_after_ms` is an int on `rate_limited` errors and absent on others."""
    burst = LIMITS.rate("requests").burst
    with trio.fail_after(30):
        async with open_websocket_url(server.url) as ws:
            await ws.send_message(msgpack.packb({"type": "hello", "protocol": 2, "name": "greedy"}))
            assert msgpack.unpackb(await ws.get_message())["type"] == "welcome"
            count = burst + 20
            for ref in range(1, count + 1):  # all sent before any reply is read: no time to refill
                await ws.send_message(msgpack.packb({"type": "leave_space", "ref": ref}))
            replies = [msgpack.unpackb(await ws.get_message()) for _ in range(count)]
    codes = [r["code"] for r in replies]
    served = burst - 1  # `hello` spent one
    assert codes[:served] == ["not_in_space"] * served, "the burst is served (and refused on its merits)"
    assert "rate_limited" in codes[served:], codes[served:]
    for reply in replies:
        if reply["code"] == "rate_limited":
            assert isinstance(reply["retry_after_ms"], int) and 0 < reply["retry_after_ms"] <= 100
        else:
            assert "retry_after_ms" not in reply
