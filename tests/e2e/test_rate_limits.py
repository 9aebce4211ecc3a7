"""Every per-request rate limit against a real server with its default settings: the burst is served, the
request past it is refused with `rate_limited` and a `retry_after_ms` that matches the documented refill,
and, where the refill is quick, the same request is served again once that wait has passed (the control).

The bursts and refills are read from `LimitSettings`, the same values `docs/protocol.md` tabulates (a test in
tests/gateway/test_requests.py keeps the two equal). Then the limits on identity itself (password guessing,
registering, connections from one address) and the cap on hosting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import msgpack
import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from actors.space import Role
from gateway.client import Client, RequestError, connect, connect_account
from gateway.limits import LimitSettings
from gateway.refusals import MAX_REFUSED_IN_A_ROW
from gateway.webrtc.speaker import make_offer
from tests.conftest import ServerProcess, start_server, stop_server
from tests.e2e.test_identity import GUEST_ID, refused, reply_to
from tests.e2e.wire import PASSWORD, hello_account, say

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


async def rtc_offer(w: World, c: Client, i: int) -> None:
    """An offer of a real (aiortc) peer connection, made once in a worker thread's own asyncio loop."""
    if not OFFER:
        OFFER.append(await trio.to_thread.run_sync(asyncio.run, make_offer()))
    await c.rtc_offer(OFFER[0])


OFFER: list[str] = []


async def recording_on(w: World, c: Client) -> None:
    await c.set_recording(True)


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
    ("rtc_offers", rtc_offer, None),  # ada hosts: she is on the mic
    ("rtc_configs", lambda w, c, i: c.rtc_config(), None),
    ("recordings", lambda w, c, i: c.set_recording(i % 2 == 0), None),
    ("consents", lambda w, c, i: c.recording_consent(i % 2 == 1), recording_on),
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
            # the burst less hello's share, then as many refusals as a connection may have in a row: one
            # more would close it (1008) if none refilled while they were sent
            count = burst - 1 + MAX_REFUSED_IN_A_ROW
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


# -- the limits on identity itself, and the cap on hosting ------------------------------------------------


async def test_posting_past_the_burst_is_rate_limited_with_a_time_to_wait(server: ServerProcess) -> None:
    with trio.fail_after(30):
        async with open_websocket_url(server.url) as ws:
            await hello_account(ws, "poster")
            joined = await say(ws, {"type": "create_space", "ref": 3, "title": "Posts"})
            assert joined["type"] == "joined"
            replies = [
                await reply_to(ws, {"type": "share_post", "ref": ref, "text": f"post {ref}"}, ("ok", "error"))
                for ref in range(10, 16)
            ]
            assert [r["type"] for r in replies[:5]] == ["ok"] * 5  # the burst is 5
            limited = replies[5]
            assert (limited["type"], limited["code"], limited["ref"]) == ("error", "rate_limited", 15)
            assert 0 < limited["retry_after_ms"] <= 1000, limited
            await trio.sleep(limited["retry_after_ms"] / 1000 + 0.2)
            reply = await reply_to(ws, {"type": "share_post", "ref": 20, "text": "after the wait"}, ("ok", "error"))
            assert (reply["type"], reply["ref"]) == ("ok", 20)


async def test_failed_log_ins_lock_the_handle_out_even_for_the_right_password(server: ServerProcess) -> None:
    with trio.fail_after(40):
        async with connect(server.url, "owner") as owner:
            await owner.register("ada", PASSWORD, "Ada")
        async with connect(server.url, "guesser") as guesser, connect(server.url, "other") as other:
            for _ in range(5):
                await refused(guesser.log_in("ada", "not the password"), "bad_credentials")
            for client, handle in ((guesser, "ada"), (other, "ADA")):  # any connection, any casing
                locked = await refused(client.log_in(handle, PASSWORD), "rate_limited")
                assert locked.retry_after_ms is not None and 0 < locked.retry_after_ms <= 1000
            await trio.sleep(locked.retry_after_ms / 1000 + 0.2)
            logged_in = await other.log_in("ada", PASSWORD)
            assert other.user == logged_in.user and other.handle == "ada"


@pytest.mark.parametrize("transport", ["rust", "python"])
async def test_connections_past_the_cap_per_address_are_refused_with_429(tmp_path: Path, transport: str) -> None:
    srv = start_server(tmp_path / "data", "--max-connections-per-address", "3", "--transport", transport)
    try:
        with trio.fail_after(30):
            async with connect(srv.url, "one") as one, connect(srv.url, "two") as two, connect(srv.url, "three"):
                with pytest.raises(ConnectionRejected) as refused:
                    async with open_websocket_url(srv.url):
                        pass
                assert refused.value.status_code == 429
                assert (b"retry-after", b"10") in refused.value.headers
                said = b"at most 3 connections from one client address (an IPv6 client by its /64)\n"
                assert refused.value.body == said
                with pytest.raises(ConnectionRejected) as refused:  # the Python client raises the refusal itself
                    async with connect(srv.url, "four"):
                        pass
                assert refused.value.status_code == 429
                for client in (one, two):  # the three still work
                    assert (await client.list_spaces("live")).live == []
                assert not one.closed.is_set() and not two.closed.is_set()
            while True:  # three closed (the server counts them out as it sees them go): room again
                try:
                    async with connect(srv.url, "four") as four:
                        assert GUEST_ID.fullmatch(four.user)
                        break
                except ConnectionRejected:
                    await trio.sleep(0.1)
    finally:
        assert stop_server(srv) == 0


async def test_registering_past_the_burst_from_one_address_is_rate_limited(server: ServerProcess) -> None:
    """5 at once from one address (each connection counts against the address, not itself)."""
    with trio.fail_after(40):
        for i in range(5):
            async with connect(server.url, f"maker{i}") as maker:
                await maker.register(f"made_{i}", PASSWORD, "Made")
        async with connect(server.url, "maker5") as maker:
            limited = await refused(maker.register("made_5", PASSWORD, "Made"), "rate_limited")
            assert limited.retry_after_ms is not None and 0 < limited.retry_after_ms <= 60_000
            await refused(maker.log_in("made_5", PASSWORD), "bad_credentials")  # nothing was made


async def test_an_account_hosts_one_live_space_at_a_time(server: ServerProcess) -> None:
    with trio.fail_after(30):
        async with connect_account(server.url, "hana") as host:
            space_id = (await host.create_space("The one")).space.space_id
            await host.leave_space()  # out of it, but still its host: it stays live
            await refused(host.create_space("A second one"), "limit_reached")
            assert [s.space_id for s in (await host.list_spaces("live")).live] == [space_id]
            assert (await host.join_space(space_id)).role == Role.HOST
            await host.end_space()
            await host.create_space("Once it has ended")  # at once: an ended space is hosted by no one
