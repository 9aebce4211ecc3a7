"""The space's recorder: which recording its driver writes, into which part file, and which mixer inputs
are consented. It belongs to the space, not to one incarnation of its actor (as the ticker it drives does):
a restarted actor finds the recording running and keeps writing the same file.

Files are `<data folder>/recordings/<recording id>/part-<n>.opus`: part 0 from the recording's start, and
one more each time the space comes back still recording (a server restart, or the file lost after a
fault), since a file cut off by a crash is finished as it is (`repair`, at the next start) and never
appended to. The mix itself, and writing the Ogg Opus pages off the tick threads, are the Rust driver's
(`mixer.SpaceDriver.start_recording`; `docs/recording.md`).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import trio

from actors.space import errors
from actors.space.ticking import Ticker
from actors.space.values import Recording
from mixer import repair_recording

log = logging.getLogger("actors.space")

RECORDINGS_FOLDER = "recordings"
_ID = re.compile(r"r-[0-9a-f]{1,32}")


def new_recording_id() -> str:
    """A server-issued recording id: `r-` and 16 hex digits."""
    return f"r-{secrets.token_hex(8)}"


def part_path(recording_id: str, part: int) -> str:
    """A part's file, relative to the data folder."""
    if not _ID.fullmatch(recording_id):  # never a path a client chose
        raise ValueError(f"not a recording id: {recording_id!r}")
    return f"{RECORDINGS_FOLDER}/{recording_id}/part-{part}.opus"


@dataclass(frozen=True, slots=True)
class PartStarted:
    """A part file the driver now writes: `path` relative to the data folder; times in unix ms."""

    recording_id: str
    part: int
    path: str
    recording_started_at: int
    started_at: int

    @property
    def offset_ms(self) -> int:
        """Where the part starts on its recording's timeline."""
        return max(0, self.started_at - self.recording_started_at)


@dataclass(frozen=True, slots=True)
class PartFinished:
    recording_id: str
    part: int
    duration_ms: int
    bytes: int


class Recorder:
    """Resource handling: a started part is the driver's until `stop` (or the driver's own stop, when the
    space is over, which finishes the file too)."""

    __slots__ = ("_consents", "_current", "_last", "_pending", "_root", "_ticker")

    def __init__(self, ticker: Ticker, root: Path | None) -> None:
        self._ticker = ticker
        self._root = root
        """The data folder; None: this server does not record."""
        self._current: PartStarted | None = None
        self._pending: PartStarted | None = None  # started ahead of the change that records it (`stored`)
        self._last: tuple[str, int] | None = None  # the last part written: (recording id, part)
        self._consents: dict[int, bool] = {}  # input id -> consented, as the driver was told

    @property
    def current(self) -> PartStarted | None:
        return self._current

    async def follow(self, want: Recording | None, *, strict: bool) -> tuple[PartFinished | None, PartStarted | None]:
        """Start or finish the part file as the space's recording `want` says; what was finished and what
        started. `strict`: the change at hand turns recording on, and is refused (`RecordingUnavailable`) if
        its file cannot be made; otherwise a failed start is logged, and tried again at the next change.

        Making and finishing a file wait on the disk (it is synced), so both run in a worker thread: the
        event loop goes on meanwhile (the space's actor waits, as for a store write)."""
        have = self._current
        if have is not None and want is not None and have.recording_id == want.recording_id:
            return None, self._pending
        finished = await trio.to_thread.run_sync(self.stop) if have is not None else None
        started = None
        if want is not None:
            try:
                started = await self.start(want.recording_id, want.first_part, want.started_at)
            except errors.RecordingUnavailable:
                if strict:
                    raise
                log.error("recording %s has no file now", want.recording_id)
        return finished, started

    async def start(self, recording_id: str, first_part: int, recording_started_at: int | None) -> PartStarted:
        """Start writing the next part of `recording_id` (`first_part`, or the one after the last this
        recorder wrote of it); the part's `started_at` is when its file was ready (its first frame is the
        next tick's), and so is the recording's start when `recording_started_at` is None (a new one). The
        part is `pending` until the change that records it is stored (`stored`). Error handling:
        `RecordingUnavailable` when this server does not record or the file cannot be made; nothing is then
        recording."""
        if self._root is None or not self._ticker.records:
            raise errors.RecordingUnavailable("this server does not record")
        assert self._current is None, "one part at a time: stop first"
        last = self._last
        part = last[1] + 1 if last is not None and last[0] == recording_id else first_part
        while (self._root / part_path(recording_id, part)).exists():  # a file no record names: never overwritten
            part += 1
        relative = part_path(recording_id, part)
        path = self._root / relative
        try:
            started_at = await trio.to_thread.run_sync(self._open, path)
        except (OSError, ValueError) as e:
            log.error("recording %s: cannot write %s: %s", recording_id, path, e)
            raise errors.RecordingUnavailable("the recording's file cannot be made on this server") from e
        self._last = (recording_id, part)
        since = started_at if recording_started_at is None else recording_started_at
        self._current = self._pending = PartStarted(recording_id, part, relative, since, started_at)
        return self._current

    def stored(self) -> None:
        """The part started last is in the store now."""
        self._pending = None

    def _open(self, path: Path) -> int:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._ticker.start_recording(str(path), secrets.randbits(32))
        return time.time_ns() // 1_000_000

    def stop(self) -> PartFinished | None:
        """Finish the part being written (the file closed, synced); None if none was."""
        current, self._current, self._pending = self._current, None, None
        if current is None:
            return None
        stats = self._ticker.stop_recording()
        duration, size = (0, 0) if stats is None else (stats.duration_ms, stats.bytes)
        if stats is not None and stats.write_errors:
            log.error("recording %s part %d: %d writes failed", current.recording_id, current.part, stats.write_errors)
        return PartFinished(current.recording_id, current.part, duration, size)

    def discard(self) -> None:
        """Stop and remove the part just started (its change could not be stored)."""
        current = self._current
        self.stop()
        if current is not None and self._root is not None:
            try:
                os.unlink(self._root / current.path)
            except OSError:
                pass
            if self._last == (current.recording_id, current.part):
                self._last = None if current.part == 0 else (current.recording_id, current.part - 1)

    def set_consents(self, recording: Recording | None, inputs: dict[str, int]) -> None:
        """Exactly the inputs (user -> mixer input: every input there is) of people consented to `recording`
        enter it: the driver is told only of changes, and holds them from its next tick."""
        consented = {i: recording is not None and recording.consented(user) for user, i in inputs.items()}
        for input_id, consent in consented.items():
            if self._consents.get(input_id, False) != consent:
                self._ticker.set_consent(input_id, consent)
        self._consents = consented

    def revoke(self, recording: Recording | None, inputs: dict[str, int]) -> None:
        """The inputs of people not consented to `recording` leave it now (a decline or withdrawal takes
        effect before it is written down; a consent given, only after: `set_consents`)."""
        for user, input_id in inputs.items():
            if self._consents.get(input_id) and (recording is None or not recording.consented(user)):
                self._ticker.set_consent(input_id, False)
                self._consents[input_id] = False


def repair(root: Path, relative: str) -> tuple[int, int]:
    """Finish a part file cut off by a crash (`mixer.repair_recording`): its duration (ms) and size; (0, 0)
    for a file that is missing or holds nothing playable. Blocking: run it in a worker thread."""
    path = root / relative
    try:
        duration = repair_recording(str(path))
        return duration, path.stat().st_size
    except (OSError, ValueError) as e:
        log.error("recording part %s could not be repaired: %s", relative, e)
        return 0, path.stat().st_size if path.exists() else 0
