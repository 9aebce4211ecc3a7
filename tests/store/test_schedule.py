"""Scheduled spaces: scheduling rules, cancel and start, reminders (with their inbox messages), the
upcoming list and search."""

from __future__ import annotations

import sqlite3

import pytest

from store import (
    BadArgument,
    Database,
    MessageKind,
    NoSuchScheduledSpace,
    ScheduledSpaceOver,
    TooManyScheduled,
    add_reminder,
    cancel_scheduled,
    count_pending,
    get_scheduled,
    inbox,
    live_listing,
    mark_host_reminded,
    mark_started,
    next_host_reminder,
    reminder_holders,
    remove_reminder,
    schedule_space,
    upcoming,
)
from tests.store.conftest import FakeClock, make_account

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS


def now_ms(clock: FakeClock) -> int:
    return int(clock() * 1000)


async def test_a_scheduled_space_keeps_its_fields(db: Database, clock: FakeClock) -> None:
    ada = await make_account(db, "ada")
    starts = now_ms(clock) + HOUR_MS
    space = await schedule_space(db, ada.id, " Morning show ", starts, description="News", topics=["tech", "AI"])
    assert (space.title, space.description, space.topics, space.starts_at) == (
        "Morning show",
        "News",
        ("tech", "AI"),
        starts,
    )
    assert space.host == ada.id and space.host_handle == "ada" and space.pending and space.reminder_count == 0
    assert await get_scheduled(db, space.id) == space


@pytest.mark.parametrize(
    ("title", "ahead_ms", "topics", "field"),
    [
        ("t", 0, [], "starts_at"),
        ("t", -1, [], "starts_at"),
        ("t", 30 * DAY_MS + 1, [], "starts_at"),
        ("t", HOUR_MS, ["a", "b", "c", "d"], "topics"),
        ("t", HOUR_MS, [""], "topics"),
        ("t", HOUR_MS, ["x" * 31], "topics"),
        ("  ", HOUR_MS, [], "title"),
        ("x" * 101, HOUR_MS, [], "title"),
    ],
)
async def test_out_of_range_schedules_are_refused(
    db: Database, clock: FakeClock, title: str, ahead_ms: int, topics: list[str], field: str
) -> None:
    ada = await make_account(db, "ada")
    with pytest.raises(BadArgument) as refused:
        await schedule_space(db, ada.id, title, now_ms(clock) + ahead_ms, topics=topics)
    assert refused.value.field == field


async def test_thirty_days_ahead_and_three_topics_are_accepted(db: Database, clock: FakeClock) -> None:
    ada = await make_account(db, "ada")
    space = await schedule_space(db, ada.id, "t", now_ms(clock) + 30 * DAY_MS, topics=["a", "b", "x" * 30])
    assert len(space.topics) == 3


async def test_cancelling_tells_reminder_holders_in_their_inbox_and_ends_the_schedule(
    db: Database, clock: FakeClock
) -> None:
    ada, bob = await make_account(db, "ada"), await make_account(db, "bob")
    space = await schedule_space(db, ada.id, "Show", now_ms(clock) + HOUR_MS)
    assert await add_reminder(db, space.id, bob.id)
    assert not await add_reminder(db, space.id, bob.id)
    cancelled, holders = await cancel_scheduled(db, space.id)
    assert cancelled.cancelled_at is not None and not cancelled.pending
    assert [h.handle for h in holders] == ["bob"]
    [message] = await inbox(db, bob.id)
    assert message.kind is MessageKind.SPACE_CANCELLED and message.sender == ada.id and message.invite is None
    for again in (cancel_scheduled(db, space.id), mark_started(db, space.id, "sp"), add_reminder(db, space.id, bob.id)):
        with pytest.raises(ScheduledSpaceOver):
            await again
    assert await upcoming(db) == []


async def test_starting_links_the_live_space_in_each_holders_inbox(db: Database, clock: FakeClock) -> None:
    ada, bob, cy = [await make_account(db, handle) for handle in ("ada", "bob", "cy")]
    space = await schedule_space(db, ada.id, "Show", now_ms(clock) + HOUR_MS)
    await add_reminder(db, space.id, bob.id)
    await add_reminder(db, space.id, cy.id)
    assert await remove_reminder(db, space.id, cy.id)
    assert not await remove_reminder(db, space.id, cy.id)
    assert [h.handle for h in await reminder_holders(db, space.id)] == ["bob"]
    assert (await get_scheduled(db, space.id)).reminder_count == 1
    started, holders = await mark_started(db, space.id, "sp-1")
    assert started.started_space_id == "sp-1" and [h.handle for h in holders] == ["bob"]
    [message] = await inbox(db, bob.id)
    assert message.kind is MessageKind.SPACE_STARTING and message.invite is not None
    assert message.invite.space_id == "sp-1"
    assert await inbox(db, cy.id) == []


