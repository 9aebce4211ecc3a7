"""SpaceActor: the one actor per space. It owns the space's state and its mixer and performs the effects.

The rules live in `domain.py`; here the actor applies them, keeps the state stashed (so a restarted
incarnation recovers it), keeps the mixer's inputs in step with the roles, delivers events through the
`Audience`, and drives the 20 ms tick while anyone talks.

Order of work in one tick: take each input's next packet (the mixer drained what `push` queued),
decode or conceal, sum, build the shared mix and each talker's mix-minus, encode each once (in a worker
thread, the GIL released), then queue the frames for every member. No tick runs while nobody talks.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import trio

from actors.runtime import Actor, Context
from actors.space import domain
from actors.space.audience import Audience
from actors.space.commands import EndSpace, GetSnapshot, Join, Leave, PushAudio, SetRole, SharePost
from actors.space.errors import SpaceError
from actors.space.events import SpaceEvent
from actors.space.values import SpaceState
from mixer import Mixer, MixerError

log = logging.getLogger("actors.space")

FRAME_S = 0.020
AUDIENCE_INTERVAL_S = 1.0
MAX_BEHIND_S = 0.2


@dataclass(frozen=True, slots=True)
class MixConfig:
    bitrate: int = 32000
    complexity: int = 5
    max_queue: int = 6
    hangover_ticks: int = 5
    max_mixed: int = 4
    silence_dbfs: int = -50
    hold_ticks: int = 10


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class SpaceActor(Actor):
    reply_errors = (SpaceError,)

    def __init__(self, initial: SpaceState, audience: Audience, mix: MixConfig, ended: trio.Event) -> None:
        self._initial = initial
        self._audience = audience
        self._mix_config = mix
        self._ended = ended
        self.state = initial
        self._input_of: dict[str, int] = {}
        self._next_input = 1
        self._wake = trio.Event()
        self.seq_offset = 0
        self.mixer = self._new_mixer()

    def _new_mixer(self) -> Mixer:
        c = self._mix_config
        return Mixer(bitrate=c.bitrate, complexity=c.complexity, max_queue=c.max_queue, hangover_ticks=c.hangover_ticks)

    async def on_start(self, ctx: Context) -> None:
        recovered = ctx.recovered
        if isinstance(recovered, SpaceState):
            self.state = recovered
            log.info("space %s recovered at event %d (restart %d)", self.state.space_id, self.state.seq, ctx.restarts)
        else:
            ctx.stash(self.state)
        self._sync_inputs()
        # A restarted incarnation has a new mixer counting from 0: frames keep numbering on from the last.
        self.seq_offset = self._audience.next_audio_seq
        ctx.nursery.start_soon(self._tick_loop)
        ctx.nursery.start_soon(self._announce_audience, ctx)

    async def handle(self, message: object, ctx: Context) -> object:
        match message:
            case PushAudio():
                self._push(message)
                return None
            case Join():
                self._commit(ctx, *domain.apply(self.state, message, now_ms()))
                role = self.state.role_of(message.user)
                assert role is not None
                # Snapshot first, then membership: every later event reaches this connection after it.
                message.link.joined(self.state)
                self._audience.attach(message.user, message.link, on_mic=role.on_mic)
                return self.state
            case Leave():
                current = self._audience.links.get(message.user)
                if message.link is not None and current is not None and current is not message.link:
                    return None  # a newer connection of the same user replaced this one: it stays
                self._commit(ctx, *domain.apply(self.state, message, now_ms()))
                self._audience.detach(message.user)
                return None
            case SetRole() | SharePost():
                self._commit(ctx, *domain.apply(self.state, message, now_ms()))
                return None
            case EndSpace():
                self._commit(ctx, *domain.apply(self.state, message, now_ms()))
                self._ended.set()
                ctx.stop()
                return None
            case GetSnapshot():
                return self.state
        raise TypeError(f"a space does not handle {type(message).__name__}")

    def _commit(self, ctx: Context, state: SpaceState, events: list[SpaceEvent]) -> None:
        """Make `state` current: stash it, bring the mixer's inputs in step with the roles, tell everyone."""
        self.state = state
        ctx.stash(state)
        self._sync_inputs()
        self._audience.broadcast(events)

    def _sync_inputs(self) -> None:
        """Exactly the people on the mic are mixer inputs: a role change is in force from the next tick."""
        on_mic = self.state.on_mic
        for user in set(self._input_of) - set(on_mic):
            self._remove_input(user)
            self._audience.set_on_mic(user, False)
        for user in on_mic:
            if user not in self._input_of:
                self._add_input(user)
                self._audience.set_on_mic(user, True)

    def _add_input(self, user: str) -> None:
        self._input_of[user] = self._next_input
        self.mixer.add_input(self._next_input)
        self._next_input += 1

    def _remove_input(self, user: str) -> None:
        input_id = self._input_of.pop(user, None)
        if input_id is not None:
            self.mixer.remove_input(input_id)  # silent from the next tick on: revoked at ingress

    def _push(self, packet: PushAudio) -> None:
        input_id = self._input_of.get(packet.user)
        if input_id is None:
            return  # not on the mic (any more): the gateway already told the sender
        try:
            accepted = self.mixer.push(input_id, packet.seq, packet.captured_at, packet.opus)
        except MixerError as e:
            log.info("space %s: packet from %s refused: %s", self.state.space_id, packet.user, e)
            return
        if accepted:
            self._wake.set()

    async def _announce_audience(self, ctx: Context) -> None:
        """Once a second, one event for all the listeners who came and went (see `SpaceState`)."""
        while True:
            await trio.sleep(AUDIENCE_INTERVAL_S)
            if self.state.arrived_count or self.state.departed_count:
                self._commit(ctx, *domain.announce_audience(self.state, now_ms()))

    async def _tick_loop(self) -> None:
        """Tick every 20 ms on a deadline schedule while the mixer has audio; park when it goes quiet.

        A late tick is caught up at once (audio stays continuous). If the loop falls more than
        `MAX_BEHIND_S` behind (a stalled machine), the missed ticks are skipped, and counted into the
        frames' `seq`, so listeners see the gap as the loss it is.
        """
        while True:
            await self._wake.wait()
            # One frame of playout delay, so each talker's next packet is usually there when the tick needs it.
            await trio.sleep(FRAME_S)
            deadline = trio.current_time()
            while self.mixer.active:
                out = await trio.to_thread.run_sync(self.mixer.tick)
                seq = out.seq + self.seq_offset
                self._audience.send_mix(seq, out.captured_at, out.shared, out.minus, out.mixed, self._input_of)
                deadline += FRAME_S
                behind = trio.current_time() - deadline
                if behind > MAX_BEHIND_S:
                    missed = int(behind / FRAME_S)
                    self.seq_offset += missed
                    deadline += missed * FRAME_S
                    log.warning("space %s: tick loop %.0f ms behind, %d ticks skipped", self.state.space_id,
                                behind * 1000, missed)  # fmt: skip
                await trio.sleep_until(deadline)
            self._audience.flush()
            self._wake = trio.Event()
