"""Suspension in the store (sessions revoked with it, log-in and tokens refused, restore) and the webhook
outbox (written in the caller's transaction, each space numbered 1, 2, 3..., bounded as documented)."""

from __future__ import annotations

import sqlite3

import pytest
import trio

import store
from store import AccountSuspended, BadCredentials, Database, NewWebhookEvent, TokenInvalid
from tests.store.conftest import CEILING, PASSWORD


async def test_a_suspended_account_is_refused_at_log_in_and_with_its_tokens_until_restored(db: Database) -> None:
    with trio.fail_after(CEILING):
        sam = await store.register(db, "sam", PASSWORD, "Sam")
        before = await store.log_in(db, "sam", PASSWORD)
        account, changed = await store.suspend_account(db, sam.id)
        assert (account.id, changed) == (sam.id, True)
        assert (await store.suspend_account(db, sam.id))[1] is False  # already suspended
        assert await store.suspended_accounts(db) == frozenset({sam.id})
        with pytest.raises(AccountSuspended):
            await store.verify_token(db, before.token)
        with pytest.raises(AccountSuspended):
            await store.log_in(db, "sam", PASSWORD)
        with pytest.raises(BadCredentials):  # a wrong password learns nothing of the suspension
            await store.log_in(db, "sam", "wrong password here")
        assert (await store.restore_account(db, sam.id))[1] is True
        assert await store.suspended_accounts(db) == frozenset()
        with pytest.raises(TokenInvalid):  # the old session stays revoked
            await store.verify_token(db, before.token)
        after = await store.log_in(db, "sam", PASSWORD)
        assert (await store.verify_token(db, after.token)).account.id == sam.id


def _events(n: int, space_id: str | None = "s1") -> list[NewWebhookEvent]:
    return [NewWebhookEvent("post.shared", f'{{"n": {i}}}', space_id) for i in range(n)]


async def test_outbox_rows_go_with_the_change_or_not_at_all(db: Database) -> None:
    with trio.fail_after(CEILING):

        def failing_change(conn: sqlite3.Connection) -> None:
            store.append_webhook_events(conn, _events(2), 0)
            raise RuntimeError("the change failed")

        with pytest.raises(RuntimeError):
            await db.write(failing_change)
        assert await store.webhook_events_after(db, 0, 100) == []
        await store.add_webhook_events(db, _events(3) + _events(1, None) + _events(2, "s2"), 1000)
        written = await store.webhook_events_after(db, 0, 100)
        assert [(e.space_id, e.space_seq) for e in written] == [
            ("s1", 1), ("s1", 2), ("s1", 3), (None, None), ("s2", 1), ("s2", 2)
        ]  # fmt: skip


async def test_a_full_outbox_deletes_acknowledged_events_first_then_drops_new_ones(db: Database) -> None:
    with trio.fail_after(CEILING):
        await store.set_webhook_receivers(db, ["http://receiver/"])
        assert await store.add_webhook_events(db, _events(100), 100) == 0
        assert await store.add_webhook_events(db, _events(5), 100) == 5  # the receiver acknowledged none: dropped
        await store.set_webhook_cursor(db, "http://receiver/", 60)
        assert await store.add_webhook_events(db, _events(5), 100) == 0  # room made from acknowledged ones
        kept = await store.webhook_events_after(db, 0, 1000)
        assert kept[0].id > 50 and len(kept) <= 100 and kept[-1].space_seq == 105
        assert await store.webhook_backlog(db, "http://receiver/") == len([e for e in kept if e.id > 60])


async def test_without_receivers_the_outbox_keeps_the_latest_events(db: Database) -> None:
    with trio.fail_after(CEILING):
        await store.set_webhook_receivers(db, ["http://gone/"])
        await store.set_webhook_receivers(db, [])  # a receiver taken out of the settings holds nothing back
        assert await store.add_webhook_events(db, _events(150), 100) == 0
        kept = await store.webhook_events_after(db, 0, 1000)
        assert len(kept) <= 100 and kept[-1].space_seq == 150
