"""The Python client (`stoa_client`) through a TCP proxy: it comes back by itself after a reset, at once
when told (`reconnect_now`) after a silent failure, and the application sees every event exactly once and
in order, told of each resume; a request cut off by the drop fails with `connection_lost`. Told to go by a
draining server (4004), it comes back within 2 s; refused (429), it waits out the server's `Retry-After`."""

from __future__ import annotations

import signal
import socket
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import trio
from stoa_client import DRAIN_SPREAD_S
from trio_websocket import ConnectionRejected, open_websocket_url

from actors.space import Event, PostShared
from gateway.client import Client, Reconnected, RequestError, connect, connect_account
from tests.conftest import ServerProcess, start_server, stop_server
from tests.e2e.test_drain import stubborn_client, wait_until
from tests.e2e.test_resume import proxied


async def until_post(client: Client, text: str, seen: list[object]) -> None:
    """Read the client's events (into `seen`) up to the post `text`."""
    while True:
        event = await client.next_event()
        seen.append(event)
        if isinstance(event, PostShared) and event.post.text == text:
            return


async def test_the_application_sees_every_event_once_in_order_across_two_drops(server: ServerProcess) -> None:
    with trio.fail_after(60):
        async with proxied(server) as proxy, connect_account(server.url, "host") as host:
            space_id = (await host.create_space("Flaky network")).space.space_id
            async with connect_account(proxy.url, "lena") as lena:
                joined = await lena.join_space(space_id)
                seen: list[object] = []
                await host.share_post("one")
                await until_post(lena, "one", seen)

                # A silent failure: a request vanishes into it; the application reconnects at once.
                assert proxy.blackhole() == 1
                async with trio.open_nursery() as nursery:
                    lost: list[str] = []

                    async def post_into_the_void() -> None:
                        with pytest.raises(RequestError) as refused:
                            await lena.share_post("lost in the void")
                        lost.append(refused.value.code)

                    nursery.start_soon(post_into_the_void)
                    await host.share_post("two")
                    await host.share_post("three")
                    await trio.sleep(0.2)
                    lena.reconnect_now()
                assert lost == ["connection_lost"]  # sent, unanswered: it may or may not have been applied
                await host.share_post("four")
                await until_post(lena, "four", seen)

                # A loud failure: the client comes back by itself, after its backoff.
                assert proxy.cut() >= 1  # (the silenced connection may still be closing)
                await host.share_post("five")
                await until_post(lena, "five", seen)
                await lena.share_post("after all that")  # requests work on the new connection
                await until_post(lena, "after all that", seen)

            markers = [e for e in seen if isinstance(e, Reconnected)]
            assert [(m.resumed, m.role, m.snapshot) for m in markers] == [(True, "listener", None)] * 2
            assert lena.reconnects == 2
            events = [e for e in seen if isinstance(e, Event)]
            seqs = [e.seq for e in events]
            assert seqs == list(range(joined.space.seq + 1, joined.space.seq + 1 + len(seqs))), seqs
            texts = [e.post.text for e in events if isinstance(e, PostShared)]
            assert texts == ["one", "two", "three", "four", "five", "after all that"]
            # Each marker comes before the events it brought back.
            assert seen.index(markers[0]) < next(i for i, e in enumerate(seen) if getattr(e, "post", None)
                                                 and e.post.text == "two")  # type: ignore[attr-defined]  # fmt: skip


async def test_a_drained_client_comes_back_within_2_s_without_ending(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", "--drain-timeout", "5")
    stubborn: socket.socket | None = None
    try:
        with trio.fail_after(45):
            stubborn = await trio.to_thread.run_sync(stubborn_client, srv.port)  # the drain lasts a little
            async with proxied(srv) as proxy, connect(proxy.url, "drained") as client:
                srv.proc.send_signal(signal.SIGTERM)
                await wait_until(lambda: client.close_code == 4004, 5.0)
                told = trio.current_time()
                await wait_until(lambda: proxy.accepted >= 2, 5.0)
                # The first attempt within the drain's spread, 0 to 2 s (the poll above adds up to 50 ms); the
                # server refuses it (503) or is gone by then: either way the client goes on trying.
                assert proxy.accepted_at[1] - told <= DRAIN_SPREAD_S + 0.1, proxy.accepted_at[1] - told
                await wait_until(lambda: proxy.accepted >= 3, 10.0)
                assert set(client.refusals) <= {503} and not client.closed.is_set()
    finally:
        if stubborn is not None:
            stubborn.close()
        stop_server(srv)


async def test_a_client_refused_with_429_waits_out_the_retry_after_then_resumes(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", "--max-connections-per-address", "2")
    try:
        with trio.fail_after(60):
            async with proxied(srv) as proxy, connect_account(srv.url, "host") as host:
                space_id = (await host.create_space("Crowded")).space.space_id
                async with connect(proxy.url, "lena") as lena:
                    await lena.join_space(space_id)
                    # lena's link breaks; her client's next attempt is held on the way while another connection
                    # from this address takes the place hers left.
                    proxy.hold()
                    proxy.cut()
                    async with AsyncExitStack() as blockers:
                        while True:
                            try:
                                await blockers.enter_async_context(open_websocket_url(srv.url))
                                break
                            except ConnectionRejected:  # (the server has not seen lena's link go yet)
                                await trio.sleep(0.05)
                        await wait_until(lambda: proxy.accepted >= 2, 5.0)
                        proxy.release()
                        await wait_until(lambda: bool(lena.refusals), 10.0)
                        assert lena.refusals == [429]
                    # The blocker has gone: room again, but lena's client waits out the server's Retry-After (10 s).
                    back = await lena.next_event()
                    while not isinstance(back, Reconnected):
                        back = await lena.next_event()
                    assert back.resumed and lena.refusals == [429] and not lena.closed.is_set()
                    waited = proxy.accepted_at[2] - proxy.accepted_at[1]
                    assert waited >= 10.0, waited  # the backoff alone would have tried again within 1 s
    finally:
        assert stop_server(srv) == 0
