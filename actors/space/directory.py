"""SpaceDirectory: creates spaces, finds them by id, and runs each under its own supervisor.

Each space is a supervision subtree: a one-for-one supervisor whose TRANSIENT child is the SpaceActor
(restarted after a crash, not after its host ends it; 3 restarts within 5 s, then it is given up and
everyone in it is told the space failed). What outlives an incarnation belongs to the space and is made
here: its `Audience` and its `AudioIngress` (the mixer). With the Rust fan-out, every space is ticked by
the directory's one `TickPool`.

The directory also ends abandoned spaces: one sweeper task for all of them (`sweep_abandoned`) looks, a few
times per grace period, at the spaces that reported having no host or co-host present, and asks those whose
grace may have passed to check (the space decides, by `domain/abandonment.py`). A space with a moderator
present costs the sweeper nothing.
"""

from __future__ import annotations

import logging
import secrets

import trio

from actors.runtime import ChildSpec, Restart, RestartEvent, RestartIntensityExceeded, open_supervisor
from actors.space import domain, errors
from actors.space.actor import MixConfig, SpaceActor, now_ms
from actors.space.audience import Audience, Fanout
from actors.space.events import SpaceEnded
from actors.space.ingress import AudioIngress, AudioStats
from actors.space.persistence import NO_STORE, SpaceStore, restored
from actors.space.ref import SpaceRef
from actors.space.ticking import open_ticker
from actors.space.values import SpaceState, SpeakerPolicy
from mixer import Fanout as RustFanout, TickPool

log = logging.getLogger("actors.space")

ABANDON_AFTER_S = 600.0
"""Default grace: a live space whose host and co-hosts have all been gone this long ends (`abandoned`)."""


class SpaceDirectory:
    """Holds the live spaces of this server. Spaces run as tasks in the nursery given at construction."""

    def __init__(
        self,
        nursery: trio.Nursery,
        fanout: Fanout,
        mix: MixConfig | None = None,
        frames_per_message: int = 1,
        store: SpaceStore = NO_STORE,
        abandon_after_s: float = ABANDON_AFTER_S,
        tick_pool: TickPool | None = None,
    ) -> None:
        self._nursery = nursery
        self.abandon_after_s = abandon_after_s
        self._unmoderated: dict[str, int] = {}  # live spaces without host or co-host -> since when (ms)
        self._store = store
        self._fanout = fanout
        self._frames_per_message = frames_per_message
        self._mix = mix or MixConfig()
        self._live: dict[str, SpaceRef] = {}
        self._hosted: dict[str, tuple[str, trio.Event]] = {}  # host -> the live space they host, its end
        self._over: set[str] = set()
        self._audio: dict[str, AudioIngress] = {}
        self._ended_audio = AudioStats()
        if tick_pool is None and isinstance(fanout, RustFanout):
            tick_pool = TickPool()
        self.tick_pool = tick_pool
        self.restarts = 0

    async def create(
        self,
        host: str,
        title: str,
        speakers: SpeakerPolicy = SpeakerPolicy.EVERYONE,
        *,
        description: str = "",
        topics: tuple[str, ...] | list[str] = (),
        host_name: str = "",
    ) -> SpaceRef:
        """A new live space hosted by `host` (a server-issued id; `host_name` is the label shown)."""
        space_id = secrets.token_urlsafe(9)
        state = domain.new_space(
            space_id, title, host, now_ms(), speakers, description=description, topics=topics, host_name=host_name
        )
        await self._store.space_created(state)
        ref: SpaceRef = await self._nursery.start(self._run_space, state)
        return ref

    async def restore(self) -> int:
        """Bring back the spaces that were live when the server last stopped; returns how many."""
        now = now_ms()
        await self._store.restarted(now)  # the abandonment grace of spaces left with a moderator starts now
        stored = await self._store.live_spaces()
        for space in stored:
            await self._nursery.start(self._run_space, restored(space, now))
            log.info("space %s restored at event %d", space.space_id, space.seq_reserved)
        return len(stored)

    def get(self, space_id: str) -> SpaceRef:
        ref = self._live.get(space_id)
        if ref is not None:
            return ref
        if space_id in self._over:
            raise errors.SpaceOver(f"space {space_id} has ended")
        raise errors.NoSuchSpace(f"no space {space_id!r}")

    def hosted_by(self, host: str) -> str | None:
        """The id of the live space `host` hosts, if any."""
        hosted = self._hosted.get(host)
        if hosted is None or hosted[1].is_set():  # ended: over, though its task may not have finished yet
            return None
        return hosted[0]

    @property
    def live_count(self) -> int:
        return len(self._live)

    def audio_stats(self) -> AudioStats:
        """Speakers' packets in every space this directory has run, ended ones included: how many the
        mixers took, and how many were dropped, by reason."""
        total = self._ended_audio
        for ingress in self._audio.values():
            total += ingress.stats()
        return total

    async def _run_space(self, state: SpaceState, *, task_status: trio.TaskStatus[SpaceRef]) -> None:
        space_id = state.space_id
        audience = Audience(space_id, self._fanout, self._frames_per_message)
        audience.last_seq = state.seq
        mixer = self._mix.new_mixer()
        audio = AudioIngress(space_id, mixer, open_ticker(mixer, audience, self._nursery, self.tick_pool))
        self._audio[space_id] = audio
        ended = trio.Event()
        spec = ChildSpec(
            id=f"space:{space_id}",
            start=lambda: SpaceActor(state, audience, audio, ended, self._store, self._set_unmoderated),
            restart=Restart.TRANSIENT,
            mailbox_size=256,
        )
        try:
            async with open_supervisor([spec], name=f"space:{space_id}", on_restart=self._count) as sup:
                actor = sup.child(spec.id)
                assert actor is not None
                ref = SpaceRef(space_id, actor, audio)
                self._live[space_id] = ref
                self._hosted[state.host] = (space_id, ended)
                task_status.started(ref)
                await ended.wait()
        except RestartIntensityExceeded as e:
            log.error("space %s failed beyond its restart budget: %r", space_id, e.__cause__)
            ended_at = now_ms()
            # Over for good: recorded as ended, so a restarted server does not bring it back.
            with trio.move_on_after(5):
                await self._store.space_ended(space_id, ended_at)
            audience.broadcast([SpaceEnded(space_id, audience.last_seq + 1, ended_at, "failed")])
        finally:
            audio.close()
            self._ended_audio += audio.stats()
            del self._audio[space_id]
            audience.close()
            self._live.pop(space_id, None)
            if self._hosted.get(state.host, ("", None))[0] == space_id:
                del self._hosted[state.host]
            self._unmoderated.pop(space_id, None)
            self._over.add(space_id)

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
                ref = self._live.get(space_id)
                if ref is not None:
                    ref.check_abandoned(grace_ms)
            await trio.sleep(interval_s)

    def _count(self, event: RestartEvent) -> None:
        self.restarts += 1
