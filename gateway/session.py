"""Session: one client connection, from `hello` to close. Reads, decodes, and hands each request to the
table in `requests.py`; keeps this connection's view of itself (who it is, its space, role and mute).

Everything the session sends goes through the server's fan-out (`send`), which keeps one ordered queue
per connection. Tasks per connection: the reader (`_read_all`); with the Python transport also the
`TrioConnection`'s writer draining the Outbox and its keepalive (with the Rust transport the `Wire` keeps
every connection alive itself). Requests from one client are handled in
order; a refusal is an `error` reply and changes nothing. The session is the handlers' `Caller`
(`context.py`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

import msgspec
import trio
from trio_websocket import ConnectionClosed

import store
from actors.space import (
    MuteChanged,
    ParticipantLeft,
    ParticipantRemoved,
    Role,
    RoleChanged,
    SpaceEnded,
    SpaceError,
    SpaceEvent,
    SpaceRef,
    SpaceState,
    errors as space_errors,
)
from gateway import logs, protocol as p, requests
from gateway.connection import Connection, TrioConnection
from gateway.context import Services
from gateway.errors import CloseCode, GatewayError, NotAuthenticated, RateLimited, code_of, report_incident
from gateway.guest_names import NO_HOLD, NameHold
from gateway.refusals import Refusals
from gateway.space_link import SpaceLink
from mixer import AudioPace, parse_audio

if TYPE_CHECKING:
    from gateway.server import Gateway

log = logs.get_logger("gateway")

MAX_ERROR_CHARS = 200  # an `error`'s `message` (docs/protocol.md)
LEAVE_TIMEOUT_S = 2.0
CLOSE_TIMEOUT_S = 2.0
KEPT_ON = frozenset({CloseCode.REPLACED, CloseCode.KEEPALIVE_TIMEOUT, CloseCode.TOO_SLOW})
"""The server's closes after which the user keeps their place for the resume window (`docs/protocol.md`)."""
CLEAN_CLOSES = frozenset({1000, 1001})
"""A client's close codes that leave its space at once; any other close keeps its place for the resume window."""


def _server_code(code: int) -> CloseCode:
    """A close code the wire sent, as the server's own (INTERNAL_ERROR for one it does not know: a fault)."""
    try:
        return CloseCode(code)
    except ValueError:
        return CloseCode.INTERNAL_ERROR


