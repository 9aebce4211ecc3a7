"""Spaces in the store: live ones come back with their latest posts, removals, description, topics, speaker
policy, standing invitations and since when no moderator is there; ended ones keep their timeline, read a
page at a time; reservations only rise."""

from __future__ import annotations

from pathlib import Path

import trio

from store import (
    Database,
    StoredPost,
    add_invitation,
    add_post,
    add_removal,
    create_space,
    end_space,
    get_post,
    get_space,
    live_spaces,
    mark_unmoderated,
    open_database,
    posts_before,
    remove_invitation,
    reserve_seq,
    set_speaker_policy,
    set_unmoderated,
)
from tests.store.conftest import CEILING, CHEAP_HASHER

R = 50  # the latest posts a read brings


async def test_a_live_space_comes_back_with_posts_in_order_and_its_removals(db: Database) -> None:
    with trio.fail_after(CEILING):
        await create_space(db, "s1", "Title", "ada", 1000, 1)
        await add_post(db, "s1", StoredPost(2, "lena", "second", 1002))
        await add_post(db, "s1", StoredPost(1, "ada", "first", 1001))
        await add_removal(db, "s1", "troll")
        await add_removal(db, "s1", "troll")  # idempotent
        (space,) = await live_spaces(db, recent=R)
        assert [p.text for p in space.posts] == ["first", "second"]
        assert space.removed == ("troll",) and space.host == "ada" and space.status == "live"


async def test_event_reservations_only_rise_and_ended_spaces_are_not_brought_back(db: Database) -> None:
    with trio.fail_after(CEILING):
        await create_space(db, "s1", "Title", "ada", 1000, 1)
        await reserve_seq(db, "s1", 1001)
        await reserve_seq(db, "s1", 500)
        space = await get_space(db, "s1", recent=R)
        assert space is not None and space.seq_reserved == 1001
        await end_space(db, "s1", 2000)
        assert await live_spaces(db, recent=R) == []
        ended = await get_space(db, "s1", recent=R)
        assert ended is not None and ended.status == "ended" and ended.ended_at == 2000


async def test_spaces_survive_closing_and_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "stoa.db"
    with trio.fail_after(CEILING):
        async with open_database(path, hasher=CHEAP_HASHER) as db:
            await create_space(db, "s1", "Title", "ada", 1000, 1)
            await add_post(db, "s1", StoredPost(1, "ada", "kept", 1001))
        async with open_database(path, hasher=CHEAP_HASHER) as db:
            (space,) = await live_spaces(db, recent=R)
            assert [p.text for p in space.posts] == ["kept"]


async def test_a_space_keeps_its_description_topics_and_speaker_policy(db: Database) -> None:
    with trio.fail_after(CEILING):
        await create_space(
            db,
            "s1",
            "Title",
            "ada",
            1000,
            1,
            description="About it",
            topics=("jazz", "vinyl"),
            speaker_policy="following",
        )
        (space,) = await live_spaces(db, recent=R)
        assert (space.description, space.topics, space.speaker_policy) == ("About it", ("jazz", "vinyl"), "following")
        await set_speaker_policy(db, "s1", "invited")
        (space,) = await live_spaces(db, recent=R)
        assert space.speaker_policy == "invited"


async def test_a_space_created_without_details_has_none(db: Database) -> None:
    with trio.fail_after(CEILING):
        await create_space(db, "s1", "Title", "ada", 1000, 1)
        space = await get_space(db, "s1", recent=R)
        assert space is not None
        assert (space.description, space.topics, space.speaker_policy, space.invited) == ("", (), "everyone", ())


async def test_standing_invitations_come_back_in_order_until_used(db: Database) -> None:
    with trio.fail_after(CEILING):
        await create_space(db, "s1", "Title", "ada", 1000, 1)
        await add_invitation(db, "s1", "nora", 1001)
        await add_invitation(db, "s1", "finn", 1002)
        await add_invitation(db, "s1", "nora", 1003)  # already standing: changes nothing
        (space,) = await live_spaces(db, recent=R)
        assert space.invited == ("nora", "finn")
        await remove_invitation(db, "s1", "nora")
        (space,) = await live_spaces(db, recent=R)
        assert space.invited == ("finn",)


