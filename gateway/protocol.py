"""The wire protocol, sans-IO: every message as a frozen msgspec Struct, one tagged union per direction.

Each WebSocket message is one binary frame holding one msgpack map whose `type` field names the message.
`docs/protocol.md` is the human description of exactly these Structs; change both together.
The space-level messages live here; the foundations are in `protocol_base.py` and the user-level ones
(accounts, direct messages, scheduled spaces) in `protocol_accounts.py`; this module re-exports them all.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from actors.space import (
    RECENT_POSTS,
    AudienceChanged,
    Audio,
    HandLowered,
    HandRaised,
    MuteChanged,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantRemoved,
    Person,
    Post,
    PostPinned,
    PostShared,
    PostUnpinned,
    Reacted,
    Role,
    RoleChanged,
    SpaceEnded,
    SpaceState,
    SpaceStatus,
    SpeakerInvited,
    SpeakerPolicy,
    SpeakerPolicyChanged,
    domain,
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


MAX_POSTS_PAGE = 100
"""`get_posts` returns at most this many posts (and at most `domain.POSTS_BYTES` of their text)."""


class GetPosts(Request, tag="get_posts", frozen=True):
    """A page of a space's timeline from the store, live or ended: the newest posts with ids below
    `before_id` (from the newest when nil), oldest first."""

    space_id: Annotated[str, msgspec.Meta(max_length=64)]
    before_id: PostId | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_POSTS_PAGE)] = 50


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


SNAPSHOT_LISTENERS = 100
SNAPSHOT_HANDS = 100


class SpaceSnapshot(msgspec.Struct, frozen=True):
    """A space as it is after event `seq`: the events that follow start at `seq + 1`.

    A snapshot never grows with the audience nor with the timeline: `participants` is everyone on the mic
    (at most 13); of the audience, the exact count and the names of the latest `SNAPSHOT_LISTENERS`
    arrivals; `hands` the first `SNAPSHOT_HANDS` listeners asking to speak (in order of asking) and
    `hand_count` how many ask; `muted` the muted people on the mic; `timeline` the latest posts (at most
    `RECENT_POSTS` and `domain.POSTS_BYTES` of text; older ones through `get_posts`), `post_count` how many
    the space has had; `pinned` the ids of pinned posts (the oldest pin first) and `pinned_posts` those
    posts, which may be older than `timeline`; `speaker_policy` who may raise a hand.
    """

    space_id: str
    title: str
    host: str
    host_name: str
    description: str
    topics: list[str]
    status: SpaceStatus
    seq: int
    created_at: int
    participants: list[Participant]
    listener_count: int
    listeners: list[Person]
    timeline: list[Post]
    post_count: int
    hands: list[Person]
    hand_count: int
    muted: list[str]
    pinned: list[int]
    pinned_posts: list[Post]
    speaker_policy: SpeakerPolicy

    @classmethod
    def of(cls, state: SpaceState) -> SpaceSnapshot:
        recent: list[str] = []
        for user in reversed(state.roles):
            if len(recent) == SNAPSHOT_LISTENERS:
                break
            if not state.roles[user].on_mic:
                recent.append(user)
        return cls(
            space_id=state.space_id,
            title=state.title,
            host=state.host,
            host_name=state.name_of(state.host),
            description=state.description,
            topics=list(state.topics),
            status=state.status,
            seq=state.seq,
            created_at=state.created_at,
            participants=[Participant(user, state.name_of(user), state.roles[user]) for user in state.on_mic],
            listener_count=state.listener_count,
            listeners=[state.person(user) for user in recent[::-1]],
            timeline=domain.latest_posts(state.timeline[::-1], RECENT_POSTS)[0],
            post_count=state.post_count,
            hands=[state.person(user) for user in state.hands[:SNAPSHOT_HANDS]],
            hand_count=len(state.hands),
            muted=list(state.muted),
            pinned=list(state.pinned),
            pinned_posts=list(state.pinned_posts),
            speaker_policy=state.speaker_policy,
        )


class Joined(msgspec.Struct, frozen=True, tag_field="type", tag="joined"):
    ref: int
    role: Role
    space: SpaceSnapshot


class Posts(msgspec.Struct, frozen=True, tag_field="type", tag="posts"):
    """The reply to `get_posts`: a page of the timeline, oldest first; `more` when older posts remain
    (ask again with the first post's id as `before_id`)."""

    ref: int
    space_id: str
    posts: list[Post]
    more: bool


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
