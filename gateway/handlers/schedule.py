"""Spaces scheduled for later, and finding spaces: schedule, cancel, start, reminders, the lists of live
and upcoming spaces and their search, a space's record (`get_space`, live or ended). The rules of a
scheduled space (who may start or cancel it, when) are the domain's (`actors/space/domain/schedule.py`)."""

from __future__ import annotations

import trio

import store
from actors.space import SpaceError, SpaceStatus, domain, errors as space_errors
from gateway import identity, logs, protocol as p, space_store
from gateway.context import Caller
from gateway.handlers.accounts import my_account
from gateway.handlers.spaces import require_may_host, require_no_space
from gateway.handlers.text import checked_text

Reply = p.Reply

LISTING_WAIT_S = 1.0
"""How long a listing waits, in all, for the live spaces' counts; spaces not reached by then are left out."""
MAX_LIVE_LISTED = 50
MAX_UPCOMING_LISTED = 25
"""A `spaces` reply lists at most this many live and upcoming spaces, whatever the `limit` asked (up to 100):
with the longest titles, descriptions and topics, both lists together stay under half a connection's
256 KiB send queue (an upcoming space can take about 3 KB, a live one about 0.9 KB)."""


async def schedule_space(c: Caller, m: p.ScheduleSpace) -> Reply:
    me = my_account(c)
    db = c.services.db
    title = checked_text("title", m.title)  # the rule of text fields, before anything is done
    description = checked_text("description", m.description, required=False, lines=True)
    topics = [checked_text("topics", topic) for topic in m.topics]
    if (await store.get_account_by_id(db, me.id)).protected:
        await require_may_host(c)  # refused with protected_account
    scheduled = await store.schedule_space(
        db,
        me.id,
        title,
        m.starts_at,
        description=description,
        topics=topics,
        max_pending=c.services.limits.settings.max_scheduled_per_account,  # `limit_reached`, checked atomically
        record=m.record,
    )
    c.services.scheduler.changed()
    return p.Scheduled(ref=m.ref, space=wire_scheduled(scheduled))


def once_each(topics: tuple[str, ...]) -> tuple[str, ...]:
    """The first of each topic, in any casing: a space scheduled before topics given twice were refused
    (2026-12-04) still starts."""
    seen: set[str] = set()
    kept = []
    for topic in topics:
        if topic.casefold() not in seen:
            seen.add(topic.casefold())
            kept.append(topic)
    return tuple(kept)


async def cancel_scheduled(c: Caller, m: p.CancelScheduled) -> Reply:
    db = c.services.db
    scheduled = await store.get_scheduled(db, m.scheduled_id)
    domain.schedule.check_host(scheduled.host, my_account(c).id, "cancels")
    cancelled, holders = await store.cancel_scheduled(db, m.scheduled_id)
    c.services.scheduler.changed()
    notice = p.SpaceCancelled(scheduled_id=cancelled.id, title=cancelled.title)
    for holder in holders:
        c.services.notify(holder.id, notice)
    return None


async def start_scheduled(c: Caller, m: p.StartScheduled) -> Reply:
    """The host starts their scheduled space: a live space with its title, description and topics,
    recorded as its start, and `space_starting` to every connected reminder holder; the host enters it."""
    me = my_account(c)
    require_no_space(c)  # checked first, as docs/authorization.md says
    db = c.services.db
    scheduled = await store.get_scheduled(db, m.scheduled_id)
    domain.schedule.check_host(scheduled.host, me.id, "starts")
    domain.schedule.check_pending(scheduled.id, scheduled.cancelled_at, scheduled.started_space_id)
    await require_may_host(c)
    with logs.detached():  # the space's tasks must not log as this connection
        space = await c.services.directory.create(
            identity.account_user(me),
            scheduled.title,
            description=scheduled.description,
            topics=once_each(scheduled.topics),
            host_name=me.handle,
            record=scheduled.record,
        )
    started, holders = await store.mark_started(db, m.scheduled_id, space.space_id)
    c.services.scheduler.changed()
    notice = p.SpaceStarting(
        scheduled_id=started.id,
        space_id=space.space_id,
        title=started.title,
        host=identity.account_user(me),
        host_name=me.handle,
    )
    for holder in holders:
        c.services.notify(holder.id, notice)
    await c.enter(m.ref, space)
    return p.SENT


