"""The client's connection to a server, which survives the network: it reads what the server sends onto
the application's queues, and when the connection drops it reconnects (with backoff, `_backoff.py`), says
`hello` as the same user, and resumes its place in its space (`resume`, `docs/protocol.md`).

Guarantees to the application:
- Events of the space are delivered exactly once and in order of `seq`, across any number of resumes: the
  missed events of a `resumed` reply are delivered before the live ones, and anything at or below the last
  delivered `seq` is dropped.
- After every reconnection in a space, a `Reconnected` marker on the events queue says what happened:
  `resumed` (the missed events follow), or a `snapshot` that replaces them (the place was kept but the
  events were not, the place was let go, or the space could not be resumed and was joined again), or
  neither (the space could not be rejoined: the client is in no space; `reason` is the error code).
- A request whose reply had not come when the connection dropped raises `RequestError` with code
  `connection_lost`: it may or may not have been applied (the resumed events tell). A request made while
  reconnecting waits for the new connection. When the client stops for good (`closed`), requests raise
  `RequestError` with `connection_closed`.
- Audio is live: packets sent while disconnected are dropped (counted in `audio_unsent`).
- Who is talking in the client's space (`speaking`, the server's `speaking` messages) starts empty at each
  `joined` or `resumed`, as the protocol says, and follows every `speaking` message after it.

Resource handling: every task runs in the nursery of `connect()`; leaving it closes the connection with
1000 (the server then lets the place go at once) and cancels the rest.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import TypeVar

import msgspec
import stoa_protocol as p
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, HandshakeError, WebSocketConnection

from stoa_client._backoff import DEFAULT_BACKOFF, Backoff, retry_after_s
from stoa_client._delivered import Event, Notice, Reconnected, RequestError
from stoa_client._dial import dial
from stoa_client._policy import FINAL_HELLO_ERRORS, GOODBYE, RECONNECTING, should_reconnect

EVENT_QUEUE = 10_000
AUDIO_QUEUE = 3_000  # one minute of 20 ms frames
SPEAKING_QUEUE = 1_000  # over four minutes of changes at the most a space sends (4 a second)
MAX_MESSAGE_SIZE = 2**20
REPLIES = (p.Ok, p.Joined, p.Resumed, p.Error, p.Registered, p.LoggedIn, p.Inbox, p.Scheduled, p.Spaces,
           p.SpaceRecord, p.Posts, p.RtcAnswer, p.RtcConfig, p.Recordings,
           p.RecordingDetail)  # fmt: skip

T = TypeVar("T")


class Connection:
    """One user's connection to a server, reconnected and resumed when it drops (see the module's text)."""

    def __init__(
        self,
        url: str,
        name: str | None,
        token: str | None = None,
        guest_token: str | None = None,
        *,
        reconnect: Backoff | None = DEFAULT_BACKOFF,
        connect_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.user = ""  # the server-issued id, from `welcome` (or `logged_in`)
        self.name = name or ""
        self.handle: str | None = None  # the account's handle; None for a guest
        self.token = token
        self.guest_token = guest_token
        self.welcome: p.Welcome | None = None
        self.backoff = reconnect
        self.connect_timeout = connect_timeout
        self.ws: WebSocketConnection  # the current connection (set by `_open`)
        self.space_id: str | None = None  # the space this client is in
        self.role: p.Role | None = None
        self.last_seq = 0  # the `seq` of the last event of `space_id` delivered (or of its snapshot)
        self.reconnects = 0
        self.audio_dropped = 0
        self.audio_unsent = 0
        self.speaking: tuple[str, ...] = ()  # the users whose voices are in the mix of `space_id` now
        self.speaking_dropped = 0
        self.events_dropped = 0
        self.close_code: int | None = None  # of the last connection that ended
        self.refusals: list[int] = []  # the HTTP status of each reconnection handshake the server refused
        self.closed = trio.Event()  # set once the client stopped for good
        self._nursery: trio.Nursery | None = None
        self._online = trio.Event()  # set while a connection is up (and resumed)
        self._skip_wait = trio.Event()
        self._leaving = False
        self._dropping = False  # `reconnect_now` closed the connection: reconnect whatever its close code
        self._refs = itertools.count(1)
        self._waiting: dict[int, trio.MemorySendChannel[object]] = {}
        self._events_in, self.events = trio.open_memory_channel[Event](EVENT_QUEUE)
        self._audio_in, self.audio = trio.open_memory_channel[p.MixFrame](AUDIO_QUEUE)
        self._speaking_in, self.speaking_changes = trio.open_memory_channel[p.Speaking](SPEAKING_QUEUE)
        self._dms_in, self.dms = trio.open_memory_channel[p.DirectMessage](EVENT_QUEUE)
        self._notices_in, self.notices = trio.open_memory_channel[Notice](EVENT_QUEUE)
        self._rng = random.Random()

    # -- the application's side -------------------------------------------------------------------

    async def next_event(self) -> Event:
        """The next event (or `error` without a request, `lagging`, `Reconnected`); bound the wait with
        `trio.fail_after`."""
        return await self.events.receive()

    async def next_audio(self) -> p.MixFrame:
        return await self.audio.receive()

    async def next_speaking(self) -> p.Speaking:
        """The next change of who is talking in this client's space (`speaking` holds the latest); bound the
        wait with `trio.fail_after`. Changes the application does not read are dropped past 1,000 (counted in
        `speaking_dropped`); `speaking` is kept up to date all the same."""
        return await self.speaking_changes.receive()

    async def next_dm(self) -> p.DirectMessage:
        """The next direct message pushed to this user (`dm_received`); bound the wait with `fail_after`."""
        return await self.dms.receive()

    async def next_notice(self) -> Notice:
        """The next schedule notification (`space_starting`, `space_cancelled`, `host_reminder`)."""
        return await self.notices.receive()

    async def send_audio(self, seq: int, captured_at: int, opus: bytes, level: int | None = None) -> None:
        """Send one Opus packet (no reply: a refusal arrives as an `error` event with `ref` nil), with its
        `level` when the sender knows it (`stoa_protocol.audio_level` of the PCM it encoded, 0..127): the server then
        forwards a lone speaker's packet without decoding it. Sent at once: the caller paces packets at 20 ms,
        as they are captured (past a burst of 250 the server takes 100 a second and drops the rest). Dropped,
        and counted in `audio_unsent`, while the connection is down: audio is live."""
        if not self._online.is_set():
            self.audio_unsent += 1
            return
        message = p.SendAudio(seq=seq, captured_at=captured_at, opus=opus, level=level)
        try:
            await self.ws.send_message(p.encode(message))
        except ConnectionClosed:
            self.audio_unsent += 1

    def reconnect_now(self) -> None:
        """Reconnect at once: drop the current connection (keeping the place in the space: close code 4100)
        and skip the backoff's wait. Useful when the application knows the network changed."""
        self._skip_wait.set()
        if self._online.is_set() and self._nursery is not None:
            self._dropping = True
            self._nursery.start_soon(self._drop, self.ws)

    async def _drop(self, ws: WebSocketConnection) -> None:
        with trio.move_on_after(1.0):
            await ws.aclose(RECONNECTING, "reconnecting")

    async def _request(self, build: Callable[[int], msgspec.Struct]) -> object:
        while not self._online.is_set():
            if self.closed.is_set():
                raise RequestError("connection_closed", "the client is closed")
            with trio.move_on_after(0.05):  # wait for the new connection (or the end)
                await self._online.wait()
        ref = next(self._refs)
        send, receive = trio.open_memory_channel[object](1)
        self._waiting[ref] = send
        try:
            try:
                await self.ws.send_message(p.encode(build(ref)))
            except ConnectionClosed:
                raise RequestError("connection_lost", "the connection dropped before the request was sent") from None
            reply = await receive.receive()
        finally:
            self._waiting.pop(ref, None)
        if isinstance(reply, p.Error):
            raise RequestError(reply.code, reply.message, reply.retry_after_ms)
        return reply

    # -- connecting ---------------------------------------------------------------------------------

    async def _open(self, nursery: trio.Nursery) -> None:
        """The first connection: errors (refused, `hello` refused) reach the caller of `connect()`."""
        self._nursery = nursery
        with trio.fail_after(self.connect_timeout):
            self.ws = await dial(nursery, self.url, MAX_MESSAGE_SIZE)
        try:
            await self._hello(self.ws)
        except BaseException:
            with trio.CancelScope(shield=True), trio.move_on_after(1.0):
                await self.ws.aclose()
            raise
        self._online.set()
        nursery.start_soon(self._supervise)

    async def _supervise(self) -> None:
        """Read until the connection ends; then reconnect and resume, or stop for good."""
        try:
            while True:
                await self._read(self.ws)
                self._online = trio.Event()
                self._fail_waiting("connection_lost", "the connection dropped before the reply came")
                dropped, self._dropping = self._dropping, False
                if self._leaving or self.backoff is None or not (dropped or should_reconnect(self.close_code)):
                    return
                if not await self._come_back(self.backoff):
                    return
                self._online.set()
        finally:
            self.closed.set()
            self._fail_waiting("connection_closed", "the connection closed")

    async def _come_back(self, backoff: Backoff) -> bool:
        """Reconnect (with backoff), say hello as the same user, and resume; False when it cannot. The waits are
        `backoff.wait`'s: after a drain (4004) the first is spread over 0-2 s; after a refusal that says when to
        come back (`Retry-After` on a refused handshake, `retry_after_ms` on a refused `hello`), at least that."""
        attempt = 0
        retry_after: float | None = None
        assert self._nursery is not None
        while True:
            wait = backoff.wait(attempt, close_code=self.close_code, retry_after_s=retry_after, rng=self._rng)
            with trio.move_on_after(wait):
                await self._skip_wait.wait()
            self._skip_wait = trio.Event()
            attempt += 1
            retry_after = None
            try:
                with trio.fail_after(self.connect_timeout):
                    ws = await dial(self._nursery, self.url, MAX_MESSAGE_SIZE)
            except ConnectionRejected as refused:  # 503 (draining), 429 (too many from this address), ...
                self.refusals.append(refused.status_code)
                retry_after = retry_after_s(refused.headers)
                continue
            except (OSError, HandshakeError, trio.TooSlowError):
                continue
            try:
                with trio.fail_after(self.connect_timeout):
                    await self._hello(ws)
                    self.ws = ws
                    if self.space_id is not None:
                        await self._resume(ws, self.space_id)
            except (ConnectionClosed, trio.TooSlowError):
                await self._drop(ws)
                continue
            except RequestError as refused:
                if refused.code in FINAL_HELLO_ERRORS:
                    self.close_code = ws.closed.code if ws.closed is not None else None
                    with trio.move_on_after(1.0):
                        await ws.aclose(GOODBYE)
                    return False
                await self._drop(ws)  # rate_limited, internal...: try again later
                if refused.retry_after_ms is not None:
                    retry_after = refused.retry_after_ms / 1000
                continue
            self.reconnects += 1
            return True

    async def _hello(self, ws: WebSocketConnection) -> p.Welcome:
        if self.token is not None:
            hello = p.Hello(protocol=p.PROTOCOL_VERSION, token=self.token)
        elif self.guest_token is not None:
            hello = p.Hello(protocol=p.PROTOCOL_VERSION, guest_token=self.guest_token, name=self.name or None)
        else:
            hello = p.Hello(protocol=p.PROTOCOL_VERSION, name=self.name)
        await ws.send_message(p.encode(hello))
        reply = p.decode_server(_binary(await ws.get_message()))
        if isinstance(reply, p.Error):
            raise RequestError(reply.code, reply.message, reply.retry_after_ms)
        assert isinstance(reply, p.Welcome)
        self._welcomed(reply)
        return reply

    async def _resume(self, ws: WebSocketConnection, space_id: str) -> None:
        """Take back the place in `space_id` after the last event delivered; when the server cannot resume
        it, join the space again. Tells the application with a `Reconnected` marker."""
        reply = await self._ask(ws, lambda ref: p.Resume(ref=ref, space_id=space_id, last_seq=self.last_seq))
        if isinstance(reply, p.Error) and reply.code == "not_resumable":
            reply = await self._ask(ws, lambda ref: p.JoinSpace(ref=ref, space_id=space_id))
            if isinstance(reply, p.Joined):
                reply = msgspec.structs.replace(reply, resume="not_resumable")
        if isinstance(reply, p.Resumed):
            self.role, self.speaking = reply.role, ()
            self._deliver(Reconnected(space_id, True, reply.role, missed=len(reply.events)))
            for event in reply.events:
                self._route(event)
        elif isinstance(reply, p.Joined):
            self._deliver(Reconnected(space_id, False, reply.role, reply.space, reply.resume))
        elif isinstance(reply, p.Error):
            if reply.code in ("rate_limited", "space_unavailable", "internal"):
                raise RequestError(reply.code, reply.message, reply.retry_after_ms)  # try again later
            self._left()
            self._deliver(Reconnected(space_id, False, None, None, reply.code))

    async def _ask(self, ws: WebSocketConnection, build: Callable[[int], msgspec.Struct]) -> object:
        """One request on a connection whose reader does not run yet: whatever comes before its reply
        (notifications) is routed as usual."""
        ref = next(self._refs)
        await ws.send_message(p.encode(build(ref)))
        while True:
            message = p.decode_server(_binary(await ws.get_message()))
            if isinstance(message, REPLIES) and getattr(message, "ref", None) == ref:
                if isinstance(message, p.Joined):
                    self._entered(message)
                return message
            self._route(message)

    def _welcomed(self, welcome: p.Welcome) -> None:
        self.welcome, self.user, self.name, self.handle = welcome, welcome.user, welcome.name, welcome.handle
        if welcome.guest_token is not None:
            self.guest_token = welcome.guest_token

    # -- reading ------------------------------------------------------------------------------------

    async def _read(self, ws: WebSocketConnection) -> None:
        try:
            while True:
                self._route(p.decode_server(_binary(await ws.get_message())))
        except ConnectionClosed as closed:
            self.close_code = closed.reason.code if closed.reason is not None else None

    def _route(self, message: object) -> None:
        ref = getattr(message, "ref", None)
        if isinstance(message, p.Welcome):  # after `log_out`: this connection is a new guest
            self._welcomed(message)
        elif isinstance(message, REPLIES) and ref is not None:
            if isinstance(message, p.Joined):
                self._entered(message)  # before any event that follows it
            waiter = self._waiting.pop(ref, None)
            if waiter is not None:
                waiter.send_nowait(message)
        elif isinstance(message, p.Speaking):
            if message.space_id == self.space_id:
                self.speaking = tuple(message.user_ids)
                try:
                    self._speaking_in.send_nowait(message)
                except trio.WouldBlock:
                    self.speaking_dropped += 1
        elif isinstance(message, (p.SpaceStarting, p.SpaceCancelled, p.HostReminder)):
            self._put(self._notices_in, message)
        elif isinstance(message, p.DmReceived):
            self._put(self._dms_in, message.message)
        elif isinstance(message, p.Audio):
            for frame in message.frames:
                try:
                    self._audio_in.send_nowait(frame)
                except trio.WouldBlock:
                    self.audio_dropped += 1
        elif isinstance(message, p.Event):
            self._observe(message)  # type: ignore[arg-type]
        elif isinstance(message, (p.Error, p.Lagging, p.RtcClosed)):
            self._deliver(message)

    def _observe(self, event: p.SpaceEvent) -> None:
        """An event of a space: delivered once, in order; this client's own place follows it."""
        if event.space_id == self.space_id:
            if event.seq <= self.last_seq:
                return  # delivered already (before a resume)
            self.last_seq = event.seq
        self._deliver(event)
        if event.space_id != self.space_id:
            return
        if isinstance(event, p.RoleChanged) and event.user == self.user:
            self.role = event.role
        elif isinstance(event, p.SpaceEnded) or (
            isinstance(event, (p.ParticipantRemoved, p.ParticipantLeft)) and event.user == self.user
        ):
            self._left()

    def _entered(self, joined: p.Joined) -> None:
        self.space_id, self.role, self.last_seq = joined.space.space_id, joined.role, joined.space.seq
        self.speaking = ()

    def _left(self) -> None:
        self.space_id, self.role, self.last_seq = None, None, 0
        self.speaking = ()

    def _deliver(self, item: Event) -> None:
        self._put(self._events_in, item)

    def _put(self, channel: trio.MemorySendChannel[T], item: T) -> None:
        try:
            channel.send_nowait(item)
        except trio.WouldBlock:
            self.events_dropped += 1

    def _fail_waiting(self, code: str, message: str) -> None:
        for waiter in self._waiting.values():
            waiter.send_nowait(p.Error(ref=None, code=code, message=message))
        self._waiting.clear()

    async def _close(self) -> None:
        """The application is done: say goodbye (the server lets the place go at once)."""
        self._leaving = True
        with trio.move_on_after(1.0):
            await self.ws.aclose(GOODBYE)


def _binary(data: str | bytes) -> bytes:
    if isinstance(data, str):
        raise ValueError("the server sent a text message; the protocol is binary msgpack only")
    return data