async def test_an_ended_space_keeps_its_timeline_and_details(db: Database) -> None:
    with trio.fail_after(CEILING):
        await create_space(db, "s1", "Title", "ada", 1000, 1, description="d", topics=("t",))
        await add_post(db, "s1", StoredPost(1, "ada", "kept", 1001))
        await end_space(db, "s1", 2000)
        space = await get_space(db, "s1", recent=R)
        assert space is not None and space.status == "ended"
        assert [p.text for p in space.posts] == ["kept"] and (space.description, space.topics) == ("d", ("t",))
        assert await get_space(db, "nope", recent=R) is None


async def _space_with_posts(db: Database, count: int) -> None:
    await create_space(db, "s1", "Title", "ada", 1000, 1)
    for i in range(1, count + 1):
        await add_post(db, "s1", StoredPost(i, "ada", f"post {i}", 1000 + i))


async def test_a_space_is_read_with_only_its_latest_posts_and_its_post_count(db: Database) -> None:
    with trio.fail_after(CEILING):
        await _space_with_posts(db, 30)
        (live,) = await live_spaces(db, recent=10)
        record = await get_space(db, "s1", recent=10)
        assert record is not None
        for space in (live, record):
            assert [p.id for p in space.posts] == list(range(21, 31)) and space.post_count == 30
        (control,) = await live_spaces(db, recent=100)
        assert [p.id for p in control.posts] == list(range(1, 31)), "a larger `recent` brings them all"


async def test_older_posts_are_read_a_page_at_a_time_newest_first(db: Database) -> None:
    with trio.fail_after(CEILING):
        await _space_with_posts(db, 25)
        first = await posts_before(db, "s1", None, 10)
        assert first is not None and [p.id for p in first] == list(range(25, 15, -1))
        older = await posts_before(db, "s1", 16, 10)
        assert older is not None and [p.id for p in older] == list(range(15, 5, -1))
        last = await posts_before(db, "s1", 6, 10)
        assert last is not None and [p.id for p in last] == [5, 4, 3, 2, 1]
        assert await posts_before(db, "s1", 1, 10) == []
        assert await posts_before(db, "nope", None, 10) is None
        assert await get_post(db, "s1", 7) == StoredPost(7, "ada", "post 7", 1007)
        assert await get_post(db, "s1", 26) is None


async def test_a_post_read_alone_keeps_its_authors_name_as_a_page_does(db: Database) -> None:
    with trio.fail_after(CEILING):
        await create_space(db, "s1", "Title", "u1", 1000, 1)
        post = StoredPost(1, "u1", "pin me", 1001, name="ada")
        await add_post(db, "s1", post)
        assert await posts_before(db, "s1", None, 10) == [post]  # the control: a page has the name
        assert await get_post(db, "s1", 1) == post


async def test_since_when_a_space_has_no_moderator_is_kept_and_cleared(db: Database) -> None:
    with trio.fail_after(CEILING):
        await create_space(db, "s1", "Title", "ada", 1000, 1)
        (space,) = await live_spaces(db, recent=R)
        assert space.unmoderated_since is None
        await set_unmoderated(db, "s1", 5000)
        (space,) = await live_spaces(db, recent=R)
        assert space.unmoderated_since == 5000
        await set_unmoderated(db, "s1", None)
        (space,) = await live_spaces(db, recent=R)
        assert space.unmoderated_since is None
        await create_space(db, "s2", "Title", "ada", 2000, 1)
        await set_unmoderated(db, "s2", 4000)
        await mark_unmoderated(db, 9000)  # a restart: only spaces not yet marked take its time
        assert [s.unmoderated_since for s in await live_spaces(db, recent=R)] == [9000, 4000]