async def set_reminder(c: Caller, m: p.SetReminder) -> Reply:
    await store.add_reminder(c.services.db, m.scheduled_id, my_account(c).id)
    return None


async def clear_reminder(c: Caller, m: p.ClearReminder) -> Reply:
    await store.remove_reminder(c.services.db, m.scheduled_id, my_account(c).id)
    return None


async def list_spaces(c: Caller, m: p.ListSpaces) -> Reply:
    return await _spaces(c, m.ref, live=m.kind == "live", upcoming=m.kind == "upcoming", limit=m.limit)


async def search_spaces(c: Caller, m: p.SearchSpaces) -> Reply:
    return await _spaces(c, m.ref, live=True, upcoming=True, limit=m.limit, query=m.query)


async def get_posts(c: Caller, m: p.GetPosts) -> Reply:
    """A page of a space's older posts, from the store, for a live or an ended space (the snapshot and a
    space's record carry only the latest). Open to everyone, as `get_space` is."""
    page = await space_store.posts_before(c.services.db, m.space_id, m.before_id, m.limit)
    if page is None:
        raise space_errors.NoSuchSpace(f"no space {m.space_id!r}")
    posts, more = page
    return p.Posts(ref=m.ref, space_id=m.space_id, posts=posts, more=more)


async def get_space(c: Caller, m: p.GetSpace) -> Reply:
    space = await space_store.space_record(c.services.db, m.space_id)
    if space is None:
        raise space_errors.NoSuchSpace(f"no space {m.space_id!r}")
    return p.SpaceRecord(
        ref=m.ref,
        space_id=space.space_id,
        title=space.title,
        host=space.host,
        host_name=space.host_name,
        description=space.description,
        topics=list(space.topics),
        status=SpaceStatus(space.status),
        created_at=space.created_at,
        ended_at=space.ended_at,
        timeline=list(space_store.timeline(space)),
    )


def wire_scheduled(space: store.ScheduledSpace) -> p.ScheduledSpace:
    return p.ScheduledSpace(
        scheduled_id=space.id,
        host=identity.user_of(space.host),
        host_name=space.host_handle,
        title=space.title,
        description=space.description,
        topics=list(space.topics),
        starts_at=space.starts_at,
        created_at=space.created_at,
        reminder_count=space.reminder_count,
        record=space.record,
    )


async def _spaces(c: Caller, ref: int, *, live: bool, upcoming: bool, limit: int, query: str | None = None) -> p.Spaces:
    """Live spaces with their counts as the spaces have them now (a space that just ended is left out),
    and upcoming ones."""
    db = c.services.db
    live_spaces: list[p.LiveSpace] = []
    if live:
        listings = await store.live_listing(db, limit=min(limit, MAX_LIVE_LISTED), query=query)
        deadline = trio.current_time() + LISTING_WAIT_S
        for listing in listings:
            with trio.move_on_at(deadline) as waited:  # one busy space must not hold up the whole list
                try:
                    state = await c.services.directory.get(listing.space_id).snapshot()
                except SpaceError:
                    continue
            if waited.cancelled_caught:
                break
            live_spaces.append(
                p.LiveSpace(
                    space_id=listing.space_id,
                    title=listing.title,
                    host=listing.host,
                    host_name=state.name_of(state.host),
                    topics=list(listing.topics),
                    listener_count=state.listener_count,
                    speaker_count=state.on_mic_count,
                    recording=state.recording is not None,
                )
            )
    scheduled = await store.upcoming(db, limit=min(limit, MAX_UPCOMING_LISTED), query=query) if upcoming else []
    return p.Spaces(ref=ref, live=live_spaces, upcoming=[wire_scheduled(s) for s in scheduled])
