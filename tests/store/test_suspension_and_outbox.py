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


async def test_a_registered_receiver_starts_after_the_last_event_written_and_holds_the_bound_until_removed(
    db: Database,
) -> None:
    with trio.fail_after(CEILING):
        first, after = await store.add_webhook_receiver(db, "http://a/", "whsec_a", 2)
        assert after == 0
        await store.add_webhook_events(db, _events(3), 10)
        assert await store.webhook_backlog(db, first.key) == 3
        second, after = await store.add_webhook_receiver(db, "http://a/", "whsec_b", 2)  # one URL twice: two
        assert (second.id != first.id, after, await store.webhook_cursor(db, second.key)) == (True, 3, 3)
        assert await store.webhook_backlog(db, second.key) == 0  # the events before it are not its
        await store.add_webhook_events(db, _events(2), 10)
        assert (await store.webhook_backlog(db, first.key), await store.webhook_backlog(db, second.key)) == (5, 2)
        with pytest.raises(store.TooManyWebhookReceivers) as refused:
            await store.add_webhook_receiver(db, "http://c/", "whsec_c", 2)
        assert refused.value.code == "limit_reached"
        assert [r.id for r in await store.webhook_receivers(db)] == [first.id, second.id]
        await store.set_webhook_receivers(db, [])  # the settings' receivers change: registered ones stay
        assert await _cursor_rows(db, first.key) == 1
        # A registered receiver that acknowledged nothing holds the outbox's bound, as one of the settings does...
        assert await store.add_webhook_events(db, _events(5), 10) == 0
        assert await store.add_webhook_events(db, _events(1), 10) == 1
        # ...until it is removed: its cursor goes with it. Removing it twice finds nothing.
        assert await store.remove_webhook_receiver(db, first.id) is True
        assert await store.remove_webhook_receiver(db, first.id) is False
        assert await _cursor_rows(db, first.key) == 0
        assert await store.add_webhook_events(db, _events(1), 10) == 0  # room: what the other acknowledged
        assert [r.id for r in await store.webhook_receivers(db)] == [second.id]
        # With every row deleted, a new receiver still starts after the last id ever given (11).
        await db.write(lambda conn: conn.execute("DELETE FROM webhook_events"))
        third, after = await store.add_webhook_receiver(db, "http://d/", "whsec_d", 2)
        assert after == 11 and await store.webhook_backlog(db, third.key) == 0


async def _cursor_rows(db: Database, key: str) -> int:
    statement = "SELECT count(*) FROM webhook_cursors WHERE url = ?"
    return int(await db.read(lambda conn: conn.execute(statement, (key,)).fetchone()[0]))
