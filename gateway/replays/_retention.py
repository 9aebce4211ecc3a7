"""Retention: one task that deletes the recordings that ended longer ago than `recordings.retention` (default
30 days), their records and their files, and any recording folder no record names (a delete cut off between
the two). Recordings still running never expire.

Order of work for one recording (the store's two steps): the record is hidden first (from then on nobody is
given a link, and a link already given finds no record: 404), then the files are removed, then the rows
(`purge_recording`). A delete cut short between the steps (a crash, a host's delete that failed) is finished
by the next sweep: every sweep, the first at start, finishes the deleted recordings not yet purged. A folder
that no record names at all is removed once nothing in it changed for `ORPHAN_GRACE_S`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import trio

import store
from gateway import logs
from gateway.replays._files import recording_folders, remove_recording_files

log = logs.get_logger("gateway.replays")

DAY_S = 24 * 3600.0
RETENTION_DAYS = 30.0
SWEEP_INTERVAL_S = 3600.0
"""How often the sweeper looks (and once at start): a recording lives at most this much past its retention."""
ORPHAN_GRACE_S = 3600.0
"""A recording folder that no record names is deleted once nothing in it changed for this long."""
MAX_PER_SWEEP = 1000
"""At most this many recordings are deleted by one sweep (the next sweep goes on)."""


@dataclass(frozen=True)
class Swept:
    """What one sweep deleted."""

    recordings: int
    """Recordings deleted: expired, or deleted earlier and finished now."""
    orphan_folders: int


class Retention:
    """The sweeper: `run` (a task, in the server's nursery) sweeps at start, then every `interval_s`.

    Error handling: a sweep that fails (the disk, the store) is logged and tried again at the next interval;
    it never ends the server. Time is the store's clock (`db.now_ms()`), so tests move it forward."""

    def __init__(
        self,
        db: store.Database,
        data_dir: Path,
        retention_s: float | None = RETENTION_DAYS * DAY_S,
        *,
        interval_s: float = SWEEP_INTERVAL_S,
    ) -> None:
        self.db = db
        self.data_dir = data_dir
        self.retention_s = retention_s
        """None: recordings are kept until their host deletes them."""
        self.interval_s = interval_s

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            try:
                swept = await self.sweep()
            except Exception:  # trio.Cancelled is no Exception: a cancelled sweep ends the task
                log.exception("recording retention: the sweep failed; trying again in %.0f s", self.interval_s)
            else:
                if swept.recordings or swept.orphan_folders:
                    log.info("recording retention: %d expired recording(s) and %d orphan folder(s) deleted",
                             swept.recordings, swept.orphan_folders)  # fmt: skip
            await trio.sleep(self.interval_s)

    async def sweep(self) -> Swept:
        """Delete what has expired now; returns what it deleted."""
        db = self.db
        ids = await store.deleted_recordings(db)  # deletes cut short: their files, then their rows
        if self.retention_s is not None:
            cutoff_ms = db.now_ms() - int(self.retention_s * 1000)
            ids += [recording.id for recording in await store.expired_recordings(db, cutoff_ms)]
        ids = ids[:MAX_PER_SWEEP]
        for recording_id in ids:
            paths = await store.delete_recording(db, recording_id, db.now_ms())
            await remove_recording_files(self.data_dir, recording_id, paths)
            await store.purge_recording(db, recording_id)
        return Swept(len(ids), await self._orphans())

    async def _orphans(self) -> int:
        removed = 0
        settled = time.time() - ORPHAN_GRACE_S
        for recording_id, modified in await recording_folders(self.data_dir):
            if modified < settled and await store.get_recording(self.db, recording_id) is None:
                await remove_recording_files(self.data_dir, recording_id)
                removed += 1
        return removed
