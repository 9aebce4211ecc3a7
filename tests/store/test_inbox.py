"""Direct messages: delivered in order, paged by id, marked read up to a point; invitations carry a
link to a space and a role."""

from __future__ import annotations

import pytest
import trio

from store import (
    INBOX_PAGE_BYTES,
    AccountId,
    BadArgument,
    Blocked,
    Database,
    Invite,
    MessageKind,
    NoSuchAccount,
    block,
    inbox,
    mark_read,
    send_dm,
    unblock,
    unread_count,
)
from tests.store.conftest import CEILING, FakeClock, make_account


async def test_messages_arrive_in_order_and_page_by_id(db: Database, clock: FakeClock) -> None:
    with trio.fail_after(CEILING):
        alice, bob, carol = [await make_account(db, name) for name in ("alice", "bob", "carol")]
        sent = []
        for i in range(7):
            sender = bob if i % 2 else carol
            sent.append(await send_dm(db, sender.id, alice.id, f"message {i}"))
            await send_dm(db, alice.id, sender.id, "a reply, not in alice's inbox")
            clock.advance(1)
        pages = []
        after = 0
        while page := await inbox(db, alice.id, after_id=after, limit=3):
            pages.append(page)
            after = page[-1].id
        assert [len(page) for page in pages] == [3, 3, 1]
        received = [message for page in pages for message in page]
        assert received == sent
        assert [m.text for m in received] == [f"message {i}" for i in range(7)]
        assert [m.sender_handle for m in received[:2]] == ["carol", "bob"]
        assert all(m.kind is MessageKind.TEXT and m.invite is None and not m.read for m in received)


async def test_an_invitation_to_speak_is_a_message_with_a_link(db: Database) -> None:
    with trio.fail_after(CEILING):
        host, guest = await make_account(db, "host"), await make_account(db, "guest")
        invite = Invite(space_id="sp-42", role="speaker")
        sent = await send_dm(db, host.id, guest.id, "", invite=invite)
        assert sent.kind is MessageKind.INVITE
        (received,) = await inbox(db, guest.id)
        assert received == sent
        assert received.invite == invite


@pytest.mark.parametrize(
    ("text", "invite", "field"),
    [
        ("", None, "text"),
        ("   \n", None, "text"),
        ("x" * 10_001, None, "text"),
        ("lone \ud800", None, "text"),
        ("", Invite(space_id="", role="speaker"), "invite.space_id"),
        ("", Invite(space_id="has space", role="speaker"), "invite.space_id"),
        ("", Invite(space_id="sp-1", role="Speaker"), "invite.role"),
        ("", Invite(space_id="sp-1", role=""), "invite.role"),
    ],
)
async def test_malformed_messages_are_refused(db: Database, text: str, invite: Invite | None, field: str) -> None:
    with trio.fail_after(CEILING):
        alice, bob = await make_account(db, "alice"), await make_account(db, "bob")
        with pytest.raises(BadArgument) as caught:
            await send_dm(db, alice.id, bob.id, text, invite=invite)
        assert caught.value.field == field
        assert await inbox(db, bob.id) == []


async def test_the_longest_message_is_accepted(db: Database) -> None:
    with trio.fail_after(CEILING):
        alice, bob = await make_account(db, "alice"), await make_account(db, "bob")
        await send_dm(db, alice.id, bob.id, "x" * 10_000)


async def test_a_page_of_long_messages_stops_before_its_text_passes_the_byte_budget(db: Database) -> None:
    with trio.fail_after(CEILING):
        alice, bob = await make_account(db, "alice"), await make_account(db, "bob")
        longest = "🔥" * 10_000  # 40,000 bytes of UTF-8: the largest message there is
        for _ in range(5):
            await send_dm(db, alice.id, bob.id, longest)
        for i in range(3):
            await send_dm(db, alice.id, bob.id, f"short {i}")
        page = await inbox(db, bob.id, limit=200)
        assert len(page) == 1 and sum(len(m.text.encode()) for m in page) <= INBOX_PAGE_BYTES
        seen = list(page)
        while page:
            page = await inbox(db, bob.id, after_id=page[-1].id, limit=200)
            assert sum(len(m.text.encode()) for m in page) <= max(INBOX_PAGE_BYTES, 40_000)
            seen += page
        assert len(seen) == 8, "paging by the last id still reads every message"
        shorts = await inbox(db, bob.id, after_id=seen[4].id, limit=200)
        assert [m.text for m in shorts] == ["short 0", "short 1", "short 2"], "control: short ones share a page"


async def test_messages_to_oneself_or_to_nobody_are_refused(db: Database) -> None:
    with trio.fail_after(CEILING):
        alice = await make_account(db, "alice")
        with pytest.raises(BadArgument):
            await send_dm(db, alice.id, alice.id, "hello me")
        with pytest.raises(NoSuchAccount):
            await send_dm(db, alice.id, AccountId(999), "hello?")


async def test_a_block_stops_messages_both_ways_until_lifted(db: Database) -> None:
    with trio.fail_after(CEILING):
        alice, troll = await make_account(db, "alice"), await make_account(db, "troll")
        await block(db, alice.id, troll.id)
        with pytest.raises(Blocked):
            await send_dm(db, troll.id, alice.id, "let me in")
        with pytest.raises(Blocked):
            await send_dm(db, alice.id, troll.id, "", invite=Invite(space_id="sp-1", role="speaker"))
        await unblock(db, alice.id, troll.id)
        await send_dm(db, troll.id, alice.id, "sorry")
        assert [m.text for m in await inbox(db, alice.id)] == ["sorry"]


async def test_marking_read_moves_forward_only_and_not_past_the_newest_message(db: Database) -> None:
    with trio.fail_after(CEILING):
        alice, bob = await make_account(db, "alice"), await make_account(db, "bob")
        first = [await send_dm(db, bob.id, alice.id, f"m{i}") for i in range(3)]
        assert await unread_count(db, alice.id) == 3
        await mark_read(db, alice.id, first[1].id)
        assert [m.read for m in await inbox(db, alice.id)] == [True, True, False]
        await mark_read(db, alice.id, first[0].id)  # never moves back
        assert await unread_count(db, alice.id) == 1
        await mark_read(db, alice.id, 10**12)  # clamped to the newest message
        assert await unread_count(db, alice.id) == 0
        later = await send_dm(db, bob.id, alice.id, "later")
        assert (await inbox(db, alice.id, after_id=first[-1].id)) == [later]
        assert await unread_count(db, alice.id) == 1


@pytest.mark.parametrize(("after_id", "limit"), [(-1, 50), (0, 0), (0, 201)])
async def test_inbox_paging_arguments_are_checked(db: Database, after_id: int, limit: int) -> None:
    with trio.fail_after(CEILING):
        alice = await make_account(db, "alice")
        with pytest.raises(BadArgument):
            await inbox(db, alice.id, after_id=after_id, limit=limit)
