"""The wire protocol, sans-IO: every message as a frozen msgspec Struct, one tagged union per direction.

Each WebSocket message is one binary frame holding one msgpack map whose `type` field names the message.
`docs/protocol.md` is the human description of exactly these Structs; change both together.
The space-level requests and the conversation's own messages live here; the foundations are in
`protocol_base.py`, the user-level ones (accounts, direct messages, scheduled spaces) in
`protocol_accounts.py`, the snapshot and the timeline's pages in `protocol_spaces.py`; this module
re-exports them all.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from actors.space import (
    AudienceChanged,
    Audio,
    HandLowered,
    HandRaised,
    MuteChanged,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantRemoved,
    PostPinned,
    PostShared,
    PostUnpinned,
    Reacted,
    Role,
    RoleChanged,
    SpaceEnded,
    SpeakerInvited,
    SpeakerPolicy,
    SpeakerPolicyChanged,
)
from gateway.protocol_accounts import (
    AccountRequest as AccountRequest,
    Block as Block,
    CancelScheduled as CancelScheduled,
    ClearReminder as ClearReminder,
    Description as Description,
    DirectMessage as DirectMessage,
    DmReceived as DmReceived,
    Follow as Follow,
    GetInbox as GetInbox,
    GetSpace as GetSpace,
    HostReminder as HostReminder,
    Inbox as Inbox,
    InviteLink as InviteLink,
    InviteSpeaker as InviteSpeaker,
    ListSpaces as ListSpaces,
    LiveSpace as LiveSpace,
    LoggedIn as LoggedIn,
    LogIn as LogIn,
    LogOut as LogOut,
    MarkRead as MarkRead,
    Register as Register,
    Registered as Registered,
    Scheduled as Scheduled,
    ScheduledSpace as ScheduledSpace,
    ScheduleRequest as ScheduleRequest,
    ScheduleSpace as ScheduleSpace,
    SearchSpaces as SearchSpaces,
    SendDm as SendDm,
    SetProtected as SetProtected,
    SetReminder as SetReminder,
    SpaceCancelled as SpaceCancelled,
    SpaceRecord as SpaceRecord,
    Spaces as Spaces,
    SpaceStarting as SpaceStarting,
    StartScheduled as StartScheduled,
    Topics as Topics,
    Unblock as Unblock,
    Unfollow as Unfollow,
)
from gateway.protocol_base import (
    DECODE_FAILURES,
    MAX_MESSAGE_BYTES as MAX_MESSAGE_BYTES,
    MAX_NESTING as MAX_NESTING,
    MAX_OPUS_BYTES as MAX_OPUS_BYTES,
    PROTOCOL_VERSION as PROTOCOL_VERSION,
    U63 as U63,
    ClientMessage as ClientMessage,
    Emoji as Emoji,
    Handle as Handle,
    PostId as PostId,
    Ref as Ref,
    Request as Request,
    Secret as Secret,
    Token as Token,
    UserId as UserId,
    UserName as UserName,
    check_structure,
    refusal_of,
)
from gateway.protocol_rtc import (
    MAX_SDP_BYTES as MAX_SDP_BYTES,
    RtcAnswer as RtcAnswer,
    RtcClose as RtcClose,
    RtcClosed as RtcClosed,
    RtcOffer as RtcOffer,
)
from gateway.protocol_spaces import (
    MAX_POSTS_PAGE as MAX_POSTS_PAGE,
    SNAPSHOT_HANDS as SNAPSHOT_HANDS,
    SNAPSHOT_LISTENERS as SNAPSHOT_LISTENERS,
    GetPosts as GetPosts,
    Joined as Joined,
    Posts as Posts,
    SpaceSnapshot as SpaceSnapshot,
)


class Hello(ClientMessage, tag="hello", frozen=True, omit_defaults=True):
    """Sign the connection in: as the account of `token`; else as the guest of `guest_token` (from an
    earlier `welcome`); else as a new guest shown as `name`."""

    protocol: int
    name: UserName | None = None
    token: Token | None = None
    guest_token: Token | None = None


class CreateSpace(Request, tag="create_space", frozen=True):
    title: str  # its length is a rule of the space (bad_argument), not of the wire format
    speakers: SpeakerPolicy = SpeakerPolicy.EVERYONE
    description: Description = ""  # at most 500 characters, as a scheduled space's
    topics: Topics = ()  # at most 3, each 1 to 30 characters


class JoinSpace(Request, tag="join_space", frozen=True):
    space_id: Annotated[str, msgspec.Meta(max_length=64)]


class SetRole(Request, tag="set_role", frozen=True):
    user: UserId
    role: Role


class SharePost(Request, tag="share_post", frozen=True):
    text: str


class LeaveSpace(Request, tag="leave_space", frozen=True):
    pass


class EndSpace(Request, tag="end_space", frozen=True):
    pass


class RaiseHand(Request, tag="raise_hand", frozen=True):
    pass


class LowerHand(Request, tag="lower_hand", frozen=True):
    pass


class ApproveRequest(Request, tag="approve_request", frozen=True):
    user: UserId


class DenyRequest(Request, tag="deny_request", frozen=True):
    user: UserId


class Mute(Request, tag="mute", frozen=True):
    user: UserId


class Unmute(Request, tag="unmute", frozen=True):
    pass


class MuteAll(Request, tag="mute_all", frozen=True):
    pass


class Remove(Request, tag="remove", frozen=True):
    user: UserId


class PinPost(Request, tag="pin_post", frozen=True):
    post_id: PostId


class UnpinPost(Request, tag="unpin_post", frozen=True):
    post_id: PostId


class React(Request, tag="react", frozen=True):
    emoji: Emoji  # which emoji is a rule of the space (bad_argument)


class SetSpeakerPolicy(Request, tag="set_speaker_policy", frozen=True):
    policy: SpeakerPolicy


class AcceptInvite(Request, tag="accept_invite", frozen=True):
    pass


class SendAudio(ClientMessage, tag="audio", frozen=True):
    """One 20 ms Opus packet from a speaker: `seq` counts the sender's packets, `captured_at` is µs of unix time."""

    seq: U63
    captured_at: U63
    opus: Annotated[bytes, msgspec.Meta(min_length=1, max_length=MAX_OPUS_BYTES)]


