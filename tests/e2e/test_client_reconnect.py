"""The Python client (`stoa_client`) through a TCP proxy: it comes back by itself after a reset, at once
when told (`reconnect_now`) after a silent failure, and the application sees every event exactly once and
in order, told of each resume; a request cut off by the drop fails with `connection_lost`."""

from __future__ import annotations

import pytest
import trio

from actors.space import Event, PostShared
from gateway.client import Client, Reconnected, RequestError, connect_account
from tests.conftest import ServerProcess
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
