"""The `Scheduler`: the gateway's one task that reminds hosts shortly before their scheduled spaces are
due. Notifications (`host_reminder`, like `space_starting` and `space_cancelled` sent by the schedule
handlers) are user notifications: sent to the account if it is connected now; the inbox keeps a message
of the same news for those who were not.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import trio

import store
from gateway import protocol as p

HOST_REMINDER_LEAD_S = 300.0
"""A host is reminded this long before their scheduled space's `starts_at` (at once if it is sooner)."""
MAX_SLEEP_S = 60.0  # the scheduler looks again at least this often (the wall clock may jump)


class Scheduler:
    """Resource handling: `run` is a task of the gateway's nursery; it sleeps until the next host reminder
    is due, or until `changed()` says the schedule moved. Reminders not yet sent when the server stops
    are in the store, and `run` sends them after a restart (to hosts who are connected then).
    """

    def __init__(self, db: store.Database, notify: Callable[[store.AccountId, msgspec.Struct], None]) -> None:
        self._db = db
        self._notify = notify
        self._changed = trio.Event()

    def changed(self) -> None:
        """A space was scheduled, started or cancelled: look again for the next due reminder."""
        self._changed.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        db = self._db
        task_status.started()
        while True:
            self._changed = trio.Event()  # before the query, so a change made during it is not missed
            due = await store.next_host_reminder(db)
            wait_s = MAX_SLEEP_S
            if due is not None:
                wait_s = (due.starts_at - db.now_ms()) / 1000 - HOST_REMINDER_LEAD_S
                if wait_s <= 0:
                    notice = p.HostReminder(scheduled_id=due.id, title=due.title, starts_at=due.starts_at)
                    self._notify(due.host, notice)
                    await store.mark_host_reminded(db, due.id)
                    continue
            with trio.move_on_after(min(wait_s, MAX_SLEEP_S)):
                await self._changed.wait()