class Session:
    def __init__(self, ws: Connection, gateway: Gateway, conn: int, address: str) -> None:
        self.ws = ws
        self.gateway = gateway
        self.conn = conn
        self.address = address
        self.user: str | None = None  # the server-issued id, once `hello` succeeded
        self.name = ""
        self.account: store.Account | None = None  # None: a guest
        self.token: str | None = None  # the account's session token (revoked on `log_out`), or the guest token
        self._name_hold = NO_HOLD  # a guest's name, held in `services.guest_names` while it is shown
        self.space: SpaceRef | None = None
        self.link: SpaceLink | None = None
        self.role: Role | None = None
        self.muted = False
        self.close_code: CloseCode | None = None
        self.close_reason = ""
        self.peer_close_code: int | None = None  # the code of the client's close frame (1006: none came)
        self._close_requested = trio.Event()
        self._refusals = Refusals()
        self._audio_pace = AudioPace()  # the Rust wire's, for the audio Python reads (all, on the Python transport)
        self.lagging_since: float | None = None  # when this client started losing audio, if it still does
        self.lagging_last = 0.0
        self._lag_told_at = -10.0
        self._lag_untold = 0

    @property
    def services(self) -> Services:
        return self.gateway.services

    async def run(self) -> None:
        """Serve the connection until it closes: on the first close request, do the close handshake."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._read_all)
            if isinstance(self.ws, TrioConnection):  # the Python transport: its writer and keepalive are ours
                await nursery.start(self.ws.write_outbox, self.close)  # a close waits for it
                nursery.start_soon(self.ws.keep_alive, self.close)
            await self._close_requested.wait()
            assert self.close_code is not None
            with trio.move_on_after(CLOSE_TIMEOUT_S):
                await self.ws.aclose(int(self.close_code), self.close_reason)
            nursery.cancel_scope.cancel()
        with trio.CancelScope(shield=True):
            await self.cleanup()

    def send(self, data: bytes) -> None:
        """Queue a reply or event for this client. A refusal means the connection is closing: an overflow (its
        notice closes and counts it, `Gateway.watch_notices`) or a close begun already, not a slow client."""
        self.gateway.fanout.send(self.conn, data)

    def close(self, code: CloseCode, reason: str) -> None:
        """Ask for the connection to close (once; the first reason wins)."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
            self._close_requested.set()

    def lagging(self, dropped: int, now: float) -> None:
        """The fan-out dropped audio for this slow client: tell it, at most once a second."""
        if self.lagging_since is None:
            self.lagging_since = now
        self.lagging_last = now
        self._lag_untold += dropped
        if now - self._lag_told_at >= 1.0:
            self.send(p.encode(p.Lagging(dropped=self._lag_untold)))
            self._lag_told_at, self._lag_untold = now, 0

    async def _read_all(self) -> None:
        try:
            # 10 s (`limits.hello_timeout`) for the client to send hello; the server's own backlog (a burst of
            # joins) does not count.
            deadline = trio.current_time() + self.gateway.config.hello_timeout_s
            while self.user is None and self.close_code is None:
                if not await self._read_one(deadline):
                    return
            while self.close_code is None and await self._read_one():
                pass
        finally:
            self.close(CloseCode.NORMAL, "")

    # -- the Caller of the handlers (see context.py) ------------------------------------------------

    def signed_in(
        self, user: str, name: str, account: store.Account | None, token: str | None, *, welcome: bool = False
    ) -> None:
        """This connection is now `user`; with `welcome`, the client is told so in a `welcome` message."""
        self.gateway.sign_out(self)
        self._name_hold.release()
        self.user, self.name, self.account, self.token = user, name, account, token
        self._name_hold = self.gateway.services.guest_names.hold(name, user) if account is None else NO_HOLD
        self.gateway.sign_in(self)
        kind = "guest" if account is None else "account"
        logs.bind(user=user)
        log.info("signed in", kind=kind)
        self.gateway.metrics.sign_ins.labels(kind=kind).inc()
        if welcome:
            self.send(p.encode(self.gateway.welcome(self)))

    async def enter(self, ref: int, space: SpaceRef, resume_after: int | None = None) -> None:
        """Join `space`, or with `resume_after`, resume this user's place there with the events after that
        `seq`; the reply (`joined` or `resumed`) is queued by the space itself (see `entered`, `resumed`).

        The session counts itself in the space from before the join is asked: if the connection closes
        while the join waits (or after it timed out), the space may still take the join in, and the
        session's cleanup must then leave with this link (a space's mailbox keeps order: the leave comes
        after the join). A join the space refused leaves the session in no space."""
        assert self.user is not None
        link = SpaceLink(self, ref, space, self.user, resuming=resume_after is not None)
        self.space, self.link = space, link
        try:
            if resume_after is None:
                await space.join(self.user, link, self.name)
            else:
                await space.resume(self.user, link, resume_after, self.name)
        except SpaceError:
            if self.link is link:
                self.left_space()
            raise
        log.info("joined", space=space.space_id)
        self.gateway.metrics.joins.inc()

    def left_space(self) -> None:
        if self.space is not None:
            # Maybe from the space's task (an event it sent): the context here may not be this connection's.
            log.info("left", space=self.space.space_id, user=self.user, conn=self.conn)
            self.gateway.metrics.leaves.inc()
        self.space, self.link, self.role, self.muted = None, None, None, False
        self._close_rtc("left_space")

    def _close_rtc(self, reason: str, *, tell: bool = True) -> None:
        """Close this connection's WebRTC peer connection, if any (docs/protocol.md, *WebRTC*)."""
        if self.services.rtc is not None:
            self.services.rtc.close(self, reason, tell=tell)

    # -- delivery from the space --------------------------------------------------------------------

    def entered(self, link: SpaceLink, ref: int, state: SpaceState) -> None:
        """The space took us in: the snapshot is the reply, queued before any later event.

        A join the session gave up on (it timed out, and the connection moved on or closed) is undone:
        the space took in a participant nobody is there for."""
        role = state.role_of(link.user)
        if link is not self.link or role is None:
            self.gateway.nursery.start_soon(self._leave_link, link, 0.0)
            return
        self.role, self.muted = role, link.user in state.muted
        if link.resuming:  # a resume whose place was let go: a new arrival, told so
            self.gateway.metrics.resumes.labels(result="window_passed").inc()
            self.send(p.encode(p.Joined(ref=ref, role=role, space=p.snapshot_of(state), resume="window_passed")))
        else:
            self.send(self.gateway.snapshots.encode(ref, role, state))  # one snapshot per state, shared

    def resumed(self, link: SpaceLink, ref: int, state: SpaceState, missed: list[bytes] | None) -> None:
        """The space gave this connection back its user's place: the events it missed (as they were sent),
        or a snapshot when the space no longer holds them all; queued before any later event."""
        role = state.role_of(link.user)
        if link is not self.link or role is None:
            self.gateway.nursery.start_soon(self._leave_link, link, 0.0)
            return
        self.role, self.muted = role, link.user in state.muted
        self.gateway.metrics.resumes.labels(result="resumed" if missed is not None else "events_gone").inc()
        if missed is None:
            self.send(p.encode(p.Joined(ref=ref, role=role, space=p.snapshot_of(state), resume="events_gone")))
            return
        events = cast(list[SpaceEvent], [msgspec.Raw(event) for event in missed])  # encoded once, as first sent
        resumed = p.Resumed(ref=ref, space_id=state.space_id, role=role, muted=self.muted, seq=state.seq, events=events)
        self.send(p.encode(resumed))

    def observe(self, link: SpaceLink, event: SpaceEvent) -> None:
        """Keep this session's view of itself (role, mute, membership) in step with the events it is sent.

        A removed connection has already been sent `participant_removed`: from now on it is in no space."""
        if link is not self.link:
            return
        if isinstance(event, RoleChanged) and event.user == self.user:
            self.role = event.role
            self.muted = self.muted and event.role.on_mic
            if not event.role.on_mic:
                self._close_rtc("left_mic")
        elif isinstance(event, MuteChanged) and event.user == self.user:
            self.muted = event.muted
        elif isinstance(event, SpaceEnded) or (
            isinstance(event, (ParticipantLeft, ParticipantRemoved)) and event.user == self.user
        ):
            self.left_space()

    # -- reading ------------------------------------------------------------------------------------

    async def _read_one(self, hello_deadline: float = math.inf) -> bool:
        """Read and handle one message; False when the connection is over."""
        try:
            with trio.move_on_at(hello_deadline) as waiting:
                data = await self.ws.get_message()
        except ConnectionClosed as closed:
            reason = closed.reason
            if self.ws.closed_by_server and reason is not None:
                # The wire closed it itself (a broken frame, a text message, one too big, no pong): its code is
                # this close's, which decides whether the place is kept, as for the session's own closes.
                self.close(_server_code(reason.code), reason.reason or "")
            else:
                self.peer_close_code = reason.code if reason is not None else 1006
            return False
        if waiting.cancelled_caught:
            self.close(CloseCode.HELLO_TIMEOUT, f"no hello within {self.gateway.config.hello_timeout_s:g} s")
            return False
        if isinstance(data, str):
            self.close(CloseCode.UNSUPPORTED_DATA, "text frames are not accepted: send binary msgpack")
            return False
        audio = parse_audio(data)  # as the Rust wire reads it (which takes all audio with a route itself)
        if audio is not None:
            return self._paced_audio(*audio)
        try:
            # The limit first: a message it refuses is not decoded, and one that fails to decode spent a token.
            self.services.limits.take("requests", self.conn, "requests on one connection")
            message = p.decode_client(data)
        except GatewayError as e:  # RateLimited, BadMessage or UnknownType
            if self._refusals.unread():
                self.close(CloseCode.POLICY_VIOLATION, "too many refused messages in a row")
                return False
            self.reply_error(p.ref_of(data) if isinstance(e, RateLimited) else e.ref, e)
            return True
        self._refusals.handled()
        if isinstance(message, p.SendAudio):  # what the strict reader above refused is never audio: a safeguard
            return self._paced_audio(message.seq, message.captured_at, message.opus, message.level)
        ref = getattr(message, "ref", None)
        try:
            reply = await requests.dispatch(self, message)
        except (GatewayError, SpaceError, store.StoreError) as e:
            if isinstance(message, p.Resume):
                self.gateway.metrics.resumes.labels(result="refused").inc()
            self.reply_error(ref, e)
            return True
        except Exception as e:  # a fault of ours ends this connection alone (trio.Cancelled passes through)
            self.close(CloseCode.INTERNAL_ERROR, report_incident(log, e, f"connection {self.conn} of {self.user}"))
            return False
        if reply is None:
            assert ref is not None
            self.send(p.encode(p.Ok(ref)))
        elif isinstance(reply, msgspec.Struct):
            self.send(p.encode(reply))
        return True

    def reply_error(self, ref: int | None, error: Exception) -> None:
        retry = error.retry_after_ms if isinstance(error, RateLimited) else None
        self._log_refusal(code_of(error))
        message = str(error)[:MAX_ERROR_CHARS]  # a refusal may quote the input: never at length
        self.send(p.encode(p.Error(ref=ref, code=code_of(error), message=message, retry_after_ms=retry)))

    def _paced_audio(self, seq: int, captured_at: int, opus: bytes, level: int | None) -> bool:
        """One `audio` message Python reads, paced as the Rust wire paces its own; False: the connection is over."""
        pace = self._audio_pace.take()
        if pace == "too_fast":
            self.close(CloseCode.POLICY_VIOLATION, "audio faster than real time")
            return False
        if pace == "within":
            refusal = self._audio_refusal()
            if refusal is not None:
                self._refuse_audio(refusal)
            else:
                assert self.space is not None and self.user is not None
                self.space.push_audio(self.user, seq, captured_at, opus, level)
        return True

    def audio_unrouted(self, packets: int) -> None:
        """The Rust wire had no route for `packets` audio messages of this connection (it tells at most once a
        second): refused as `_audio` refuses them, or, if this session may speak by its own view (its role or
        mute changed a moment ago), counted by the space as having no input, as `push_audio` would."""
        refusal = self._audio_refusal()
        if refusal is not None:
            return self._refuse_audio(refusal)
        assert self.space is not None
        self.space.audio.count_without_input(packets)

    def _audio_refusal(self) -> Exception | None:
        if self.user is None:
            return NotAuthenticated("send hello first")
        if self.space is None:
            return space_errors.NotInSpace("join a space before sending audio")
        if self.role is None or not self.role.on_mic:
            return space_errors.NotASpeaker("only speakers send audio")
        if self.muted:
            return space_errors.Muted("you are muted: unmute first")
        return None

    def _log_refusal(self, code: str) -> None:
        """Log a refused request, at most once a second per code: the line after a quiet second says how many
        went unlogged."""
        unlogged = self._refusals.to_log(code)
        if unlogged is not None:
            log.info("refused", code=code, unlogged=unlogged)

    def _refuse_audio(self, error: Exception) -> None:
        """Refused audio is answered at most once a second per code (`Refusals.to_answer_audio`)."""
        if self._refusals.to_answer_audio(code_of(error)):
            self.reply_error(None, error)

    # -- cleanup ------------------------------------------------------------------------------------

    def keeps_place(self) -> bool:
        """Whether this closed connection's user keeps their place for the resume window: yes, unless the
        client said goodbye (a close frame with 1000 or 1001), or the server shut it for misbehaving or
        after a fault of its own (1011: the session's view may be wrong, so its place goes too)."""
        if self.close_code in KEPT_ON:
            return True
        return self.close_code is CloseCode.NORMAL and self.peer_close_code not in CLEAN_CLOSES

    async def cleanup(self) -> None:
        """After the close: leave the space, at once or, when the user keeps their place (`keeps_place`:
        the connection dropped, or a newer connection of the same user replaced it), after the resume
        window, unless a newer connection has taken the place by then (`resume`, or `join_space`); and sign
        out."""
        self._close_rtc("closed", tell=False)
        link, hold, self._name_hold = self.link, self._name_hold, NO_HOLD
        if link is None:
            hold.release()
        elif self.keeps_place():  # a guest's name stays held while its place is kept
            self.gateway.nursery.start_soon(self._leave_link, link, self.gateway.config.resume_window_s, hold)
        else:
            await self._leave_link(link, 0.0, hold)
        self.gateway.sign_out(self)
        # The session and its link refer to each other: forget the link, so that reference counting frees
        # the whole connection at once (a cycle among objects the GC policy has frozen would never be).
        # A `joined` still to come for it is then undone (see `entered`).
        self.left_space()

    async def _leave_link(self, link: SpaceLink, after_s: float, hold: NameHold = NO_HOLD) -> None:
        """Leave `link`'s space as disconnected, unless a newer connection of its user has taken the place
        (the space compares links); then release the guest's name `hold`."""
        try:
            await trio.sleep(after_s)
            with trio.move_on_after(LEAVE_TIMEOUT_S):
                try:
                    await link.space.leave(link.user, reason="disconnected", link=link)
                except SpaceError:
                    pass  # already out (removed, or the space ended)
                except Exception as error:  # a task of the server's nursery: a fault must end here, not the server
                    report_incident(log, error, f"connection {self.conn}'s leave of {link.space.space_id}")
        finally:
            hold.release()
