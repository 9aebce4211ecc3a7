"""The wire messages of accounts, direct messages and scheduled spaces.

They are user-level, not space-level: requests answered by the server's `gateway/handlers/accounts.py` and
`gateway/handlers/schedule.py`, and notifications without a `seq`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from stoa_protocol._base import U63, Handle, Request, Secret
from stoa_protocol._values import Post, SpaceStatus


class AccountRequest(Request, frozen=True):
    """A user-level request, about no space: accounts, follows, blocks, direct messages, the schedule, and the
    ICE servers for a peer connection (`_rtc.py`); docs/authorization.md has their own table."""


class Register(AccountRequest, tag="register", frozen=True):
    handle: Handle
    password: Secret
    display_name: Annotated[str, msgspec.Meta(max_length=256)]


class LogIn(AccountRequest, tag="log_in", frozen=True):
    handle: Handle
    password: Secret


class LogOut(AccountRequest, tag="log_out", frozen=True):
    pass


class SetProtected(AccountRequest, tag="set_protected", frozen=True):
    protected: bool


class Follow(AccountRequest, tag="follow", frozen=True):
    handle: Handle


class Unfollow(AccountRequest, tag="unfollow", frozen=True):
    handle: Handle


class Block(AccountRequest, tag="block", frozen=True):
    handle: Handle


class Unblock(AccountRequest, tag="unblock", frozen=True):
    handle: Handle


class SendDm(AccountRequest, tag="send_dm", frozen=True):
    to: Handle
    text: Annotated[str, msgspec.Meta(max_length=10_000)]


class GetInbox(AccountRequest, tag="get_inbox", frozen=True):
    after_id: U63 = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=200)] = 50


class MarkRead(AccountRequest, tag="mark_read", frozen=True):
    up_to_id: U63


class InviteSpeaker(AccountRequest, tag="invite_speaker", frozen=True):
    handle: Handle


class ScheduleRequest(AccountRequest, frozen=True):
    """A request about scheduled spaces, the lists of spaces or a space's record (handled by
    `gateway/schedule.py`). Listing, searching and `get_space` are open to guests; the others need an
    account."""


ScheduledId = Annotated[int, msgspec.Meta(ge=1, le=2**53)]
Description = Annotated[str, msgspec.Meta(max_length=4096)]  # its length is the store's or space's rule
Topics = Annotated[tuple[Annotated[str, msgspec.Meta(max_length=256)], ...], msgspec.Meta(max_length=16)]


class ScheduleSpace(ScheduleRequest, tag="schedule_space", frozen=True):
    """Schedule a space for `starts_at` (ms of unix time); the ranges are the store's (bad_argument)."""

    title: Annotated[str, msgspec.Meta(max_length=1024)]
    starts_at: U63
    description: Description = ""
    topics: Topics = ()
    record: bool = False  # started, the space records from its start


class CancelScheduled(ScheduleRequest, tag="cancel_scheduled", frozen=True):
    scheduled_id: ScheduledId


class StartScheduled(ScheduleRequest, tag="start_scheduled", frozen=True):
    scheduled_id: ScheduledId


class SetReminder(ScheduleRequest, tag="set_reminder", frozen=True):
    scheduled_id: ScheduledId


class ClearReminder(ScheduleRequest, tag="clear_reminder", frozen=True):
    scheduled_id: ScheduledId


class ListSpaces(ScheduleRequest, tag="list_spaces", frozen=True):
    kind: Literal["live", "upcoming"]
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 50


class SearchSpaces(ScheduleRequest, tag="search_spaces", frozen=True):
    query: Annotated[str, msgspec.Meta(max_length=256)]
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 50


class GetSpace(ScheduleRequest, tag="get_space", frozen=True):
    """A space's record as the store keeps it, live or ended (an ended space keeps its timeline)."""

    space_id: Annotated[str, msgspec.Meta(max_length=64)]


# -- server to client ---------------------------------------------------------------------------


class Registered(msgspec.Struct, frozen=True, tag_field="type", tag="registered"):
    ref: int
    handle: str
    display_name: str


class LoggedIn(msgspec.Struct, frozen=True, tag_field="type", tag="logged_in"):
    """The session token to present in `hello` on later connections, until `expires_at` (ms)."""

    ref: int
    token: str
    expires_at: int
    handle: str
    display_name: str
    protected: bool
    user: str  # the account's server-issued id (`u<id>`): this connection's id from now on


class InviteLink(msgspec.Struct, frozen=True):
    space_id: str
    role: str


class DirectMessage(msgspec.Struct, frozen=True):
    """A message in the recipient's inbox; `invite` is set exactly when `kind` is "invite"."""

    id: int
    sender: str
    kind: str
    text: str
    invite: InviteLink | None
    at: int
    read: bool


class Inbox(msgspec.Struct, frozen=True, tag_field="type", tag="inbox"):
    ref: int
    messages: list[DirectMessage]


class DmReceived(msgspec.Struct, frozen=True, tag_field="type", tag="dm_received"):
    """A user notification (not a space event: no `seq`): a direct message just arrived in the inbox."""

    message: DirectMessage


class ScheduledSpace(msgspec.Struct, frozen=True):
    """A pending scheduled space: times in ms of unix time; `reminder_count` is how many asked to be told."""

    scheduled_id: int
    host: str  # the host's user id
    host_name: str  # the host's handle
    title: str
    description: str
    topics: list[str]
    starts_at: int
    created_at: int
    reminder_count: int
    record: bool = False


class Scheduled(msgspec.Struct, frozen=True, tag_field="type", tag="scheduled"):
    ref: int
    space: ScheduledSpace


class LiveSpace(msgspec.Struct, frozen=True):
    space_id: str
    title: str
    host: str  # the host's id
    host_name: str
    topics: list[str]
    listener_count: int
    speaker_count: int
    recording: bool = False


class Spaces(msgspec.Struct, frozen=True, tag_field="type", tag="spaces"):
    """The reply to `list_spaces` and `search_spaces`: live spaces newest first, upcoming ones soonest first."""

    ref: int
    live: list[LiveSpace]
    upcoming: list[ScheduledSpace]


class SpaceRecord(msgspec.Struct, frozen=True, tag_field="type", tag="space_record"):
    """The reply to `get_space`: times in ms of unix time, `ended_at` nil while the space is live; the
    latest posts, oldest first (older ones through `get_posts`)."""

    ref: int
    space_id: str
    title: str
    host: str  # the host's id
    host_name: str
    description: str
    topics: list[str]
    status: SpaceStatus
    created_at: int
    ended_at: int | None
    timeline: list[Post]


class SpaceStarting(msgspec.Struct, frozen=True, tag_field="type", tag="space_starting"):
    """A user notification (no `seq`): a scheduled space one set a reminder on has started; join `space_id`."""

    scheduled_id: int
    space_id: str
    title: str
    host: str  # the host's user id
    host_name: str  # the host's handle


class SpaceCancelled(msgspec.Struct, frozen=True, tag_field="type", tag="space_cancelled"):
    """A user notification (no `seq`): a scheduled space one set a reminder on was cancelled."""

    scheduled_id: int
    title: str


class HostReminder(msgspec.Struct, frozen=True, tag_field="type", tag="host_reminder"):
    """A user notification (no `seq`) to a host: their scheduled space is due at `starts_at` (ms)."""

    scheduled_id: int
    title: str
    starts_at: int
