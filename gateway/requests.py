"""The one table of requests: for every client message type, its handler, who may send it, and the rate
limit it spends. `docs/authorization.md` and `docs/security.md` describe this same table; a test checks
that every message of the protocol is in it.

Who may send (`Who`): `HELLO` only before `hello`; `ANYONE` a guest or an account; `ACCOUNT` an account
(a guest is refused with `account_required`). What a role in a space allows is the space's own rule
(`actors/space/domain/`), not this table's. Every message but audio also spends the connection's
`requests` budget. Audio is not a request: the session hands it to the space without a reply.

A request refused for its own content (`bad_argument`: a value out of its documented range, found before
anything is changed) gives its own limit's token back: a typo in a title must not lock its author out of
creating spaces for minutes. It keeps the `requests` token it spent, which bounds a stream of invalid
requests (`bad_message` never reaches this table: the session spends a `requests` token on every message it
decodes, and closes a connection refused unread 20 times in a row, `gateway/refusals.py`).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

import store
from actors.space import errors as space_errors
from gateway import protocol as p
from gateway.context import Caller
from gateway.errors import AccountRequired, AlreadyAuthenticated, NotAuthenticated
from gateway.handlers import accounts, recordings, rtc, schedule, spaces


class Who(enum.Enum):
    HELLO = "hello"
    ANYONE = "anyone"
    ACCOUNT = "account"


@dataclass(frozen=True)
class Route:
    handler: Callable[[Caller, Any], Awaitable[p.Reply]]
    who: Who
    limit: str | None = None  # a `LimitSettings` field, counted per signed-in user (account or guest id)
    what: str = ""  # how the refusal names what was limited


def _r(handler: Callable[[Caller, Any], Awaitable[p.Reply]], who: Who, limit: str | None = None, **kw: Any) -> Route:
    return Route(handler, who, limit, **kw)


A, ANY = Who.ACCOUNT, Who.ANYONE

ROUTES: dict[type[msgspec.Struct], Route] = {
    p.Hello: _r(accounts.hello, Who.HELLO),
    # spaces: guests listen; everything else needs an account
    p.JoinSpace: _r(spaces.join_space, ANY),
    p.Resume: _r(spaces.resume, ANY, "resumes", what="resumes"),
    p.LeaveSpace: _r(spaces.leave_space, ANY),
    p.CreateSpace: _r(spaces.create_space, A, "create_space", what="spaces created"),
    p.EndSpace: _r(spaces.end_space, A),
    p.SetRole: _r(spaces.set_role, A),
    p.SharePost: _r(spaces.share_post, A, "share_post", what="posts"),
    p.RaiseHand: _r(spaces.raise_hand, A, "hands", what="hands raised or lowered"),
    p.LowerHand: _r(spaces.lower_hand, A, "hands", what="hands raised or lowered"),
    p.ApproveRequest: _r(spaces.approve_request, A),
    p.DenyRequest: _r(spaces.deny_request, A),
    p.Mute: _r(spaces.mute, A),
    p.Unmute: _r(spaces.unmute, A),
    p.MuteAll: _r(spaces.mute_all, A),
    p.Remove: _r(spaces.remove, A),
    p.PinPost: _r(spaces.pin_post, A),
    p.UnpinPost: _r(spaces.unpin_post, A),
    p.React: _r(spaces.react, A, "reactions", what="reactions"),
    p.SetSpeakerPolicy: _r(spaces.set_speaker_policy, A),
    p.AcceptInvite: _r(spaces.accept_invite, A),
    p.SetRecording: _r(spaces.set_recording, A, "recordings", what="recordings turned on or off"),
    p.SetRecordingConsent: _r(spaces.recording_consent, A, "consents", what="consents to recording"),
    # accounts
    p.Register: _r(accounts.register, ANY),  # limited per address inside (before the password is hashed)
    p.LogIn: _r(accounts.log_in, ANY),  # likewise, plus the lockout per handle
    p.LogOut: _r(accounts.log_out, A),
    p.SetProtected: _r(accounts.set_protected, A),
    p.Follow: _r(accounts.follow, A),
    p.Unfollow: _r(accounts.unfollow, A),
    p.Block: _r(accounts.block, A),
    p.Unblock: _r(accounts.unblock, A),
    p.SendDm: _r(accounts.send_dm, A, "direct_messages", what="direct messages"),
    p.GetInbox: _r(accounts.get_inbox, A),
    p.MarkRead: _r(accounts.mark_read, A),
    p.InviteSpeaker: _r(accounts.invite_speaker, A, "invitations", what="invitations to speak"),
    # the schedule and finding spaces
    p.ScheduleSpace: _r(schedule.schedule_space, A, "schedule_space", what="spaces scheduled"),
    p.CancelScheduled: _r(schedule.cancel_scheduled, A),
    p.StartScheduled: _r(schedule.start_scheduled, A, "create_space", what="spaces created"),
    p.SetReminder: _r(schedule.set_reminder, A),
    p.ClearReminder: _r(schedule.clear_reminder, A),
    p.ListSpaces: _r(schedule.list_spaces, ANY, "listings", what="listings, searches and records"),
    p.SearchSpaces: _r(schedule.search_spaces, ANY, "listings", what="listings, searches and records"),
    p.GetSpace: _r(schedule.get_space, ANY, "listings", what="listings, searches and records"),
    p.GetPosts: _r(schedule.get_posts, ANY, "timeline_pages", what="pages of a timeline"),
    # WebRTC signalling: what a role allows is checked by the handler (on the mic)
    p.GetRtcConfig: _r(rtc.get_rtc_config, A, "rtc_configs", what="WebRTC configurations"),
    p.RtcOffer: _r(rtc.rtc_offer, A, "rtc_offers", what="WebRTC offers"),
    p.RtcClose: _r(rtc.rtc_close, A),
    # replays: public recordings are for everyone; a host manages their own
    p.ListRecordings: _r(recordings.list_recordings, ANY, "listings", what="listings, searches and records"),
    p.GetRecording: _r(recordings.get_recording, ANY, "listings", what="listings, searches and records"),
    p.DeleteRecording: _r(recordings.delete_recording, A),
    p.SetRecordingVisibility: _r(recordings.set_recording_visibility, A),
}


async def dispatch(c: Caller, m: msgspec.Struct) -> p.Reply:
    """Check who may send `m` and its rate limit, then run its handler. A refusal raises the error that
    `gateway/errors.py` maps to the reply's code; nothing is changed by a refused request."""
    route = ROUTES[type(m)]
    if route.who is Who.HELLO:
        if c.user is not None:
            raise AlreadyAuthenticated("this connection already said hello")
    elif c.user is None:
        raise NotAuthenticated("send hello first")
    elif route.who is Who.ACCOUNT and c.account is None:
        raise AccountRequired("guests listen: sign in with an account (`log_in`, or `hello` with a token) first")
    elif c.account is not None and c.user in c.services.suspended:  # suspended while connected: 4005 follows
        raise store.AccountSuspended()
    if route.limit is None:
        return await route.handler(c, m)
    c.services.limits.take(route.limit, c.user, route.what)
    try:
        return await route.handler(c, m)
    except (space_errors.BadArgument, store.BadArgument):
        c.services.limits.give_back(route.limit, c.user)
        raise
