"""SpaceActor: the one actor per space. It owns the space's state and performs the effects.

The rules live in `domain/`; here the actor applies them, keeps the state stashed (so a restarted
incarnation recovers it), keeps the mixer's inputs (and which of them are recorded) in step with the roles
and consents, starts and finishes the recording's files (`Recorder`), and delivers events through the
`Audience`.

Speakers' packets do not come through here: they go from the session to the mixer through the space's
`AudioIngress` (`ingress.py`), whose inputs the actor keeps in step with the state. The tick runs in a
`Ticker` (`ticking.py`): with the Rust fan-out, the server's Rust tick threads, which never wait for
Python; the actor only tells it who speaks and where each speaker's stream goes.

A space also reports when it has no host or co-host present (`on_unmoderated`): the directory's sweeper
then asks it, once the grace may have passed, whether it is abandoned (`CheckAbandoned`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import msgspec
import trio

from actors.runtime import Actor, Context
from actors.space import domain
from actors.space.audience import Audience
from actors.space.commands import (
    AcceptInvite,
    AnnounceAudience,
    ApproveRequest,
    CheckAbandoned,
    DenyRequest,
    EndSpace,
    GetSnapshot,
    InviteSpeaker,
    Join,
    Leave,
    LowerHand,
    MemberLink,
    MuteAll,
    MuteSpeaker,
    PinPost,
    PushAudio,
    RaiseHand,
    React,
    RemoveParticipant,
    Resume,
    SetConsent,
    SetRecording,
    SetRole,
    SetSpeakerPolicy,
    SharePost,
    UnmuteSpeaker,
    UnpinPost,
)
from actors.space.errors import SpaceError
from actors.space.events import (
    ParticipantRemoved,
    PostShared,
    SpaceEnded,
    SpaceEvent,
    SpeakerInvited,
    SpeakerPolicyChanged,
)
from actors.space.ingress import AudioIngress
from actors.space.persistence import NO_STORE, SEQ_BLOCK, SpaceStore
from actors.space.recorder import PartFinished, PartStarted, Recorder
from actors.space.recording_log import recording_write
from actors.space.values import NO_CHURN, Churn, SpaceState, SpaceStatus

log = logging.getLogger("actors.space")

AUDIENCE_INTERVAL_S = 1.0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class SpaceActor(Actor):
    __slots__ = ("_announcing", "_audience", "_ingress", "_on_end", "_on_unmoderated", "_recorder", "_routed",
                 "_seq_reserved", "_store", "state")  # fmt: skip

    reply_errors = (SpaceError,)
    batch_types = (Join, Leave)
    batch_limit = 100  # the gateway's snapshot names the latest 100 arrivals: each joiner of a batch is there

    def __init__(
        self,
        initial: SpaceState,
        audience: Audience,
        ingress: AudioIngress,
        on_end: Callable[[str], None],
        store: SpaceStore = NO_STORE,
        on_unmoderated: Callable[[str, int | None], None] | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self._store = store
        self._recorder = recorder if recorder is not None else Recorder(ingress.ticker, None)
        self._on_unmoderated = on_unmoderated
        self._seq_reserved = 0  # the first change records a reservation above the current number
        self._audience = audience
        self._ingress = ingress
        self._on_end = on_end
        self.state = initial
        self._routed = ingress.ticker.routes  # input id -> connection, as the ticker knows it
        self._announcing = False

    async def on_start(self, ctx: Context) -> None:
        recovered = ctx.recovered
        if isinstance(recovered, SpaceState):
            self.state = recovered
            log.info("space %s recovered at event %d (restart %d)", self.state.space_id, self.state.seq, ctx.restarts)
        else:
            ctx.stash(self.state)
        self._report_unmoderated()
        self._sync_inputs()
        self._schedule_announcement(ctx)
        await self._resume_recording()

    async def handle(self, message: object, ctx: Context) -> object:
        match message:
            case PushAudio():
                # Sessions push through the space's AudioIngress; a packet told to the actor goes there too.
                self._ingress.push(message.user, message.seq, message.captured_at, message.opus, message.level)
                return None
            case Join() | Leave():
                result = (await self.handle_batch([message], ctx))[0]
                if isinstance(result, SpaceError):
                    raise result
                return result
            case Resume():
                if not domain.resumable(self.state, message.user):  # let go: a new arrival
                    join = Join(message.user, message.link, message.name)
                    await self._commit(ctx, *domain.apply(self.state, join, now_ms()))
                    message.link.joined(self.state)
                else:  # the place was kept: the events it missed, then the live ones
                    message.link.resumed(self.state, self.state.log.since(message.last_seq, self.state.seq))
                self._attach(message.user, message.link)
                return self.state
            case RemoveParticipant():
                # The removed connection gets the event (its session then leaves), and nothing after it.
                await self._commit(ctx, *domain.apply(self.state, message, now_ms()))
                self._audience.detach(message.user)
                self._sync_routes()
                return None
            case PinPost():
                command = await self._with_older_post(message)
                await self._commit(ctx, *domain.apply(self.state, command, now_ms()))
                return None
            case (
                SetRole()
                | SharePost()
                | RaiseHand()
                | LowerHand()
                | ApproveRequest()
                | DenyRequest()
                | MuteSpeaker()
                | UnmuteSpeaker()
                | MuteAll()
                | UnpinPost()
                | React()
                | SetSpeakerPolicy()
                | InviteSpeaker()
                | AcceptInvite()
                | SetConsent()
            ):
                await self._commit(ctx, *domain.apply(self.state, message, now_ms()))
                return None
            case SetRecording():
                await self._commit(ctx, *await self._apply_recording(message))
                return None
            case EndSpace() | CheckAbandoned():
                await self._commit(ctx, *domain.apply(self.state, message, now_ms()))
                if self.state.status is SpaceStatus.ENDED:
                    self._on_end(self.state.space_id)
                    ctx.stop()
                return None
            case AnnounceAudience():
                if self.state.arrived_count or self.state.departed_count:  # not announced already
                    await self._commit(ctx, *domain.announce_audience(self.state, now_ms()))
                return None
            case GetSnapshot():
                return self.state
        raise TypeError(f"a space does not handle {type(message).__name__}")

    async def handle_batch(self, messages: list[object], ctx: Context) -> list[object]:
        """Joins and leaves waiting together (a crowd coming or going) are taken a run of the same kind at a
        time, in order: per run one new state and one commit, so each costs O(1) however many are present."""
        results: list[object] = []
        start = 0
        while start < len(messages):
            kind = type(messages[start])
            end = start + 1
            while end < len(messages) and type(messages[end]) is kind:
                end += 1
            run = messages[start:end]
            if kind is Join:
                results += await self._take_joins(ctx, [m for m in run if isinstance(m, Join)])
            else:
                results += await self._take_leaves(ctx, [m for m in run if isinstance(m, Leave)])
            start = end
        return results

    async def _take_joins(self, ctx: Context, joins: list[Join]) -> list[object]:
        """Every joiner of the run sees the same snapshot (so it is encoded once), answered with the state or
        its own refusal. The snapshot goes first, then membership, so every later event reaches each joiner
        after its snapshot."""
        now = now_ms()
        state, events, refusals = domain.apply_joins(self.state, joins, now)
        churn = domain.listener_churn(self.state, state, ((j.user, j.name) for j in joins), now)
        await self._commit(ctx, state, events, churn)
        for join, refusal in zip(joins, refusals, strict=True):
            if refusal is not None:
                continue
            role = state.role_of(join.user)
            assert role is not None
            previous = self._audience.links.get(join.user)
            join.link.joined(state)
            self._audience.attach(join.user, join.link, on_mic=role.on_mic)
            self._ingress.ticker.send_speaking(join.link.conn)  # after `joined`: who is talking now
            if previous is not None and previous is not join.link:
                # A new connection starts its audio `seq` again: a fresh input hears it from packet one.
                self._ingress.restart_stream(join.user)
        self._sync_routes()
        return [state if refusal is None else refusal for refusal in refusals]

    async def _take_leaves(self, ctx: Context, leaves: list[Leave]) -> list[object]:
        """A leave whose link a newer connection of the same user replaced is no leave: that one stays."""
        links = self._audience.links
        kept = [i for i, m in enumerate(leaves) if m.link is None or links.get(m.user) in (None, m.link)]
        now, run = now_ms(), [leaves[i] for i in kept]
        state, events, refusals = domain.apply_leaves(self.state, run, now)
        churn = domain.listener_churn(self.state, state, ((m.user, m.reason) for m in run), now)
        if state is not self.state or events:
            await self._commit(ctx, state, events, churn)
        results: list[object] = [None] * len(leaves)
        for i, refusal in zip(kept, refusals, strict=True):
            results[i] = refusal
            if refusal is None:
                self._audience.detach(leaves[i].user)
        self._sync_routes()
        return results

    async def _commit(self, ctx: Context, state: SpaceState, events: list[SpaceEvent], churn: Churn = NO_CHURN) -> None:
        """Make `state` current: write what must last, then stash it, bring the mixer's inputs in step with
        the roles, and tell everyone. Nothing is told before it is durable.

        The recording goes first: a part file is started or finished as the new state says (a recording
        turned on whose file cannot be made refuses the change: `RecordingUnavailable`), and a consent that
        ends (declined, withdrawn, its owner off the mic) leaves the mix before the write; a consent given
        enters it after, with the rest of the inputs."""
        strict = _turns_on(self.state, state)
        finished, started = await self._recorder.follow(state.live_recording, strict=strict)
        self._recorder.revoke(state.live_recording, self._ingress.inputs())
        try:
            await self._persist(state, events, finished, started, churn)
        except BaseException:
            if started is not None:
                self._recorder.discard()
            raise
        self._recorder.stored()
        if events:
            state = msgspec.structs.replace(state, log=state.log.appended(events))
        before, self.state = self.state, state
        ctx.stash(state)
        self._sync_inputs()
        self._audience.broadcast(events)
        self._schedule_announcement(ctx)
        if state.unmoderated_since != before.unmoderated_since:
            self._report_unmoderated()

    def _report_unmoderated(self) -> None:
        if self._on_unmoderated is not None and self.state.status is SpaceStatus.LIVE:
            self._on_unmoderated(self.state.space_id, self.state.unmoderated_since)

    async def _with_older_post(self, command: PinPost) -> PinPost:
        """A pin of a post the state no longer holds carries the post, read from the store (which keeps
        every post); the rules then answer as for any other."""
        state, post_id = self.state, command.post_id
        if command.older is not None or not 1 <= post_id <= state.post_count or domain.holds_post(state, post_id):
            return command
        return msgspec.structs.replace(command, older=await self._store.post(state.space_id, post_id))

    async def _persist(self, state: SpaceState, events: list[SpaceEvent], finished: PartFinished | None = None,
                       started: PartStarted | None = None, churn: Churn = NO_CHURN) -> None:  # fmt: skip
        store, space_id = self._store, state.space_id
        store.stage_events(self.state, state, events, churn)  # taken by the first write below, or flushed at the end
        write = recording_write(self.state, state, events, finished, started, events[0].at if events else now_ms())
        if write:
            await store.recording_changed(space_id, write)
        if state.seq > self._seq_reserved:
            self._seq_reserved = state.seq + SEQ_BLOCK
            await store.reserve_seq(space_id, self._seq_reserved)
        for event in events:
            if isinstance(event, PostShared):
                await store.post_shared(space_id, event.post)
            elif isinstance(event, ParticipantRemoved):
                await store.participant_removed(space_id, event.user)
            elif isinstance(event, SpeakerPolicyChanged):
                await store.speaker_policy_changed(space_id, event.policy)
            elif isinstance(event, SpeakerInvited):
                await store.speaker_invited(space_id, event.user, event.at)
            elif isinstance(event, SpaceEnded):
                await store.space_ended(space_id, event.at)
        if state.unmoderated_since != self.state.unmoderated_since:
            await store.unmoderated(space_id, state.unmoderated_since)
        for user in self.state.invited:
            if user not in state.invited:  # an invitation accepted: used up
                await store.invitation_used(space_id, user)
        await store.flush_events(space_id)

    def _attach(self, user: str, link: MemberLink) -> None:
        """Make `link` the connection of `user` (present in the state): events from now on reach it."""
        role = self.state.role_of(user)
        assert role is not None
        previous = self._audience.links.get(user)
        self._audience.attach(user, link, on_mic=role.on_mic)
        self._ingress.ticker.send_speaking(link.conn)  # after `joined` or `resumed`: who is talking now
        if previous is not None and previous is not link:
            # A new connection starts its audio `seq` again: a fresh input hears it from packet one.
            self._ingress.restart_stream(user)
        self._sync_routes()

    def _sync_inputs(self) -> None:
        """Exactly the unmuted people on the mic are mixer inputs: a role change, a mute or a removal is in
        force from the next tick (no live microphone survives it). Someone muted hears the shared mix, as
        the audience does, since they have no input of their own to route a stream to."""
        live = [user for user in self.state.on_mic if user not in self.state.muted]
        for user in self._ingress.users - set(live):
            self._ingress.remove(user)  # silent from the next tick on: revoked at ingress
            self._audience.set_on_mic(user, False)
        for user in live:
            if user not in self._ingress.users:
                self._ingress.add(user)
                self._audience.set_on_mic(user, True)
        self._sync_routes()

    async def _apply_recording(self, command: SetRecording) -> domain.Result:
        """Recording on or off. On, the file is made first (it waits on the disk), then the rule is applied at
        that moment: the recording's start, its event and its first frame agree. No file, no change."""
        state, events = domain.apply(self.state, command, now_ms())
        recording = state.live_recording
        if recording is None or not _turns_on(self.state, state):
            return state, events
        part = await self._recorder.start(recording.recording_id, 0, None)
        return domain.apply(self.state, command, part.started_at)

    async def _resume_recording(self) -> None:
        """At the start of an incarnation: the recorder (the space's) is still writing after an actor restart;
        after a server restart, or a file lost, a new part of the recording starts. A part whose record
        cannot be written is dropped (the next change tries again)."""
        finished, started = await self._recorder.follow(self.state.live_recording, strict=False)
        if finished is not None or started is not None:
            try:
                write = recording_write(self.state, self.state, [], finished, started, now_ms())
                await self._store.recording_changed(self.state.space_id, write)
                self._recorder.stored()
            except Exception:
                log.exception("space %s: the recording's new part could not be recorded", self.state.space_id)
                self._recorder.discard()

    def _sync_routes(self) -> None:
        """Each speaker's own stream goes to its current connection (at most 13 of them)."""
        routes = {}
        for user, input_id in self._ingress.inputs().items():
            link = self._audience.links.get(user)
            if link is not None:
                routes[input_id] = link.conn
        ticker = self._ingress.ticker
        for input_id in self._routed.keys() - routes.keys():
            ticker.unroute(input_id)
        for input_id, conn in routes.items():
            if self._routed.get(input_id) != conn:
                ticker.route(input_id, conn)
        self._routed = routes
        self._recorder.set_consents(self.state.live_recording, self._ingress.inputs())  # inputs change with routes

    def _schedule_announcement(self, ctx: Context) -> None:
        """Listeners came or went: announce them all together in a second, unless that is planned already.
        A task only while there is something to announce, so a quiet space holds no timer and no task."""
        if not self._announcing and (self.state.arrived_count or self.state.departed_count):
            self._announcing = True
            ctx.nursery.start_soon(self._announce_audience, ctx)

    async def _announce_audience(self, ctx: Context) -> None:
        """One event for all the listeners who came and went in the last second (see `SpaceState`). It goes
        through the mailbox like every change, so no two changes ever interleave."""
        await trio.sleep(AUDIENCE_INTERVAL_S)
        await ctx.self_ref.tell(AnnounceAudience())
        self._announcing = False


def _turns_on(before: SpaceState, after: SpaceState) -> bool:
    """Whether the change from `before` to `after` starts a recording (and must be refused without its file)."""
    new, old = after.live_recording, before.recording
    return new is not None and (old is None or old.recording_id != new.recording_id)
