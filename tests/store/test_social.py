"""The social graph: follows are idempotent and paged newest first; a block ends follows both ways and
forbids new ones."""

from __future__ import annotations

import pytest
import trio

from store import (
    Account,
    AccountId,
    BadArgument,
    Blocked,
    Database,
    NoSuchAccount,
    block,
    blocked_accounts,
    follow,
    followers,
    following,
    follows,
    is_blocked,
    unblock,
    unfollow,
)
from tests.store.conftest import CEILING, make_account


async def test_following_and_unfollowing_are_idempotent(db: Database) -> None:
    with trio.fail_after(CEILING):
        alice, bob = await make_account(db, "alice"), await make_account(db, "bob")
        assert await follow(db, alice.id, bob.id) is True
        assert await follow(db, alice.id, bob.id) is False
        assert await follows(db, alice.id, bob.id)
        assert not await follows(db, bob.id, alice.id)  # following is one way
        assert (await followers(db, bob.id)).accounts == (alice,)
        assert await unfollow(db, alice.id, bob.id) is True
        assert await unfollow(db, alice.id, bob.id) is False
        assert not await follows(db, alice.id, bob.id)
        assert (await followers(db, bob.id)).accounts == ()


async def test_followers_and_following_page_newest_first_without_gaps(db: Database) -> None:
    with trio.fail_after(CEILING):
        star = await make_account(db, "star")
        fans = [await make_account(db, f"fan{i}") for i in range(7)]
        for fan in fans:
            await follow(db, fan.id, star.id)
            await follow(db, star.id, fan.id)
        for listing in (followers, following):
            seen: list[Account] = []
            cursor = None
            while True:
                page = await listing(db, star.id, cursor=cursor, limit=3)
                assert len(page.accounts) <= 3
                seen.extend(page.accounts)
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            assert seen == fans[::-1]


async def test_a_refollow_moves_to_the_top_of_the_list(db: Database) -> None:
    with trio.fail_after(CEILING):
        star = await make_account(db, "star")
        a, b = await make_account(db, "a"), await make_account(db, "b")
        await follow(db, a.id, star.id)
        await follow(db, b.id, star.id)
        await unfollow(db, a.id, star.id)
        await follow(db, a.id, star.id)
        assert (await followers(db, star.id)).accounts == (a, b)


async def test_nobody_follows_or_blocks_themselves(db: Database) -> None:
    with trio.fail_after(CEILING):
        alice = await make_account(db, "alice")
        with pytest.raises(BadArgument):
            await follow(db, alice.id, alice.id)
        with pytest.raises(BadArgument):
            await block(db, alice.id, alice.id)


async def test_unknown_accounts_cannot_follow_be_followed_or_be_listed(db: Database) -> None:
    with trio.fail_after(CEILING):
        alice = await make_account(db, "alice")
        ghost = AccountId(999)
        for call in (follow(db, alice.id, ghost), follow(db, ghost, alice.id), block(db, alice.id, ghost)):
            with pytest.raises(NoSuchAccount):
                await call
        with pytest.raises(NoSuchAccount):
            await followers(db, ghost)


@pytest.mark.parametrize("limit", [0, -1, 201])
async def test_a_page_holds_1_to_200_accounts(db: Database, limit: int) -> None:
    with trio.fail_after(CEILING):
        alice = await make_account(db, "alice")
        with pytest.raises(BadArgument):
            await followers(db, alice.id, limit=limit)


async def test_a_block_ends_the_follows_between_two_accounts_both_ways(db: Database) -> None:
    with trio.fail_after(CEILING):
        alice, troll = await make_account(db, "alice"), await make_account(db, "troll")
        await follow(db, alice.id, troll.id)
        await follow(db, troll.id, alice.id)
        assert await block(db, alice.id, troll.id) is True
        assert await block(db, alice.id, troll.id) is False
        assert await is_blocked(db, by=alice.id, user=troll.id)
        assert not await is_blocked(db, by=troll.id, user=alice.id)  # a block has a direction
        assert not await follows(db, alice.id, troll.id)
        assert not await follows(db, troll.id, alice.id)
        assert (await blocked_accounts(db, alice.id)).accounts == (troll,)


async def test_while_a_block_stands_neither_account_can_follow_the_other(db: Database) -> None:
    with trio.fail_after(CEILING):
        alice, troll = await make_account(db, "alice"), await make_account(db, "troll")
        await block(db, alice.id, troll.id)
        for follower, followee in ((troll, alice), (alice, troll)):
            with pytest.raises(Blocked) as caught:
                await follow(db, follower.id, followee.id)
            assert caught.value.code == "blocked"
        assert await unblock(db, alice.id, troll.id) is True
        assert await unblock(db, alice.id, troll.id) is False
        assert not await is_blocked(db, by=alice.id, user=troll.id)
        assert not await follows(db, troll.id, alice.id)  # the follows a block ended do not come back
        assert await follow(db, troll.id, alice.id) is True
