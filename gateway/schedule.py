"""Spaces made now or scheduled for later, over the wire: create, schedule, cancel, start, reminders, the
lists of live and upcoming spaces and their search, a space's record (`get_space`, live or ended), each a
call into `store/` or the directory; and the `Scheduler`, the gateway's one task that reminds hosts shortly
before their spaces are due.

The session (`session.py`) dispatches here. Notifications (`space_starting`, `space_cancelled`,
`host_reminder`) are user notifications, like `dm_received`: sent to the account if it is connected now;
the inbox keeps a message of the same news for reminder holders who were not.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

import msgspec
import trio

import store
from actors.space import SpaceError, SpaceRef, SpaceStatus, errors as space_errors
from gateway import accounts, protocol as p, space_store
from gateway.errors import AccountRequired, RateLimited

if TYPE_CHECKING:
    from gateway.server import Gateway
    from gateway.session import Session

HOST_REMINDER_LEAD_S = 300.0
"""A host is reminded this long before their scheduled space's `starts_at` (at once if it is sooner)."""
LISTINGS_PER_S = 5  # `list_spaces`, `search_spaces` and `get_space` together, per connection; more are rate_limited
MAX_LIVE_LISTED = 50
MAX_UPCOMING_LISTED = 25
"""A `spaces` reply lists at most this many live and upcoming spaces, whatever the `limit` asked (up to 100):
with the longest titles, descriptions and topics, both lists together stay under half a connection's
256 KiB send queue (an upcoming space can take about 3 KB, a live one about 0.9 KB)."""
MAX_SLEEP_S = 60.0  # the scheduler looks again at least this often (the wall clock may jump)


class Scheduler:
    """The host reminders, and what the schedule requests share: per-connection listing rates.

    Resource handling: `run` is a task of the gateway's nursery; it sleeps until the next host reminder
    is due, or until `changed()` says the schedule moved. Reminders not yet sent when the server stops
    are in the store, and `run` sends them after a restart (to hosts who are connected then).
    """

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._changed = trio.Event()
        self._listings: WeakKeyDictionary[Session, deque[float]] = WeakKeyDictionary()

    def changed(self) -> None:
        """A space was scheduled, started or cancelled: look again for the next due reminder."""
        self._changed.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        db = self._gateway.db
        task_status.started()
        while True:
            self._changed = trio.Event()  # before the query, so a change made during it is not missed
            due = await store.next_host_reminder(db)
            wait_s = MAX_SLEEP_S
            if due is not None:
                wait_s = (due.starts_at - db.now_ms()) / 1000 - HOST_REMINDER_LEAD_S
                if wait_s <= 0:
                    self._remind_host(due)
                    await store.mark_host_reminded(db, due.id)
                    continue
            with trio.move_on_after(min(wait_s, MAX_SLEEP_S)):
                await self._changed.wait()

    def limit_listings(self, session: Session) -> None:
        """At most `LISTINGS_PER_S` listings or searches in any second; the excess is refused, not queued."""
        times = self._listings.setdefault(session, deque(maxlen=LISTINGS_PER_S))
        now = time.monotonic()
        if len(times) == LISTINGS_PER_S and now - times[0] < 1.0:
            raise RateLimited(f"at most {LISTINGS_PER_S} listings, searches or space records a second")
        times.append(now)

    def _remind_host(self, space: store.ScheduledSpace) -> None:
        notice = p.HostReminder(scheduled_id=space.id, title=space.title, starts_at=space.starts_at)
        _tell(self._gateway, space.host, space.host_handle, notice)


async def handle(session: Session, m: p.ScheduleRequest) -> msgspec.Struct:
    """Carry out one schedule request (all but `start_scheduled`, see `start`) and return its reply."""
    gateway = session.gateway
    db = gateway.db
    match m:
        case p.ListSpaces():
            gateway.scheduler.limit_listings(session)
            return await _spaces(gateway, m.ref, live=m.kind == "live", upcoming=m.kind == "upcoming", limit=m.limit)
        case p.SearchSpaces():
            gateway.scheduler.limit_listings(session)
            return await _spaces(gateway, m.ref, live=True, upcoming=True, limit=m.limit, query=m.query)
        case p.GetSpace():
            gateway.scheduler.limit_listings(session)
            return await _record(db, m.ref, m.space_id)
    me = _require_account(session)
    match m:
        case p.ScheduleSpace():
            await accounts.check_may_host(session)
            scheduled = await store.schedule_space(
                db, me.id, m.title, m.starts_at, description=m.description, topics=m.topics
            )
            gateway.scheduler.changed()
            return p.Scheduled(ref=m.ref, space=wire_scheduled(scheduled))
        case p.CancelScheduled():
            await _require_host(db, me, m.scheduled_id, "cancels")
            cancelled, holders = await store.cancel_scheduled(db, m.scheduled_id)
            gateway.scheduler.changed()
            notice = p.SpaceCancelled(scheduled_id=cancelled.id, title=cancelled.title)
            for holder in holders:
                _tell(gateway, holder.id, holder.handle, notice)
        case p.SetReminder():
            await store.add_reminder(db, m.scheduled_id, me.id)
        case p.ClearReminder():
            await store.remove_reminder(db, m.scheduled_id, me.id)
        case _:
            raise TypeError(f"no handler for {type(m).__name__}")
    return p.Ok(m.ref)


