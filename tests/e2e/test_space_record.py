"""A space made now has a description and topics, shown in its snapshot and the live listings; its record
(`get_space`), timeline included, outlives it."""

from __future__ import annotations

import pytest
import trio

from actors.space import PostShared, SpaceEnded, SpaceStatus
from gateway.client import Client, RequestError, connect_account
from tests.conftest import ServerProcess


async def wait_for_post(client: Client, text: str) -> None:
    while True:
        event = await client.next_event()
        if isinstance(event, PostShared) and event.post.text == text:
            return


async def test_an_ended_space_keeps_its_details_and_whole_timeline(server: ServerProcess) -> None:
    with trio.fail_after(30):
        async with connect_account(server.url, "ada") as ada, connect_account(server.url, "bob") as bob:
            joined = await ada.create_space("Records", description="  All about vinyl  ", topics=(" vinyl ", "jazz"))
            space = joined.space
            assert (space.description, space.topics) == ("All about vinyl", ["vinyl", "jazz"])
            [live] = (await bob.list_spaces("live")).live
            assert (live.space_id, live.topics) == (space.space_id, ["vinyl", "jazz"])
            assert (live.host, live.host_name) == (ada.user, "ada")
            [found] = (await bob.search_spaces("JAZZ")).live
            assert found.space_id == space.space_id

            await bob.join_space(space.space_id)
            await ada.share_post("first")
            await bob.share_post("second")
            await wait_for_post(ada, "second")
            record = await ada.get_space(space.space_id)  # (bob's listings are limited to 5 a second)
            assert (record.status, record.ended_at) == (SpaceStatus.LIVE, None)

            await ada.end_space()
            while not isinstance(await bob.next_event(), SpaceEnded):
                pass
            record = await bob.get_space(space.space_id)
            assert (record.space_id, record.title) == (space.space_id, "Records")
            assert (record.host, record.host_name) == (ada.user, "ada")
            assert (record.description, record.topics) == ("All about vinyl", ["vinyl", "jazz"])
            assert record.status == SpaceStatus.ENDED and record.ended_at is not None
            assert record.ended_at >= record.created_at == space.created_at
            assert [(p.id, p.user, p.name, p.text) for p in record.timeline] == [
                (1, ada.user, "ada", "first"),
                (2, bob.user, "bob", "second"),
            ]
            assert (await bob.list_spaces("live")).live == []

            with pytest.raises(RequestError) as unknown:
                await ada.get_space("no-such-space")
            assert unknown.value.code == "no_such_space"


@pytest.mark.parametrize(
    ("description", "topics"),
    [
        ("x" * 501, ()),
        ("", ("a", "b", "c", "d")),
        ("", ("x" * 31,)),
        ("", ("  ",)),
    ],
    ids=["description_over_500", "four_topics", "topic_over_30", "blank_topic"],
)
async def test_a_space_with_details_out_of_range_is_refused(
    server: ServerProcess, description: str, topics: tuple[str, ...]
) -> None:
    with trio.fail_after(30):
        async with connect_account(server.url, "ada") as ada:
            with pytest.raises(RequestError) as refused:
                await ada.create_space("Too much", description=description, topics=topics)
            assert refused.value.code == "bad_argument"
            assert (await ada.list_spaces("live")).live == []
