"""The conversation's own messages and the two unions: every message a client sends (`ClientUnion`) and
every message a server sends (`ServerUnion`), each one tagged union of frozen msgspec Structs.

Each WebSocket message is one binary frame holding one msgpack map whose `type` field names the message.
`docs/protocol.md` is the human description of exactly these Structs; change both together.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from stoa_protocol._accounts import (
    AccountRequest,
    Block,
    CancelScheduled,
    ClearReminder,
    Description,
    DmReceived,
    Follow,
    GetInbox,
    GetSpace,
    HostReminder,
    Inbox,
    InviteSpeaker,
    ListSpaces,
    LoggedIn,
    LogIn,
    LogOut,
    MarkRead,
    Register,
    Registered,
    Scheduled,
    ScheduleSpace,
    SearchSpaces,
    SendDm,
    SetProtected,
    SetReminder,
    SpaceCancelled,
    SpaceRecord,
    Spaces,
    SpaceStarting,
    StartScheduled,
    Topics,
    Unblock,
    Unfollow,
)
from stoa_protocol._base import (
    I64,
    MAX_AUDIO_LEVEL,
    MAX_OPUS_BYTES,
    U63,
    ClientMessage,
    Emoji,
    PostId,
    Request,
    Token,
    UserId,
    UserName,
)
from stoa_protocol._events import (
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
    RecordingChanged,
    RecordingConsentChanged,
    RoleChanged,
    SpaceEnded,
    SpeakerInvited,
    SpeakerPolicyChanged,
    Speaking,
)
from stoa_protocol._recordings import (
    DeleteRecording,
    GetRecording,
    ListRecordings,
    RecordingDetail,
    Recordings,
    SetRecordingVisibility,
)
from stoa_protocol._rtc import GetRtcConfig, RtcAnswer, RtcClose, RtcClosed, RtcConfig, RtcOffer
from stoa_protocol._spaces import GetPosts, Joined, Posts, Resume, Resumed, SetRecording, SetRecordingConsent
from stoa_protocol._values import Role, SpeakerPolicy


class Hello(ClientMessage, tag="hello", frozen=True, omit_defaults=True):
    """Sign the connection in: as the account of `token`; else as the guest of `guest_token` (from an
    earlier `welcome`); else as a new guest shown as `name`."""

    protocol: I64  # any other int is `unsupported_protocol`; beyond the signed 64-bit range, `bad_message`
    name: UserName | None = None
    token: Token | None = None
    guest_token: Token | None = None


class CreateSpace(Request, tag="create_space", frozen=True):
    title: str  # its length is a rule of the space (bad_argument), not of the wire format
    speakers: SpeakerPolicy = SpeakerPolicy.EVERYONE
    description: Description = ""  # at most 500 characters, as a scheduled space's
    topics: Topics = ()  # at most 3, each 1 to 30 characters
    record: bool = False  # record from the start (docs/recording.md)


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


class SendAudio(ClientMessage, tag="audio", frozen=True, omit_defaults=True):
    """One 20 ms Opus packet from a speaker: `seq` counts the sender's packets, `captured_at` is µs of unix time,
    `level` (optional) the packet's loudness as RFC 6464 gives it, −dBov 0..127 (`audio_level`)."""

    seq: U63
    captured_at: U63
    opus: Annotated[bytes, msgspec.Meta(min_length=1, max_length=MAX_OPUS_BYTES)]
    level: Annotated[int, msgspec.Meta(ge=0, le=MAX_AUDIO_LEVEL)] | None = None


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
    | SetRecording
    | SetRecordingConsent
    | GetPosts
    | Resume
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
    | GetRtcConfig
    | RtcOffer
    | RtcClose
    | ListRecordings
    | GetRecording
    | DeleteRecording
    | SetRecordingVisibility
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
    | Resumed
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
    | Recordings
    | RecordingDetail
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
    | RtcConfig
    | RtcAnswer
    | RtcClosed
    | RecordingChanged
    | RecordingConsentChanged
    | Audio
    | Speaking
)

ENCODER = msgspec.msgpack.Encoder()
SERVER_DECODER = msgspec.msgpack.Decoder(ServerUnion)


def encode(message: msgspec.Struct) -> bytes:
    return ENCODER.encode(message)


def decode_server(data: bytes) -> msgspec.Struct:
    """A server message, as a client reads it (`msgspec.DecodeError` or `ValidationError` if it is not one)."""
    message: msgspec.Struct = SERVER_DECODER.decode(data)
    return message
