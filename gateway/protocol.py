"""The wire protocol, sans-IO: every message as a frozen msgspec Struct, one tagged union per direction.

Each WebSocket message is one binary frame holding one msgpack map whose `type` field names the message.
`docs/protocol.md` is the human description of exactly these Structs; change both together.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from actors.space import (
    AudienceChanged,
    Audio,
    HandLowered,
    HandRaised,
    MuteChanged,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantRemoved,
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
)

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
MAX_OPUS_BYTES = 1500

UserName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_]{1,32}$")]
Ref = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
U63 = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
PostId = Annotated[int, msgspec.Meta(ge=1, le=2**53)]
Emoji = Annotated[str, msgspec.Meta(min_length=1, max_length=8)]


class ClientMessage(msgspec.Struct, frozen=True, tag_field="type", forbid_unknown_fields=False):
    """Base of what a client sends. Requests carry `ref`, echoed in the reply (`ok`, `joined` or `error`)."""


# -- client to server -------------------------------------------------------------------------------


class Request(ClientMessage, frozen=True):
    """A client message that expects exactly one reply carrying the same `ref`."""

    ref: Ref


Handle = Annotated[str, msgspec.Meta(max_length=64)]  # an account's handle; its rules are the store's
Token = Annotated[str, msgspec.Meta(max_length=1024)]
Secret = Annotated[str, msgspec.Meta(max_length=1024)]  # a password; its rules are the store's


class Hello(ClientMessage, tag="hello", frozen=True, omit_defaults=True):
    """Sign the connection in: as the account of `token` when given, else as the guest `user`."""

    protocol: int
    user: UserName | None = None
    token: Token | None = None


class CreateSpace(Request, tag="create_space", frozen=True):
    title: str  # its length is a rule of the space (bad_argument), not of the wire format
    speakers: SpeakerPolicy = SpeakerPolicy.EVERYONE


class JoinSpace(Request, tag="join_space", frozen=True):
    space_id: Annotated[str, msgspec.Meta(max_length=64)]


class SetRole(Request, tag="set_role", frozen=True):
    user: UserName
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
    user: UserName


class DenyRequest(Request, tag="deny_request", frozen=True):
    user: UserName


class Mute(Request, tag="mute", frozen=True):
    user: UserName


class Unmute(Request, tag="unmute", frozen=True):
    pass


class MuteAll(Request, tag="mute_all", frozen=True):
    pass


class Remove(Request, tag="remove", frozen=True):
    user: UserName


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


class AccountRequest(Request, frozen=True):
    """A request about accounts, follows, blocks or direct messages (handled by `gateway/accounts.py`)."""


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
    """A request about scheduled spaces or the lists of spaces (handled by `gateway/schedule.py`). Listing
    and searching are open to guests; the others need an account."""


ScheduledId = Annotated[int, msgspec.Meta(ge=1, le=2**53)]


class ScheduleSpace(ScheduleRequest, tag="schedule_space", frozen=True):
    """Schedule a space for `starts_at` (ms of unix time); the ranges are the store's (bad_argument)."""

    title: Annotated[str, msgspec.Meta(max_length=1024)]
    starts_at: U63
    description: Annotated[str, msgspec.Meta(max_length=4096)] = ""
    topics: Annotated[tuple[Annotated[str, msgspec.Meta(max_length=256)], ...], msgspec.Meta(max_length=16)] = ()


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
    protocol: int
    user: str
    server: str
    limits: Limits


class Ok(msgspec.Struct, frozen=True, tag_field="type", tag="ok"):
    ref: int


class Error(msgspec.Struct, frozen=True, tag_field="type", tag="error"):
    """A refusal; `ref` is the request's, or nil when the message had none (or could not be read)."""

    ref: int | None
    code: str
    message: str


SNAPSHOT_LISTENERS = 100


class SpaceSnapshot(msgspec.Struct, frozen=True):
    """A space as it is after event `seq`: the events that follow start at `seq + 1`.

    `participants` is everyone on the mic; of the audience, the snapshot gives the exact count and the
    names of the latest `SNAPSHOT_LISTENERS` arrivals (a snapshot never grows with the audience).
    `hands` are the listeners asking to speak (in order of asking), `muted` the muted people on the mic,
    `pinned` the ids of pinned posts (the oldest pin first), `speaker_policy` who may raise a hand.
    """

    space_id: str
    title: str
    host: str
    status: SpaceStatus
    seq: int
    created_at: int
    participants: list[Participant]
    listener_count: int
    listeners: list[str]
    timeline: list[Post]
    hands: list[str]
    muted: list[str]
    pinned: list[int]
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
            status=state.status,
            seq=state.seq,
            created_at=state.created_at,
            participants=[Participant(user, state.roles[user]) for user in state.on_mic],
            listener_count=state.listener_count,
            listeners=recent[::-1],
            timeline=list(state.timeline),
            hands=list(state.hands),
            muted=list(state.muted),
            pinned=list(state.pinned),
            speaker_policy=state.speaker_policy,
        )


class Joined(msgspec.Struct, frozen=True, tag_field="type", tag="joined"):
    ref: int
    role: Role
    space: SpaceSnapshot


class Lagging(msgspec.Struct, frozen=True, tag_field="type", tag="lagging"):
    """The client reads too slowly: `dropped` audio messages were dropped for it since the last notice."""

    dropped: int


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
    host: str
    title: str
    description: str
    topics: list[str]
    starts_at: int
    created_at: int
    reminder_count: int


class Scheduled(msgspec.Struct, frozen=True, tag_field="type", tag="scheduled"):
    ref: int
    space: ScheduledSpace


class LiveSpace(msgspec.Struct, frozen=True):
    space_id: str
    title: str
    host: str
    topics: list[str]
    listener_count: int
    speaker_count: int


class Spaces(msgspec.Struct, frozen=True, tag_field="type", tag="spaces"):
    """The reply to `list_spaces` and `search_spaces`: live spaces newest first, upcoming ones soonest first."""

    ref: int
    live: list[LiveSpace]
    upcoming: list[ScheduledSpace]


class SpaceStarting(msgspec.Struct, frozen=True, tag_field="type", tag="space_starting"):
    """A user notification (no `seq`): a scheduled space one set a reminder on has started; join `space_id`."""

    scheduled_id: int
    space_id: str
    title: str
    host: str


class SpaceCancelled(msgspec.Struct, frozen=True, tag_field="type", tag="space_cancelled"):
    """A user notification (no `seq`): a scheduled space one set a reminder on was cancelled."""

    scheduled_id: int
    title: str


class HostReminder(msgspec.Struct, frozen=True, tag_field="type", tag="host_reminder"):
    """A user notification (no `seq`) to a host: their scheduled space is due at `starts_at` (ms)."""

    scheduled_id: int
    title: str
    starts_at: int


ServerUnion = (
    Welcome
    | Ok
    | Error
    | Joined
    | Lagging
    | Registered
    | LoggedIn
    | Inbox
    | DmReceived
    | Scheduled
    | Spaces
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


def encode(message: msgspec.Struct) -> bytes:
    return ENCODER.encode(message)
