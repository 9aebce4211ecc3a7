"""SpaceDirectory: creates spaces, finds them by id, and runs them all under one dynamic supervisor.

Each space's SpaceActor is a TRANSIENT child of the directory's one-for-one supervisor (restarted after a
crash, not after its host ends it) with a restart budget of its own (3 restarts within 5 s): past it, that
space alone is given up, and everyone in it is told the space failed; the other spaces never notice. An
idle space is that child's one task waiting on its mailbox, and the objects below: no supervisor, task
or nursery of its own. What outlives an incarnation belongs to the space and is made here: its
`Audience` and its `AudioIngress` (the mixer). With the Rust fan-out, every space is ticked by the
directory's one `TickPool`.

The directory also ends abandoned spaces: one sweeper task for all of them (`sweep_abandoned`) looks, a few
times per grace period, at the spaces that reported having no host or co-host present, and asks those whose
grace may have passed to check (the space decides, by `domain/abandonment.py`). A space with a moderator
present costs the sweeper nothing.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import NamedTuple

import trio

from actors.runtime import (
    ChildSpec,
    Restart,
    RestartEvent,
    RestartIntensity,
    Supervisor,
    open_supervisor,
)
from actors.space import domain, errors
from actors.space.actor import SpaceActor, now_ms
from actors.space.audience import Audience, Fanout
from actors.space.events import SpaceEnded
from actors.space.ingress import AudioIngress, AudioStats
from actors.space.persistence import NO_STORE, RecordingNote, RecordingWrite, SpaceStore, restored
from actors.space.recorder import PartFinished, Recorder, repair
from actors.space.ref import SpaceRef
from actors.space.ticking import MixConfig, open_ticker
from actors.space.values import SpaceState, SpeakerPolicy, new_space_id
from mixer import BatchPolicy, Fanout as RustFanout, TickPool

log = logging.getLogger("actors.space")

AUDIO_CHECK_S = 1.0
"""How often the directory looks for spaces whose audio failed (`_watch_audio`)."""

MAX_REMEMBERED_OVER = 10_000
"""Ended spaces the directory remembers, to answer `space_ended` rather than `no_such_space` (memory stays
bounded however many spaces end)."""

ABANDON_AFTER_S = 600.0
"""Default grace: a live space whose host and co-hosts have all been gone this long ends (`abandoned`)."""

SPACE_RESTARTS = RestartIntensity(max_restarts=3, within_s=5.0)
"""Each space's own restart budget: past it the space is given up (ended as `failed`)."""

STORE_WRITE_S = 5.0
"""How long a failed space waits to record its end before telling its audience anyway."""


class _Live(NamedTuple):
    """A live space as the directory holds it (a tuple: the least a space can cost here)."""

    ref: SpaceRef
    audience: Audience
    host: str
    recorder: Recorder


