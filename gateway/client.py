"""A Python client of the Stoa protocol (trio-websocket + msgspec), shared by tests, the load harness and users.

    async with connect_account("ws://127.0.0.1:8765/", "alice") as alice:  # register if new, log in
        joined = await alice.create_space("Morning show")
        await alice.share_post("hello")
        event = await alice.next_event()

    async with connect(url, "Sam") as sam:                     # a guest shown as "Sam": listens only
        await sam.join_space(joined.space.space_id)

    async with connect(url, "guest_1") as me:                  # a guest, then signed in as an account
        await me.register("alice", "correct horse battery staple", "Alice")
        token = (await me.log_in("alice", "correct horse battery staple")).token
    async with connect(url, token=token) as alice:             # later connections present the token

Replies are matched to requests by `ref`; events and audio arrive on two bounded queues read with
`next_event()` and `next_audio()`, direct messages pushed to this user on a third (`next_dm()`), schedule
notifications (`space_starting`, `space_cancelled`, `host_reminder`) on a fourth (`next_notice()`).
A refused request raises `RequestError` with the wire `code`.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from actors.space import Audio, MixFrame, Role, SpaceEvent, SpeakerPolicy
from gateway import protocol as p

EVENT_QUEUE = 10_000
AUDIO_QUEUE = 3_000  # one minute of 20 ms frames


Notice = p.SpaceStarting | p.SpaceCancelled | p.HostReminder
ClientEvent = SpaceEvent | p.Error | p.Lagging | p.RtcClosed
"""What `next_event()` returns: a space event, an `error` without a request, `lagging`, `rtc_closed`."""


class RequestError(Exception):
    def __init__(self, code: str, message: str, retry_after_ms: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms


class Client:
    def __init__(
        self, ws: WebSocketConnection, name: str | None, token: str | None = None, guest_token: str | None = None
    ) -> None:
        self.ws = ws
        self.user = ""  # the server-issued id, from `welcome` (or `logged_in`)
        self.name = name or ""
        self.handle: str | None = None  # the account's handle; None for a guest
        self.token = token
        self.guest_token = guest_token
        self.welcome: p.Welcome | None = None
        self._refs = itertools.count(1)
        self._waiting: dict[int, trio.MemorySendChannel[object]] = {}
        self._events_in, self.events = trio.open_memory_channel[ClientEvent](EVENT_QUEUE)
        self._audio_in, self.audio = trio.open_memory_channel[MixFrame](AUDIO_QUEUE)
        self._dms_in, self.dms = trio.open_memory_channel[p.DirectMessage](EVENT_QUEUE)
        self._notices_in, self.notices = trio.open_memory_channel[Notice](EVENT_QUEUE)
        self.audio_dropped = 0
        self.events_dropped = 0
        self.closed = trio.Event()

    # -- requests -----------------------------------------------------------------------------------

    async def create_space(
        self,
        title: str,
        speakers: SpeakerPolicy = SpeakerPolicy.EVERYONE,
        *,
        description: str = "",
        topics: tuple[str, ...] = (),
    ) -> p.Joined:
        reply = await self._request(
            lambda ref: p.CreateSpace(ref=ref, title=title, speakers=speakers, description=description, topics=topics)
        )
        assert isinstance(reply, p.Joined)
        return reply

    async def join_space(self, space_id: str) -> p.Joined:
        reply = await self._request(lambda ref: p.JoinSpace(ref=ref, space_id=space_id))
        assert isinstance(reply, p.Joined)
        return reply

    async def set_role(self, user: str, role: Role) -> None:
        await self._request(lambda ref: p.SetRole(ref=ref, user=user, role=role))

    async def share_post(self, text: str) -> None:
        await self._request(lambda ref: p.SharePost(ref=ref, text=text))

    async def leave_space(self) -> None:
        await self._request(lambda ref: p.LeaveSpace(ref=ref))

    async def end_space(self) -> None:
        await self._request(lambda ref: p.EndSpace(ref=ref))

    async def raise_hand(self) -> None:
        await self._request(lambda ref: p.RaiseHand(ref=ref))

    async def lower_hand(self) -> None:
        await self._request(lambda ref: p.LowerHand(ref=ref))

    async def approve_request(self, user: str) -> None:
        await self._request(lambda ref: p.ApproveRequest(ref=ref, user=user))

    async def deny_request(self, user: str) -> None:
        await self._request(lambda ref: p.DenyRequest(ref=ref, user=user))

    async def mute(self, user: str) -> None:
        await self._request(lambda ref: p.Mute(ref=ref, user=user))

    async def unmute(self) -> None:
        await self._request(lambda ref: p.Unmute(ref=ref))

    async def mute_all(self) -> None:
        await self._request(lambda ref: p.MuteAll(ref=ref))

    async def remove(self, user: str) -> None:
        await self._request(lambda ref: p.Remove(ref=ref, user=user))

    async def pin_post(self, post_id: int) -> None:
        await self._request(lambda ref: p.PinPost(ref=ref, post_id=post_id))

    async def unpin_post(self, post_id: int) -> None:
        await self._request(lambda ref: p.UnpinPost(ref=ref, post_id=post_id))

    async def react(self, emoji: str) -> None:
        await self._request(lambda ref: p.React(ref=ref, emoji=emoji))

    async def set_speaker_policy(self, policy: SpeakerPolicy) -> None:
        await self._request(lambda ref: p.SetSpeakerPolicy(ref=ref, policy=policy))

    async def accept_invite(self) -> None:
        await self._request(lambda ref: p.AcceptInvite(ref=ref))

    # -- accounts -----------------------------------------------------------------------------------

    async def register(self, handle: str, password: str, display_name: str) -> p.Registered:
        reply = await self._request(
            lambda ref: p.Register(ref=ref, handle=handle, password=password, display_name=display_name)
        )
        assert isinstance(reply, p.Registered)
        return reply

    async def log_in(self, handle: str, password: str) -> p.LoggedIn:
        """Sign this connection in as the account (it must not be in a space); keeps the token."""
        reply = await self._request(lambda ref: p.LogIn(ref=ref, handle=handle, password=password))
        assert isinstance(reply, p.LoggedIn)
        self.user, self.name, self.handle, self.token = reply.user, reply.handle, reply.handle, reply.token
        return reply

    async def log_out(self) -> None:
        """The connection becomes a new guest (its `welcome` arrives before the `ok`)."""
        await self._request(lambda ref: p.LogOut(ref=ref))
        self.token = None

    async def set_protected(self, protected: bool) -> None:
        await self._request(lambda ref: p.SetProtected(ref=ref, protected=protected))

    async def follow(self, handle: str) -> None:
        await self._request(lambda ref: p.Follow(ref=ref, handle=handle))

    async def unfollow(self, handle: str) -> None:
        await self._request(lambda ref: p.Unfollow(ref=ref, handle=handle))

    async def block(self, handle: str) -> None:
        await self._request(lambda ref: p.Block(ref=ref, handle=handle))

    async def unblock(self, handle: str) -> None:
        await self._request(lambda ref: p.Unblock(ref=ref, handle=handle))

    async def send_dm(self, to: str, text: str) -> None:
        await self._request(lambda ref: p.SendDm(ref=ref, to=to, text=text))

    async def get_inbox(self, after_id: int = 0, limit: int = 50) -> list[p.DirectMessage]:
        reply = await self._request(lambda ref: p.GetInbox(ref=ref, after_id=after_id, limit=limit))
        assert isinstance(reply, p.Inbox)
        return reply.messages

    async def mark_read(self, up_to_id: int) -> None:
        await self._request(lambda ref: p.MarkRead(ref=ref, up_to_id=up_to_id))

    async def invite_speaker(self, handle: str) -> None:
        await self._request(lambda ref: p.InviteSpeaker(ref=ref, handle=handle))

    # -- scheduled spaces and listings ----------------------------------------------------------------

    async def schedule_space(
        self, title: str, starts_at: int, description: str = "", topics: tuple[str, ...] = ()
    ) -> p.ScheduledSpace:
        reply = await self._request(
            lambda ref: p.ScheduleSpace(
                ref=ref, title=title, starts_at=starts_at, description=description, topics=topics
            )
        )
        assert isinstance(reply, p.Scheduled)
        return reply.space

    async def cancel_scheduled(self, scheduled_id: int) -> None:
        await self._request(lambda ref: p.CancelScheduled(ref=ref, scheduled_id=scheduled_id))

    async def start_scheduled(self, scheduled_id: int) -> p.Joined:
        reply = await self._request(lambda ref: p.StartScheduled(ref=ref, scheduled_id=scheduled_id))
        assert isinstance(reply, p.Joined)
        return reply

    async def set_reminder(self, scheduled_id: int) -> None:
        await self._request(lambda ref: p.SetReminder(ref=ref, scheduled_id=scheduled_id))

    async def clear_reminder(self, scheduled_id: int) -> None:
        await self._request(lambda ref: p.ClearReminder(ref=ref, scheduled_id=scheduled_id))

    async def list_spaces(self, kind: Literal["live", "upcoming"], limit: int = 50) -> p.Spaces:
        reply = await self._request(lambda ref: p.ListSpaces(ref=ref, kind=kind, limit=limit))
        assert isinstance(reply, p.Spaces)
        return reply

    async def search_spaces(self, query: str, limit: int = 50) -> p.Spaces:
        reply = await self._request(lambda ref: p.SearchSpaces(ref=ref, query=query, limit=limit))
        assert isinstance(reply, p.Spaces)
        return reply

    async def get_space(self, space_id: str) -> p.SpaceRecord:
        reply = await self._request(lambda ref: p.GetSpace(ref=ref, space_id=space_id))
        assert isinstance(reply, p.SpaceRecord)
        return reply

    async def get_posts(self, space_id: str, before_id: int | None = None, limit: int = 50) -> p.Posts:
        """A page of a space's timeline, oldest first: the newest posts below `before_id` (from the newest
        when None); `more` says whether older ones remain."""
        reply = await self._request(
            lambda ref: p.GetPosts(ref=ref, space_id=space_id, before_id=before_id, limit=limit)
        )
        assert isinstance(reply, p.Posts)
        return reply

    async def next_notice(self) -> Notice:
        """The next schedule notification (`space_starting`, `space_cancelled`, `host_reminder`)."""
        return await self.notices.receive()

    async def rtc_offer(self, sdp: str) -> str:
        """Offer a WebRTC peer connection to send audio (gathering complete); returns the server's answer."""
        reply = await self._request(lambda ref: p.RtcOffer(ref=ref, sdp=sdp))
        assert isinstance(reply, p.RtcAnswer)
        return reply.sdp

    async def rtc_close(self) -> None:
        await self._request(lambda ref: p.RtcClose(ref=ref))

    async def send_audio(self, seq: int, captured_at: int, opus: bytes) -> None:
        """Send one Opus packet (no reply: a refusal arrives as an `error` event with `ref` nil)."""
        await self.ws.send_message(p.encode(p.SendAudio(seq=seq, captured_at=captured_at, opus=opus)))

    # -- what the server sends ----------------------------------------------------------------------

    async def next_event(self) -> ClientEvent:
        """The next event (or `error` without a request); bound the wait with `trio.fail_after`."""
        return await self.events.receive()

    async def next_audio(self) -> MixFrame:
        return await self.audio.receive()

    async def next_dm(self) -> p.DirectMessage:
        """The next direct message pushed to this user (`dm_received`); bound the wait with `fail_after`."""
        return await self.dms.receive()

    async def _request(self, build: object) -> object:
        ref = next(self._refs)
        send, receive = trio.open_memory_channel[object](1)
        self._waiting[ref] = send
        try:
            await self.ws.send_message(p.encode(build(ref)))  # type: ignore[operator]
            reply = await receive.receive()
        finally:
            self._waiting.pop(ref, None)
        if isinstance(reply, p.Error):
            raise RequestError(reply.code, reply.message, reply.retry_after_ms)
        return reply

    async def _hello(self) -> p.Welcome:
        if self.token is not None:
            hello = p.Hello(protocol=p.PROTOCOL_VERSION, token=self.token)
        elif self.guest_token is not None:
            hello = p.Hello(protocol=p.PROTOCOL_VERSION, guest_token=self.guest_token, name=self.name or None)
        else:
            hello = p.Hello(protocol=p.PROTOCOL_VERSION, name=self.name)
        await self.ws.send_message(p.encode(hello))
        reply = p.SERVER_DECODER.decode(_binary(await self.ws.get_message()))
        if isinstance(reply, p.Error):
            raise RequestError(reply.code, reply.message, reply.retry_after_ms)
        assert isinstance(reply, p.Welcome)
        self._welcomed(reply)
        return reply

    def _welcomed(self, welcome: p.Welcome) -> None:
        self.welcome, self.user, self.name, self.handle = welcome, welcome.user, welcome.name, welcome.handle
        if welcome.guest_token is not None:
            self.guest_token = welcome.guest_token

    async def _read(self) -> None:
        try:
            while True:
                message = p.SERVER_DECODER.decode(_binary(await self.ws.get_message()))
                self._route(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            for waiter in self._waiting.values():
                waiter.send_nowait(p.Error(ref=None, code="connection_closed", message="the connection closed"))

    def _route(self, message: object) -> None:
        ref = getattr(message, "ref", None)
        if isinstance(message, p.Welcome):  # after `log_out`: this connection is a new guest
            self._welcomed(message)
            return
        if isinstance(message, (p.Ok, p.Joined, p.Error, p.Registered, p.LoggedIn, p.Inbox)) and ref in self._waiting:
            self._waiting.pop(ref).send_nowait(message)
        elif isinstance(message, (p.Scheduled, p.Spaces, p.SpaceRecord, p.Posts, p.RtcAnswer)) and ref in self._waiting:
            self._waiting.pop(ref).send_nowait(message)
        elif isinstance(message, (p.SpaceStarting, p.SpaceCancelled, p.HostReminder)):
            try:
                self._notices_in.send_nowait(message)
            except trio.WouldBlock:
                self.events_dropped += 1
        elif isinstance(message, p.DmReceived):
            try:
                self._dms_in.send_nowait(message.message)
            except trio.WouldBlock:
                self.events_dropped += 1
        elif isinstance(message, Audio):
            for frame in message.frames:
                try:
                    self._audio_in.send_nowait(frame)
                except trio.WouldBlock:
                    self.audio_dropped += 1
        elif isinstance(message, (p.Error, p.Lagging, p.RtcClosed, *SpaceEvent.__args__)):
            try:
                self._events_in.send_nowait(message)  # type: ignore[arg-type]
            except trio.WouldBlock:
                self.events_dropped += 1


def _binary(data: str | bytes) -> bytes:
    if isinstance(data, str):
        raise ValueError("the server sent a text message; protocol 1 is binary msgpack only")
    return data


@asynccontextmanager
async def connect(
    url: str,
    name: str | None = None,
    *,
    token: str | None = None,
    guest_token: str | None = None,
    connect_timeout: float = 10.0,
) -> AsyncIterator[Client]:
    """Open a connection, say hello (as the account of `token` if given, else as the guest of
    `guest_token`, else as a new guest shown as `name`), and yield a Client; closes the connection on exit."""
    if name is None and token is None and guest_token is None:
        raise ValueError("connect as a guest (`name` or `guest_token`) or with an account's `token`")
    async with open_websocket_url(url, connect_timeout=connect_timeout, max_message_size=2**20) as ws:
        client = Client(ws, name, token, guest_token)
        await client._hello()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client._read)
            try:
                yield client
            finally:
                nursery.cancel_scope.cancel()


@asynccontextmanager
async def connect_account(
    url: str, handle: str, password: str = "correct horse battery staple", *, register: bool = True
) -> AsyncIterator[Client]:
    """Connect, register `handle` (unless it exists or `register` is False) and log in on the same
    connection: the Client is then that account (`client.user` is its id, `client.token` its token)."""
    async with connect(url, "guest") as client:  # a guest may not take an account's name, even its own
        if register:
            try:
                await client.register(handle, password, handle)
            except RequestError as e:
                if e.code != "handle_taken":
                    raise
        await client.log_in(handle, password)
        yield client
