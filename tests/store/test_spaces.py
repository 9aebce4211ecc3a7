"""Spaces in the store: live ones come back with their timeline, removals, description, topics, speaker
policy and standing invitations; ended ones keep their timeline; reservations only rise."""

from __future__ import annotations

from pathlib import Path

import trio

from store import Database, open_database
from store._spaces import (
    StoredPost,
    add_invitation,
    add_post,
    add_removal,
    create_space,
    end_space,
    get_space,
    live_spaces,
    remove_invitation,
    reserve_seq,
    set_speaker_policy,
)
from tests.store.conftest import CEILING, CHEAP_HASHER


async def test_a_live_space_comes_back_with_posts_in_order_and_its_removals(db: Database) -> None:
    with trio.fail_after(CEILING):
        await create_space(db, "s1", "Title", "ada", 1000, 1)
        await add_post(db, "s1", StoredPost(2, "lena", "second", 1002))
        await add_post(db, "s1", StoredPost(1, "ada", "first", 1001))
        await add_removal(db, "s1", "troll")
        await add_removal(db, "s1", "troll")  # idempotent
        (space,) = await live_spaces(db)
        assert [p.text for p in space.posts] == ["first", "second"]
        assert space.removed == ("troll",) and space.host == "ada" and space.status == "live"


async def test_event_reservations_only_rise_and_ended_spaces_are_not_brought_back(db: Database) -> None:
    with trio.fail_after(CEILING):
        await create_space(db, "s1", "Title", "ada", 1000, 1)
        await reserve_seq(db, "s1", 1001)
        await reserve_seq(db, "s1", 500)
        space = await get_space(db, "s1")
        assert space is not None and space.seq_reserved == 1001
        await end_space(db, "s1", 2000)
        assert await live_spaces(db) == []
        ended = await get_space(db, "s1")
        assert ended is not None and ended.status == "ended" and ended.ended_at == 2000


async def test_spaces_survive_closing_and_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "stoa.db"
    with trio.fail_after(CEILING):
        async with open_database(path, hasher=CHEAP_HASHER) as db:
            await create_space(db, "s1", "Title", "ada", 1000, 1)
            await add_post(db, "s1", StoredPost(1, "ada", "kept", 1001))
        async with open_database(path, hasher=CHEAP_HASHER) as db:
            (space,) = await live_spaces(db)
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
        (space,) = await live_spaces(db)
        assert (space.description, space.topics, space.speaker_policy) == ("About it", ("jazz", "vinyl"), "following")
        await set_speaker_policy(db, "s1", "invited")
        (space,) = await live_spaces(db)
        assert space.speaker_policy == "invited"


async def test_a_space_created_without_details_has_none(db: Database) -> None:
    with trio.fail_after(CEILING):
        await create_space(db, "s1", "Title", "ada", 1000, 1)
        space = await get_space(db, "s1")
        assert space is not None
        assert (space.description, space.topics, space.speaker_policy, space.invited) == ("", (), "everyone", ())


async def test_standing_invitations_come_back_in_order_until_used(db: Database) -> None:
    with trio.fail_after(CEILING):
        await create_space(db, "s1", "Title", "ada", 1000, 1)
        await add_invitation(db, "s1", "nora", 1001)
        await add_invitation(db, "s1", "finn", 1002)
        await add_invitation(db, "s1", "nora", 1003)  # already standing: changes nothing
        (space,) = await live_spaces(db)
        assert space.invited == ("nora", "finn")
        await remove_invitation(db, "s1", "nora")
        (space,) = await live_spaces(db)
        assert space.invited == ("finn",)


async def test_an_ended_space_keeps_its_timeline_and_details(db: Database) -> None:
    with trio.fail_after(CEILING):
        await create_space(db, "s1", "Title", "ada", 1000, 1, description="d", topics=("t",))
        await add_post(db, "s1", StoredPost(1, "ada", "kept", 1001))
        await end_space(db, "s1", 2000)
        space = await get_space(db, "s1")
        assert space is not None and space.status == "ended"
        assert [p.text for p in space.posts] == ["kept"] and (space.description, space.topics) == ("d", ("t",))
        assert await get_space(db, "nope") is None
