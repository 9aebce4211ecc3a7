"""Replays end to end, on a real server (its WebSocket and HTTP ports, real sockets) with real recordings made
by the mixer: listing with durations and pages, downloads over HTTP with byte ranges (compared with the file on
disk), refused to those not allowed (no link, a forged one, another recording's, an expired one, a public link
once the recording is private), the host's visibility and delete (records and files gone), and who may do
what on the WebSocket."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
import trio

import store
from gateway.client import Client, RequestError, connect, connect_account
from gateway.gateway_config import GatewayConfig
from gateway.limits import LimitSettings
from gateway.replays import Scope
from gateway.server import DATABASE_FILE, Server, serve


@asynccontextmanager
async def running(data: Path) -> AsyncIterator[Server]:
    config = GatewayConfig(port=0, http_port=0, data_dir=data, limits=LimitSettings(enabled=False))
    async with trio.open_nursery() as nursery:
        server: Server = await nursery.start(serve, config)
        try:
            yield server
        finally:
            await server.gateway.shut_down(grace_s=1)
            nursery.cancel_scope.cancel()


async def recorded(host: Client, seconds: float) -> str:
    """Turn recording on in the host's space for `seconds`, then off; the recording's id once it is finished."""
    await host.set_recording(True)
    detail = None
    with trio.fail_after(10):
        while detail is None:
            found = await host.list_recordings(mine=True, limit=1)
            detail = next((r for r in found.recordings if r.ended_at is None), None)
            await trio.sleep(0.05)
    await trio.sleep(seconds)
    await host.set_recording(False)
    with trio.fail_after(10):
        while True:
            got = await host.get_recording(detail.recording_id)
            if got.recording.ended_at is not None and got.parts and all(p.finished for p in got.parts):
                return detail.recording_id
            await trio.sleep(0.05)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{urlencode({**dict(parse_qsl(parts.query)), **changes})}"


async def test_downloads_with_ranges_to_those_allowed_and_the_hosts_choices(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with trio.fail_after(90):
        async with running(data) as server:
            ws = f"ws://127.0.0.1:{server.port}/"
            async with (
                connect_account(ws, "ada") as ada,
                connect_account(ws, "bob") as bob,
                connect(ws, "lena") as guest,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}") as http,
            ):
                joined = await ada.create_space("Recorded show")
                space_id = joined.space.space_id
                first = await recorded(ada, 1.5)
                second = await recorded(ada, 1.0)

                # Listed newest first with their durations, to anyone (guests too), a page at a time.
                page = await guest.list_recordings(limit=1)
                assert [r.recording_id for r in page.recordings] == [second] and page.more
                rest = await guest.list_recordings(limit=1, after=page.recordings[0])
                assert [r.recording_id for r in rest.recordings] == [first] and not rest.more
                summary = rest.recordings[0]
                assert (summary.space_id, summary.title, summary.host, summary.host_name) == (
                    space_id, "Recorded show", ada.user, "ada"
                )  # fmt: skip
                assert summary.visibility == "public" and summary.part_count == 1
                assert 1300 <= summary.duration_ms <= 3000, summary
                assert [r.recording_id for r in (await bob.list_recordings(space_id=space_id)).recordings] == [
                    second, first
                ]  # fmt: skip

                # Bob downloads the public recording: the whole file, and exactly the bytes of each range.
                detail = await bob.get_recording(first)
                [part] = detail.parts
                assert part.part == 0 and part.offset_ms == 0 and part.finished
                on_disk = (data / "recordings" / first / "part-0.opus").read_bytes()
                assert on_disk[:4] == b"OggS" and part.bytes == len(on_disk)
                assert detail.expires_at > time.time() * 1000
                whole = await http.get(part.url)
                assert whole.status_code == 200 and whole.content == on_disk
                assert whole.headers["content-type"].startswith("audio/ogg")
                assert whole.headers["accept-ranges"] == "bytes"
                ranged = await http.get(part.url, headers={"range": "bytes=28-99"})
                assert (ranged.status_code, ranged.content) == (206, on_disk[28:100])
                assert ranged.headers["content-range"] == f"bytes 28-99/{len(on_disk)}"
                tail = await http.get(part.url, headers={"range": "bytes=-10"})
                assert (tail.status_code, tail.content) == (206, on_disk[-10:])
                beyond = await http.get(part.url, headers={"range": f"bytes={len(on_disk)}-"})
                assert beyond.status_code == 416
                assert beyond.headers["content-range"] == f"bytes */{len(on_disk)}"
                assert (await http.get((await guest.get_recording(first)).parts[0].url)).status_code == 200

                # Refused: no link, a forged one, another recording's, one part that does not exist, an expired one.
                path = urlsplit(part.url).path
                assert (await http.get(path)).status_code == 403
                assert (await http.get(with_query(part.url, sig="A" * 43))).status_code == 403
                assert (await http.get(with_query(part.url, scope="host"))).status_code == 403
                other = (await bob.get_recording(second)).parts[0].url
                assert (await http.get(urlsplit(other).path + "?" + urlsplit(part.url).query)).status_code == 403
                assert (await http.get(part.url.replace("part-0", "part-7"))).status_code == 404
                links = server.gateway.services.replays.links
                old = links.mint(first, Scope.PUBLIC, time.time() - 3600).part_url(first, 0)
                expired = await http.get(old)
                assert expired.status_code == 403 and "expired" in expired.text
                fresh = links.mint(first, Scope.PUBLIC, time.time()).part_url(first, 0)
                assert (await http.get(fresh)).status_code == 200  # the control: the same, minted now, works

                # Only the host chooses: bob cannot make it private nor delete it.
                with pytest.raises(RequestError) as refused:
                    await bob.set_recording_visibility(first, "private")
                assert refused.value.code == "not_allowed"
                with pytest.raises(RequestError) as refused:
                    await bob.delete_recording(first)
                assert refused.value.code == "not_allowed"

                # Private: bob's link stops working at once; to bob and guests it no longer exists; the host's own
                # link works.
                await ada.set_recording_visibility(first, "private")
                assert (await http.get(part.url)).status_code == 403
                for outsider in (bob, guest):
                    with pytest.raises(RequestError) as hidden:
                        await outsider.get_recording(first)
                    assert hidden.value.code == "no_such_recording"
                    listed = [r.recording_id for r in (await outsider.list_recordings()).recordings]
                    assert listed == [second]
                with pytest.raises(RequestError) as hidden:
                    await bob.delete_recording(first)
                assert hidden.value.code == "no_such_recording"
                mine = await ada.get_recording(first)
                assert mine.recording.visibility == "private"
                assert (await http.get(mine.parts[0].url)).content == on_disk
                assert [r.recording_id for r in (await ada.list_recordings(mine=True)).recordings] == [second, first]

                # A recording still running cannot be deleted; an ended one is, with its files; links then 404.
                await ada.set_recording(True)
                running_id = None
                with trio.fail_after(10):
                    while running_id is None:
                        found = (await ada.list_recordings(mine=True, limit=1)).recordings
                        running_id = found[0].recording_id if found and found[0].ended_at is None else None
                        await trio.sleep(0.05)
                with pytest.raises(RequestError) as busy:
                    await ada.delete_recording(running_id)
                assert busy.value.code == "recording_in_progress"
                await ada.set_recording(False)
                await ada.delete_recording(first)
                assert not (data / "recordings" / first).exists()
                assert (await http.get(mine.parts[0].url)).status_code == 404
                with pytest.raises(RequestError) as deleted:
                    await ada.get_recording(first)
                assert deleted.value.code == "no_such_recording"
                with pytest.raises(RequestError) as guest_refused:
                    await guest.delete_recording(second)
                assert guest_refused.value.code == "account_required"

    async with store.open_database(data / DATABASE_FILE) as db:  # the record went with the files
        assert await store.recording_parts(db, first) == []
        assert first not in await store.deleted_recordings(db)
