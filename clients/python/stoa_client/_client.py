from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import stoa_protocol as p
import trio
from stoa_protocol import Role, SpeakerPolicy

from stoa_client._backoff import DEFAULT_BACKOFF, Backoff
from stoa_client._connection import Connection
from stoa_client._delivered import RequestError
from stoa_client._dial import first_leaf


class Client(Connection):
    """A user's connection and every request it can make (see `Connection` for what survives a drop)."""

    # -- requests -----------------------------------------------------------------------------------

    async def create_space(
        self,
        title: str,
        speakers: SpeakerPolicy = SpeakerPolicy.EVERYONE,
        *,
        description: str = "",
        topics: tuple[str, ...] = (),
        record: bool = False,
    ) -> p.Joined:
        reply = await self._request(
            lambda ref: p.CreateSpace(
                ref=ref, title=title, speakers=speakers, description=description, topics=topics, record=record
            )
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
        self._left()

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

    async def set_recording(self, on: bool) -> None:
        """Turn the space's recording on (a new recording; the host or a co-host) or off."""
        await self._request(lambda ref: p.SetRecording(ref=ref, on=on))

    async def recording_consent(self, consent: bool) -> None:
        """Consent to the space's current recording, or decline (withdraw) it."""
        await self._request(lambda ref: p.SetRecordingConsent(ref=ref, consent=consent))

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
        self,
        title: str,
        starts_at: int,
        description: str = "",
        topics: tuple[str, ...] = (),
        *,
        record: bool = False,
    ) -> p.ScheduledSpace:
        reply = await self._request(
            lambda ref: p.ScheduleSpace(
                ref=ref, title=title, starts_at=starts_at, description=description, topics=topics, record=record
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

    async def rtc_config(self) -> p.RtcConfig:
        """The ICE servers for this account's next peer connection (its TURN credential expires: ask again for a
        new one)."""
        reply = await self._request(lambda ref: p.GetRtcConfig(ref=ref))
        assert isinstance(reply, p.RtcConfig)
        return reply

    async def rtc_offer(self, sdp: str) -> str:
        """Offer a WebRTC peer connection to send audio (ICE gathering complete); returns the server's answer.
        The peer connection belongs to this WebSocket connection: after a `Reconnected`, offer again."""
        reply = await self._request(lambda ref: p.RtcOffer(ref=ref, sdp=sdp))
        assert isinstance(reply, p.RtcAnswer)
        return reply.sdp

    async def rtc_close(self) -> None:
        await self._request(lambda ref: p.RtcClose(ref=ref))

    async def list_recordings(
        self,
        *,
        space_id: str | None = None,
        mine: bool = False,
        after: p.RecordingSummary | None = None,
        limit: int = 20,
    ) -> p.Recordings:
        """The recordings this user may play, newest first (only their own with `mine`); the next page `after`
        the last one listed."""
        before, before_id = (None, None) if after is None else (after.started_at, after.recording_id)
        reply = await self._request(
            lambda ref: p.ListRecordings(
                ref=ref, space_id=space_id, mine=mine, before=before, before_id=before_id, limit=limit
            )
        )
        assert isinstance(reply, p.Recordings)
        return reply

    async def get_recording(self, recording_id: str) -> p.RecordingDetail:
        """A recording with its parts and their download links (relative to the server's HTTP address)."""
        reply = await self._request(lambda ref: p.GetRecording(ref=ref, recording_id=recording_id))
        assert isinstance(reply, p.RecordingDetail)
        return reply

    async def delete_recording(self, recording_id: str) -> None:
        await self._request(lambda ref: p.DeleteRecording(ref=ref, recording_id=recording_id))

    async def set_recording_visibility(self, recording_id: str, visibility: Literal["public", "private"]) -> None:
        await self._request(
            lambda ref: p.SetRecordingVisibility(ref=ref, recording_id=recording_id, visibility=visibility)
        )


@asynccontextmanager
async def connect(
    url: str,
    name: str | None = None,
    *,
    token: str | None = None,
    guest_token: str | None = None,
    connect_timeout: float = 10.0,
    reconnect: Backoff | None = DEFAULT_BACKOFF,
) -> AsyncIterator[Client]:
    """Open a connection, say hello (as the account of `token` if given, else as the guest of
    `guest_token`, else as a new guest shown as `name`), and yield a Client. When the connection drops the
    client reconnects with `reconnect`'s backoff and resumes (None: it does not; `closed` is then set).

    Error handling: the first connection's failures reach the caller (OSError, trio-websocket's
    `HandshakeError`, `RequestError` for a refused `hello`). Resource handling: on exit the connection is
    closed with 1000 (the server lets the user's place go at once) and every task of the client ends."""
    if name is None and token is None and guest_token is None:
        raise ValueError("connect as a guest (`name` or `guest_token`) or with an account's `token`")
    client = Client(url, name, token, guest_token, reconnect=reconnect, connect_timeout=connect_timeout)
    failed: Exception | None = None
    opened = False
    try:
        async with trio.open_nursery() as nursery:
            try:
                await client._open(nursery)
            except Exception as error:
                failed = error
                nursery.cancel_scope.cancel()
            else:
                opened = True
                try:
                    yield client
                finally:
                    with trio.CancelScope(shield=True):
                        await client._close()
                    nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The first connection's failure reaches the caller as itself, not inside the nursery's group: a refused
        # handshake is raised by trio-websocket's reader task in the nursery, beside (or instead of) `_open`.
        if opened or not isinstance(group, ExceptionGroup):
            raise
        raise failed or first_leaf(group) from None
    if failed is not None:
        raise failed


@asynccontextmanager
async def connect_account(
    url: str,
    handle: str,
    password: str = "correct horse battery staple",
    *,
    register: bool = True,
    reconnect: Backoff | None = DEFAULT_BACKOFF,
) -> AsyncIterator[Client]:
    """Connect, register `handle` (unless it exists or `register` is False) and log in on the same
    connection: the Client is then that account (`client.user` is its id, `client.token` its token).
    `reconnect` as for `connect`."""
    # Says hello as "guest": a guest may not take an account's name, even its own.
    async with connect(url, "guest", reconnect=reconnect) as client:
        if register:
            try:
                await client.register(handle, password, handle)
            except RequestError as e:
                if e.code != "handle_taken":
                    raise
        await client.log_in(handle, password)
        yield client
