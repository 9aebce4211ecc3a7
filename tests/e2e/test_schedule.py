"""Scheduled spaces over the real server: scheduling, reminders and the notifications they bring, the host
starting or cancelling, the lists of live and upcoming spaces, search, and a restart of the server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import trio

from gateway import protocol as p
from gateway.client import Client, RequestError, connect
from tests.conftest import ServerProcess, start_server, stop_server
from tests.e2e.test_accounts import new_account

MINUTE_MS = 60_000


def in_minutes(minutes: float) -> int:
    return int(time.time() * 1000 + minutes * MINUTE_MS)


async def refute_notice(client: Client, within_s: float = 0.3) -> None:
    with trio.move_on_after(within_s):
        notice = await client.next_notice()
        pytest.fail(f"unexpected notice {notice}")


async def test_a_reminded_listener_is_told_when_the_host_starts_the_space_and_joins_it(
    server: ServerProcess,
) -> None:
    with trio.fail_after(30):
        ada_token, bob_token = await new_account(server.url, "ada"), await new_account(server.url, "bob")
        async with connect(server.url, token=ada_token) as ada, connect(server.url, token=bob_token) as bob:
            scheduled = await ada.schedule_space("Morning show", in_minutes(60), "News", ("news", "tech"))
            assert (scheduled.host, scheduled.host_name) == (ada.user, "ada")
            assert (scheduled.topics, scheduled.reminder_count) == (["news", "tech"], 0)
            await refute_notice(ada)  # an hour ahead: the host reminder is not due yet
            await bob.set_reminder(scheduled.scheduled_id)
            [listed] = (await bob.list_spaces("upcoming")).upcoming
            assert listed.scheduled_id == scheduled.scheduled_id and listed.reminder_count == 1
            with pytest.raises(RequestError) as refused:
                await bob.start_scheduled(scheduled.scheduled_id)
            assert refused.value.code == "not_allowed"

            joined = await ada.start_scheduled(scheduled.scheduled_id)
            assert (joined.role, joined.space.title) == ("host", "Morning show")
            assert (joined.space.description, joined.space.topics) == ("News", ["news", "tech"])
            notice = await bob.next_notice()
            assert notice == p.SpaceStarting(
                scheduled.scheduled_id, joined.space.space_id, "Morning show", ada.user, "ada"
            )
            started = (await bob.join_space(notice.space_id)).space
            assert (started.host, started.host_name) == (ada.user, "ada")

            spaces = await bob.list_spaces("live")
            assert spaces.upcoming == []
            [live] = spaces.live
            assert (live.space_id, live.listener_count, live.speaker_count) == (notice.space_id, 1, 1)
            assert (live.host, live.host_name) == (ada.user, "ada")
            assert live.topics == ["news", "tech"]
            [message] = await bob.get_inbox()
            assert message.kind == "space_starting" and message.invite == p.InviteLink(notice.space_id, "listener")
            assert (message.text, message.sender) == ("Live now: Morning show", "ada")  # docs/protocol.md, `inbox`
            with pytest.raises(RequestError) as in_space:  # checked first, whatever the scheduled space
                await ada.start_scheduled(scheduled.scheduled_id)
            assert in_space.value.code == "already_in_space"
            await ada.leave_space()
            with pytest.raises(RequestError) as again:  # (3 starts: all `create_space` allows at once)
                await ada.start_scheduled(scheduled.scheduled_id)
            assert again.value.code == "scheduled_space_over"


async def test_cancelling_tells_reminder_holders_and_takes_the_space_off_the_list(server: ServerProcess) -> None:
    with trio.fail_after(30):
        ada_token, bob_token = await new_account(server.url, "ada"), await new_account(server.url, "bob")
        async with connect(server.url, token=ada_token) as ada, connect(server.url, token=bob_token) as bob:
            scheduled = await ada.schedule_space("Not happening", in_minutes(60))
            await bob.set_reminder(scheduled.scheduled_id)
            with pytest.raises(RequestError) as refused:
                await bob.cancel_scheduled(scheduled.scheduled_id)
            assert refused.value.code == "not_allowed"
            await ada.cancel_scheduled(scheduled.scheduled_id)
            assert await bob.next_notice() == p.SpaceCancelled(scheduled.scheduled_id, "Not happening")
            [message] = await bob.get_inbox()
            assert (message.kind, message.text, message.sender, message.invite) == (
                "space_cancelled",
                "Cancelled: Not happening",
                "ada",
                None,
            )
            assert (await bob.list_spaces("upcoming")).upcoming == []
            for attempt in (bob.set_reminder(scheduled.scheduled_id), ada.start_scheduled(scheduled.scheduled_id)):
                with pytest.raises(RequestError) as over:
                    await attempt
                assert over.value.code == "scheduled_space_over"
            with pytest.raises(RequestError) as unknown:
                await bob.set_reminder(999)
            assert unknown.value.code == "no_such_scheduled_space"


async def test_the_host_is_reminded_at_once_when_the_start_is_sooner_than_the_lead_time(
    server: ServerProcess,
) -> None:
    with trio.fail_after(30):
        async with connect(server.url, token=await new_account(server.url, "ada")) as ada:
            scheduled = await ada.schedule_space("Soon", in_minutes(1))
            notice = await ada.next_notice()
            assert notice == p.HostReminder(scheduled.scheduled_id, "Soon", scheduled.starts_at)
            await refute_notice(ada)  # once only


async def test_out_of_range_schedules_and_guests_are_refused(server: ServerProcess) -> None:
    with trio.fail_after(30):
        async with connect(server.url, token=await new_account(server.url, "ada")) as ada:
            for attempt in (
                ada.schedule_space("Past", in_minutes(-1)),
                ada.schedule_space("Too far", in_minutes(31 * 24 * 60)),
                ada.schedule_space("Topics", in_minutes(60), topics=("a", "b", "c", "d")),
                ada.schedule_space("Topic", in_minutes(60), topics=("x" * 31,)),
            ):
                with pytest.raises(RequestError) as refused:
                    await attempt
                assert refused.value.code == "bad_argument"
        async with connect(server.url, "guest") as guest:
            for denied in (guest.schedule_space("Guest", in_minutes(60)), guest.set_reminder(1)):
                with pytest.raises(RequestError) as needs_account:
                    await denied
                assert needs_account.value.code == "account_required"
            assert await guest.list_spaces("upcoming") == p.Spaces(ref=3, live=[], upcoming=[])


async def test_search_finds_live_and_upcoming_spaces_by_title_topic_and_host(server: ServerProcess) -> None:
    with trio.fail_after(30):
        async with connect(server.url, token=await new_account(server.url, "ada")) as ada:
            jazz = await ada.schedule_space("Late Night Jazz", in_minutes(60), topics=("music",))
            rust = await ada.schedule_space("Rust in production", in_minutes(90), topics=("programming",))
            async with connect(server.url, token=await new_account(server.url, "Zed")) as zed:
                live = (await zed.create_space("Gardening hour")).space.space_id
                async with connect(server.url, "guest") as guest:
                    found = await guest.search_spaces("JAZZ")
                    assert ([s.scheduled_id for s in found.upcoming], found.live) == ([jazz.scheduled_id], [])
                    assert [s.scheduled_id for s in (await guest.search_spaces("Program")).upcoming] == [
                        rust.scheduled_id
                    ]
                    by_host = await guest.search_spaces("ada")
                    assert [s.scheduled_id for s in by_host.upcoming] == [jazz.scheduled_id, rust.scheduled_id]
                    garden = await guest.search_spaces("garden")
                    assert [s.space_id for s in garden.live] == [live] and garden.upcoming == []
                    assert [s.space_id for s in (await guest.search_spaces("zed")).live] == [live]
                    with pytest.raises(RequestError) as limited:
                        await guest.search_spaces("again")
                    assert limited.value.code == "rate_limited"


async def test_a_restart_keeps_scheduled_spaces_and_their_reminders(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    try:
        with trio.fail_after(30):
            ada_token, bob_token = await new_account(first.url, "ada"), await new_account(first.url, "bob")
            async with connect(first.url, token=ada_token) as ada, connect(first.url, token=bob_token) as bob:
                scheduled = await ada.schedule_space("After the restart", in_minutes(60), topics=("ops",))
                await bob.set_reminder(scheduled.scheduled_id)
    finally:
        assert stop_server(first) == 0

    second = start_server(data)
    try:
        with trio.fail_after(30):
            async with connect(second.url, token=ada_token) as ada, connect(second.url, token=bob_token) as bob:
                [kept] = (await bob.list_spaces("upcoming")).upcoming
                assert (kept.scheduled_id, kept.title, kept.topics, kept.reminder_count) == (
                    scheduled.scheduled_id,
                    "After the restart",
                    ["ops"],
                    1,
                )
                joined = await ada.start_scheduled(scheduled.scheduled_id)
                notice = await bob.next_notice()
                assert isinstance(notice, p.SpaceStarting) and notice.space_id == joined.space.space_id
    finally:
        assert stop_server(second) == 0