ClientUnion = (
    Hello
    | CreateSpace
    | JoinSpace
    | SetRole
    | SharePost
    | LeaveSpace
    | EndSpace
    | RaiseHand
    | LowerHand
    | ApproveRequest
    | DenyRequest
    | Mute
    | Unmute
    | MuteAll
    | Remove
    | PinPost
    | UnpinPost
    | React
    | SetSpeakerPolicy
    | AcceptInvite
    | GetPosts
    | Register
    | LogIn
    | LogOut
    | SetProtected
    | Follow
    | Unfollow
    | Block
    | Unblock
    | SendDm
    | GetInbox
    | MarkRead
    | InviteSpeaker
    | ScheduleSpace
    | CancelScheduled
    | StartScheduled
    | SetReminder
    | ClearReminder
    | ListSpaces
    | SearchSpaces
    | GetSpace
    | RtcOffer
    | RtcClose
    | SendAudio
)
CLIENT_TYPES = frozenset(c.__struct_config__.tag for c in ClientUnion.__args__)
ACCOUNT_TYPES = frozenset(c.__struct_config__.tag for c in ClientUnion.__args__ if issubclass(c, AccountRequest))


# -- server to client -------------------------------------------------------------------------------


class Limits(msgspec.Struct, frozen=True):
    max_message_bytes: int
    max_opus_bytes: int
    max_title_chars: int
    max_post_chars: int
    max_speakers: int
    max_cohosts: int
    max_pinned: int
    frame_ms: int


class Welcome(msgspec.Struct, frozen=True, tag_field="type", tag="welcome"):
    """`user` is this connection's server-issued id; `handle` the account's (nil for a guest);
    `guest_token` (nil for an account) lets a guest come back as the same guest."""

    protocol: int
    user: str
    name: str
    handle: str | None
    guest_token: str | None
    server: str
    limits: Limits


class Ok(msgspec.Struct, frozen=True, tag_field="type", tag="ok"):
    ref: int


class Error(msgspec.Struct, frozen=True, tag_field="type", tag="error", omit_defaults=True):
    """A refusal; `ref` is the request's, or nil when the message had none (or could not be read);
    `retry_after_ms` only with `rate_limited`."""

    ref: int | None
    code: str
    message: str
    retry_after_ms: int | None = None


class Lagging(msgspec.Struct, frozen=True, tag_field="type", tag="lagging"):
    """The client reads too slowly: `dropped` audio messages were dropped for it since the last notice."""

    dropped: int


ServerUnion = (
    Welcome
    | Ok
    | Error
    | Joined
    | Posts
    | Lagging
    | Registered
    | LoggedIn
    | Inbox
    | DmReceived
    | Scheduled
    | Spaces
    | SpaceRecord
    | SpaceStarting
    | SpaceCancelled
    | HostReminder
    | ParticipantJoined
    | ParticipantLeft
    | RoleChanged
    | PostShared
    | SpaceEnded
    | AudienceChanged
    | HandRaised
    | HandLowered
    | MuteChanged
    | ParticipantRemoved
    | PostPinned
    | PostUnpinned
    | Reacted
    | SpeakerPolicyChanged
    | SpeakerInvited
    | RtcAnswer
    | RtcClosed
    | Audio
)

ENCODER = msgspec.msgpack.Encoder()
CLIENT_DECODER = msgspec.msgpack.Decoder(ClientUnion)
SERVER_DECODER = msgspec.msgpack.Decoder(ServerUnion)


class _Sent:
    """A handler's reply that the space already queued (`joined`, made inside the join)."""


SENT = _Sent()
Reply = msgspec.Struct | _Sent | None
"""What a request handler returns: its reply, `SENT`, or None for a plain `ok`."""


def encode(message: msgspec.Struct) -> bytes:
    return ENCODER.encode(message)


def decode_client(data: bytes) -> ClientMessage:
    """The one way a client's bytes become a message. Anything else raises `BadMessage` or `UnknownType`,
    carrying the request's `ref` when one can be read; no other exception escapes, whatever the bytes."""
    check_structure(data)
    try:
        message: ClientMessage = CLIENT_DECODER.decode(data)
    except DECODE_FAILURES as e:
        raise refusal_of(data, e, CLIENT_TYPES) from None
    return message