class SpaceDirectory:
    """Holds the live spaces of this server.

    Resource handling: the spaces' supervisor runs as a task in the nursery given at construction, from
    the first `create` or `restore` on; cancelling that nursery cancels every space and closes its audio
    and audience. A space given up writes its end and tells its audience from a task in that nursery.
    """

    def __init__(
        self,
        nursery: trio.Nursery,
        fanout: Fanout,
        mix: MixConfig | None = None,
        batching: BatchPolicy | None = None,
        store: SpaceStore = NO_STORE,
        abandon_after_s: float = ABANDON_AFTER_S,
        tick_pool: TickPool | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self._nursery = nursery
        self._data_dir = data_dir
        """Where recordings are written (`recordings/` in it); None: spaces do not record."""
        self.abandon_after_s = abandon_after_s
        self._unmoderated: dict[str, int] = {}  # live spaces without host or co-host -> since when (ms)
        self._store = store
        self._fanout = fanout
        self._batching = batching or BatchPolicy()
        self._mix = mix or MixConfig()
        self._live: dict[str, _Live] = {}
        self._hosted: dict[str, str] = {}  # host -> the live space they host
        self._over: dict[str, None] = {}  # the latest `MAX_REMEMBERED_OVER` spaces that ended, oldest first
        self._supervisor: Supervisor | None = None
        self._supervisor_lock = trio.Lock()
        self._ended_audio = AudioStats()
        if tick_pool is None and isinstance(fanout, RustFanout):
            tick_pool = TickPool()
        self.tick_pool = tick_pool
        self.restarts = 0
        # Bound once, shared by every space's start (a bound method made per space would cost each 64 B).
        self._space_over = self._forget
        self._space_unmoderated = self._set_unmoderated

    async def create(
        self,
        host: str,
        title: str,
        speakers: SpeakerPolicy = SpeakerPolicy.EVERYONE,
        *,
        description: str = "",
        topics: tuple[str, ...] | list[str] = (),
        host_name: str = "",
        record: bool = False,
        host_present: bool = True,
    ) -> SpaceRef:
        """A new live space hosted by `host` (a server-issued id; `host_name` is the label shown); with
        `record`, recording from its start (turned on by the host before anyone else can join); without
        `host_present`, one the host is not in until they join (`domain.new_space`).

        Error handling: `HostLimit` if `host` already hosts a live space (one at a time: the check and the
        reservation happen together, before any wait, so two requests cannot both pass). A space recorded
        but not started (its start failed, or was cancelled) is recorded as ended, so that neither the
        listings nor a restart ever see it live; so is one asked to record that cannot
        (`RecordingUnavailable`)."""
        space_id = new_space_id()
        state = domain.new_space(space_id, title, host, now_ms(), speakers, description=description, topics=topics,
                                 host_name=host_name, host_present=host_present)  # fmt: skip
        if host in self._hosted:
            raise errors.HostLimit(f"you already host a live space ({self._hosted[host]}): end it first")
        self._hosted[host] = space_id
        recorded = False
        try:
            await self._store.space_created(state)
            recorded = True
            space = await self._start_space(state)
        except BaseException:
            if self._hosted.get(host) == space_id:
                del self._hosted[host]
            if recorded:
                with trio.CancelScope(shield=True), trio.move_on_after(STORE_WRITE_S):
                    await self._store.space_ended(space_id, now_ms())
            raise
        if record:
            try:
                await space.set_recording(host, True)
            except errors.RecordingUnavailable:
                with trio.CancelScope(shield=True), trio.move_on_after(STORE_WRITE_S):
                    await space.end(host)
                raise
        return space

    async def restore(self) -> int:
        """Bring back the spaces that were live when the server last stopped; returns how many. First, the
        recordings' part files left unfinished are repaired; a space still recording then writes a new part."""
        now = now_ms()
        await self._repair_recordings()
        await self._store.restarted(now)  # the abandonment grace of spaces left with a moderator starts now
        stored = await self._store.live_spaces()
        for space in stored:
            await self._start_space(restored(space, now))
            log.info("space %s restored at event %d", space.space_id, space.seq_reserved)
        return len(stored)

    async def _repair_recordings(self) -> None:
        """Finish every part file a stopped (or killed) server left open: a torn last page dropped, the end
        marked (`mixer.repair_recording`), its duration and size recorded."""
        root = self._data_dir
        parts = await self._store.unfinished_parts()
        if root is None or not parts:
            return
        repaired = []
        for part in parts:
            duration, size = await trio.to_thread.run_sync(repair, root, part.path)
            repaired.append(PartFinished(part.recording_id, part.part, duration, size))
            log.info("recording %s part %d repaired: %d ms", part.recording_id, part.part, duration)
        await self._store.parts_repaired(repaired)

    def get(self, space_id: str) -> SpaceRef:
        live = self._live.get(space_id)
        if live is not None:
            return live.ref
        if space_id in self._over:
            raise errors.SpaceOver(f"space {space_id} has ended")
        raise errors.NoSuchSpace(f"no space {space_id!r}")

    def live_ids(self) -> list[str]:
        """The ids of the live spaces, oldest first."""
        return list(self._live)

    def hosted_by(self, host: str) -> str | None:
        """The id of the live space `host` hosts, if any."""
        return self._hosted.get(host)

    @property
    def live_count(self) -> int:
        return len(self._live)

    @property
    def unmoderated_count(self) -> int:
        """Live spaces with no host or co-host present now."""
        return len(self._unmoderated)

    def audio_stats(self) -> AudioStats:
        """Speakers' packets in every space this directory has run, ended ones included: how many the
        mixers took, and how many were dropped, by reason."""
        total = self._ended_audio
        for live in self._live.values():
            total += live.ref.audio.stats()
        return total

    async def _start_space(self, state: SpaceState) -> SpaceRef:
        """Make what outlives an incarnation (audience, mixer, ticker) and start the actor. Error
        handling: if its first `on_start` fails, what was made is closed and `ActorCrashed` raised."""
        supervisor = await self._spaces()
        space_id = state.space_id
        audience = Audience(space_id, self._fanout, self._batching)
        audience.last_seq = state.seq
        mixer = self._mix.new_mixer()
        audio = AudioIngress(space_id, mixer, open_ticker(mixer, audience, self._nursery, self.tick_pool))
        recorder = Recorder(audio.ticker, self._data_dir)
        spec = ChildSpec(
            id=space_id,
            start=partial(
                SpaceActor, state, audience, audio, self._space_over, self._store, self._space_unmoderated, recorder
            ),  # fmt: skip
            restart=Restart.TRANSIENT,
            mailbox_size=256,
            intensity=SPACE_RESTARTS,
        )
        try:
            actor = await supervisor.start_child(spec)
        except BaseException:
            self._unmoderated.pop(space_id, None)
            recorder.stop()
            self._close(audio, audience)
            raise
        ref = SpaceRef(space_id, actor, audio)
        self._live[space_id] = _Live(ref, audience, state.host, recorder)
        self._hosted[state.host] = space_id
        log.info("space started", extra={"space": space_id, "host": state.host})
        return ref

    async def _spaces(self) -> Supervisor:
        """The spaces' supervisor, started in the directory's nursery on first use."""
        async with self._supervisor_lock:
            if self._supervisor is None:
                self._supervisor = await self._nursery.start(self._supervise)
            return self._supervisor

    async def _supervise(self, *, task_status: trio.TaskStatus[Supervisor]) -> None:
        try:
            async with (
                open_supervisor(name="spaces", on_restart=self._count, on_give_up=self._give_up) as sup,
                trio.open_nursery() as watching,
            ):
                watching.start_soon(self._watch_audio, sup)
                task_status.started(sup)
                await trio.sleep_forever()
        finally:
            for space_id in list(self._live):
                self._forget(space_id)

    async def _watch_audio(self, supervisor: Supervisor) -> None:
        """End each space whose audio failed (a panic in its tick, which the tick pool caught: a bug) as
        `failed`, within `AUDIO_CHECK_S`: its actor stopped, then as a space given up. A restart would tick
        the same state into the same panic; the other spaces go on."""
        while True:
            await trio.sleep(AUDIO_CHECK_S)
            failed = [(space_id, f) for space_id, live in self._live.items() if (f := live.ref.audio.ticker.failure)]
            for space_id, failure in failed:
                log.error("space %s: its audio failed, the space ends: %s", space_id, failure)
                await supervisor.terminate_child(space_id)
                self._end_failed(space_id)

    def _give_up(self, space_id: str, error: Exception | None) -> None:
        """A space crashed past its budget (its actor is gone): it is over, as `failed`."""
        log.error("space %s failed beyond its restart budget: %r", space_id, error)
        self._end_failed(space_id)

    def _end_failed(self, space_id: str) -> None:
        """The space, its actor gone, is over as `failed`: its recording finished, its clients and the store told."""
        live = self._live.get(space_id)
        if live is not None:
            write = self._recording_failed(live.recorder)
            self._forget(space_id, keep_audience=True)
            self._nursery.start_soon(self._tell_failed, space_id, live.audience, write)

    @staticmethod
    def _recording_failed(recorder: Recorder) -> RecordingWrite:
        """A space given up while recording: its file finished now, and what the store must keep of that."""
        current = recorder.current
        if current is None:
            return RecordingWrite()
        finished = recorder.stop()
        ended = now_ms()
        note = RecordingNote(current.recording_id, ended - current.recording_started_at, "recording_stopped", None)
        parts = () if finished is None else (finished,)
        return RecordingWrite(parts_finished=parts, notes=(note,), ended=(current.recording_id, ended))

    async def _tell_failed(self, space_id: str, audience: Audience, recording: RecordingWrite) -> None:
        try:
            ended_at = now_ms()
            # Over for good: recorded as ended, so a restarted server does not bring it back.
            with trio.move_on_after(STORE_WRITE_S):
                if recording:
                    await self._store.recording_changed(space_id, recording)
                await self._store.space_ended(space_id, ended_at)
            audience.broadcast([SpaceEnded(space_id, audience.last_seq + 1, ended_at, "failed")])
        finally:
            audience.close()

    def _forget(self, space_id: str, *, keep_audience: bool = False) -> None:
        """The space is over (ended, given up, or the directory stops): stop its audio, close its audience
        (unless the caller still has to tell it), and remember it as over. Idempotent."""
        live = self._live.pop(space_id, None)
        if live is None:
            return
        if self._hosted.get(live.host) == space_id:
            del self._hosted[live.host]
        self._unmoderated.pop(space_id, None)
        self._over[space_id] = None
        log.info("space ended", extra={"space": space_id, "host": live.host})
        if len(self._over) > MAX_REMEMBERED_OVER:  # an older one is `no_such_space` to `get`: still not live
            del self._over[next(iter(self._over))]
        live.recorder.stop()  # the file finished here; a server that stops repairs it at its next start
        if keep_audience:
            self._close(live.ref.audio, None)
        else:
            self._close(live.ref.audio, live.audience)

    def _close(self, audio: AudioIngress, audience: Audience | None) -> None:
        audio.close()
        self._ended_audio += audio.stats()
        if audience is not None:
            audience.close()

    def _set_unmoderated(self, space_id: str, since: int | None) -> None:
        if since is None:
            self._unmoderated.pop(space_id, None)
        else:
            self._unmoderated[space_id] = since

    async def sweep_abandoned(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """End the spaces whose hosts and co-hosts have been gone for `abandon_after_s`, at most a quarter of
        the grace (and at most 1 s) late. Runs until cancelled; looks at once, so spaces restored after
        their grace passed while the server was down end at start.

        Each due space gets a `CheckAbandoned` without waiting (a busy space is asked again next round);
        the space decides with its own state, so a moderator who came back in between keeps it."""
        grace_ms = round(self.abandon_after_s * 1000)
        interval_s = min(1.0, self.abandon_after_s / 4)
        task_status.started()
        while True:
            deadline = now_ms() - grace_ms
            for space_id in [s for s, since in self._unmoderated.items() if since <= deadline]:
                live = self._live.get(space_id)
                if live is not None:
                    live.ref.check_abandoned(grace_ms)
            await trio.sleep(interval_s)

    def _count(self, event: RestartEvent) -> None:
        self.restarts += 1
        log.error("space crashed: restarting it", extra={"space": event.child_id, "reason": event.reason,
                  "error_type": event.error_type, "restarts": event.restarts})  # fmt: skip