async def create(session: Session, m: p.CreateSpace) -> SpaceRef:
    """A space now, hosted by this connection's user (an account or a guest), with its description and
    topics (the rules of a scheduled space's, checked by the space: bad_argument). The session then puts
    the host in it."""
    assert session.user is not None
    await accounts.check_may_host(session)
    return await session.gateway.directory.create(
        session.user, m.title, m.speakers, description=m.description, topics=m.topics
    )


async def start(session: Session, scheduled_id: int) -> SpaceRef:
    """The host starts their scheduled space: a live space with its title, description and topics, recorded
    as its start, and
    `space_starting` to every connected reminder holder. The session then puts the host in it."""
    me = _require_account(session)
    gateway = session.gateway
    db = gateway.db
    scheduled = await _require_host(db, me, scheduled_id, "starts")
    if not scheduled.pending:
        how = "was cancelled" if scheduled.cancelled_at is not None else "has started"
        raise store.ScheduledSpaceOver(scheduled_id, how)
    await accounts.check_may_host(session)
    space = await gateway.directory.create(
        me.handle, scheduled.title, description=scheduled.description, topics=scheduled.topics
    )
    started, holders = await store.mark_started(db, scheduled_id, space.space_id)
    gateway.scheduler.changed()
    notice = p.SpaceStarting(scheduled_id=started.id, space_id=space.space_id, title=started.title, host=me.handle)
    for holder in holders:
        _tell(gateway, holder.id, holder.handle, notice)
    return space


def wire_scheduled(space: store.ScheduledSpace) -> p.ScheduledSpace:
    return p.ScheduledSpace(
        scheduled_id=space.id,
        host=space.host_handle,
        title=space.title,
        description=space.description,
        topics=list(space.topics),
        starts_at=space.starts_at,
        created_at=space.created_at,
        reminder_count=space.reminder_count,
    )


async def _spaces(
    gateway: Gateway, ref: int, *, live: bool, upcoming: bool, limit: int, query: str | None = None
) -> p.Spaces:
    """Live spaces with their counts as the spaces have them now (a space that just ended is left out),
    and upcoming ones."""
    db = gateway.db
    live_spaces: list[p.LiveSpace] = []
    if live:
        for listing in await store.live_listing(db, limit=min(limit, MAX_LIVE_LISTED), query=query):
            try:
                state = await gateway.directory.get(listing.space_id).snapshot()
            except SpaceError:
                continue
            live_spaces.append(
                p.LiveSpace(
                    space_id=listing.space_id,
                    title=listing.title,
                    host=listing.host,
                    topics=list(listing.topics),
                    listener_count=state.listener_count,
                    speaker_count=state.on_mic_count,
                )
            )
    scheduled = await store.upcoming(db, limit=min(limit, MAX_UPCOMING_LISTED), query=query) if upcoming else []
    return p.Spaces(ref=ref, live=live_spaces, upcoming=[wire_scheduled(s) for s in scheduled])


async def _record(db: store.Database, ref: int, space_id: str) -> p.SpaceRecord:
    space = await space_store.space_record(db, space_id)
    if space is None:
        raise space_errors.NoSuchSpace(f"no space {space_id!r}")
    return p.SpaceRecord(
        ref=ref,
        space_id=space.space_id,
        title=space.title,
        host=space.host,
        description=space.description,
        topics=list(space.topics),
        status=SpaceStatus(space.status),
        created_at=space.created_at,
        ended_at=space.ended_at,
        timeline=list(space_store.timeline(space)),
    )


async def _require_host(db: store.Database, me: store.Account, scheduled_id: int, does: str) -> store.ScheduledSpace:
    scheduled = await store.get_scheduled(db, scheduled_id)
    if scheduled.host != me.id:
        raise space_errors.NotAllowed(f"only the host {does} a scheduled space")
    return scheduled


def _tell(gateway: Gateway, account: store.AccountId, handle: str, notice: msgspec.Struct) -> None:
    session = gateway.sessions.get(handle)
    if session is not None and session.account is not None and session.account.id == account:
        session.send(p.encode(notice))


def _require_account(session: Session) -> store.Account:
    if session.account is None:
        raise AccountRequired("sign in with an account (`log_in`, or `hello` with a token) first")
    return session.account