async def test_an_unknown_scheduled_space_is_refused(db: Database) -> None:
    ada = await make_account(db, "ada")
    for attempt in (get_scheduled(db, 9), add_reminder(db, 9, ada.id), cancel_scheduled(db, 9)):
        with pytest.raises(NoSuchScheduledSpace):
            await attempt


async def test_upcoming_is_soonest_first_and_pages(db: Database, clock: FakeClock) -> None:
    ada = await make_account(db, "ada")
    base = now_ms(clock)
    ids = [(await schedule_space(db, ada.id, f"s{i}", base + (5 - i) * HOUR_MS)).id for i in range(5)]
    first = await upcoming(db, limit=2)
    assert [s.id for s in first] == [ids[4], ids[3]]
    rest = await upcoming(db, after=(first[-1].starts_at, first[-1].id), limit=10)
    assert [s.id for s in rest] == [ids[2], ids[1], ids[0]]


async def test_search_matches_title_topic_and_host_handle_without_case(db: Database, clock: FakeClock) -> None:
    ada, bob = await make_account(db, "Ada"), await make_account(db, "bob")
    starts = now_ms(clock) + HOUR_MS
    jazz = await schedule_space(db, ada.id, "Late Night Jazz", starts, topics=["Music"])
    rust = await schedule_space(db, bob.id, "Rust in production", starts + 1, topics=["programming"])
    cases = {
        "jazz": [jazz.id],
        "MUSIC": [jazz.id],
        "ada": [jazz.id],
        "BOB": [rust.id],
        "a": [jazz.id, rust.id],
        "%": [],
    }
    for query, expected in cases.items():
        assert [s.id for s in await upcoming(db, query=query)] == expected, query
    with pytest.raises(BadArgument):
        await upcoming(db, query="  ")


async def test_live_listing_searches_live_spaces_and_their_own_topics(db: Database, clock: FakeClock) -> None:
    ada = await make_account(db, "ada")
    space = await schedule_space(db, ada.id, "Show", now_ms(clock) + HOUR_MS, topics=["gardening"])

    def live(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO spaces (space_id, title, host, host_name, status, created_at, seq_reserved, topics)"
            f" VALUES ('sp-1', 'Show', 'u{ada.id}', 'ada', 'live', 1, 0, '[\"gardening\"]')"
        )

    await db.write(live)
    await mark_started(db, space.id, "sp-1")
    [found] = await live_listing(db, query="GARDEN")
    assert (found.space_id, found.topics, found.host) == ("sp-1", ("gardening",), f"u{ada.id}")
    assert [s.space_id for s in await live_listing(db, query="ADA")] == ["sp-1"]  # the host's name, not the id
    assert await live_listing(db, query=f"u{ada.id}") == []
    assert await live_listing(db, query="cooking") == []


async def test_count_pending_counts_only_scheduled_spaces_still_waiting(db: Database, clock: FakeClock) -> None:
    ada, bob = await make_account(db, "ada"), await make_account(db, "bob")
    spaces = [await schedule_space(db, ada.id, f"show {i}", now_ms(clock) + HOUR_MS) for i in range(3)]
    await schedule_space(db, bob.id, "bob's", now_ms(clock) + HOUR_MS)
    assert await count_pending(db, ada.id) == 3
    await cancel_scheduled(db, spaces[0].id)
    await mark_started(db, spaces[1].id, "sp-1")
    assert (await count_pending(db, ada.id), await count_pending(db, bob.id)) == (1, 1)


async def test_the_host_reminder_is_due_once(db: Database, clock: FakeClock) -> None:
    ada = await make_account(db, "ada")
    later = await schedule_space(db, ada.id, "later", now_ms(clock) + 2 * HOUR_MS)
    soon = await schedule_space(db, ada.id, "soon", now_ms(clock) + HOUR_MS)
    assert (await next_host_reminder(db)) == soon
    await mark_host_reminded(db, soon.id)
    assert (await next_host_reminder(db)) == later
    await cancel_scheduled(db, later.id)
    assert await next_host_reminder(db) is None


async def test_a_host_at_its_cap_of_waiting_scheduled_spaces_is_refused_until_one_starts(
    db: Database, clock: FakeClock
) -> None:
    ada = await make_account(db, "ada")
    first = await schedule_space(db, ada.id, "one", now_ms(clock) + HOUR_MS, max_pending=2)
    await schedule_space(db, ada.id, "two", now_ms(clock) + HOUR_MS, max_pending=2)
    with pytest.raises(TooManyScheduled) as refused:
        await schedule_space(db, ada.id, "three", now_ms(clock) + HOUR_MS, max_pending=2)
    assert refused.value.code == "limit_reached" and await count_pending(db, ada.id) == 2
    await mark_started(db, first.id, "sp-1")  # the control: one fewer waiting makes room
    await schedule_space(db, ada.id, "three", now_ms(clock) + HOUR_MS, max_pending=2)
