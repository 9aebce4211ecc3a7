"""A restarted server process brings back its live spaces with their timelines, and never reuses an
event number."""

from __future__ import annotations

from pathlib import Path

import trio

from actors.space import PostShared
from gateway.client import connect
from tests.conftest import start_server, stop_server


async def test_a_restart_keeps_live_spaces_timelines_and_event_numbers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    try:
        with trio.fail_after(30):
            async with connect(first.url, "ada") as ada:
                joined = await ada.create_space("Survives restarts")
                space_id = joined.space.space_id
                await ada.share_post("before the restart")
                await ada.share_post("still before")
                event = await ada.next_event()
                while not isinstance(event, PostShared) or event.post.text != "still before":
                    event = await ada.next_event()
                last_seq = event.seq
    finally:
        assert stop_server(first) == 0

    second = start_server(data)
    try:
        with trio.fail_after(30):
            async with connect(second.url, "lena") as lena:
                snapshot = (await lena.join_space(space_id)).space
                assert snapshot.title == "Survives restarts" and snapshot.host == "ada"
                assert [p.text for p in snapshot.timeline] == ["before the restart", "still before"]
                assert snapshot.seq > last_seq, "event numbers jump forward after a restart, never back"
                await lena.share_post("after the restart")
                event = await lena.next_event()
                while not isinstance(event, PostShared):
                    event = await lena.next_event()
                assert event.post.id == 3 and event.seq > snapshot.seq
            async with connect(second.url, "ada") as ada:
                again = await ada.join_space(space_id)
                assert again.role == "host", "the host, rejoining, is host again"
    finally:
        assert stop_server(second) == 0
