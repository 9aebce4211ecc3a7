"""The wire protocol as the server sees it: the protocol package's messages (`stoa_protocol`, re-exported
here so the server says `p.Joined` as before), and what only a server does with them: `decode_client`, the one
way a client's bytes become a message, and the snapshot of a space's state.

Each WebSocket message is one binary frame holding one msgpack map whose `type` field names the message.
`docs/protocol.md` is the human description of exactly these Structs; change both together.
"""

from __future__ import annotations

import msgspec
from stoa_protocol import (
    ACCOUNT_TYPES as ACCOUNT_TYPES,
    CLIENT_TYPES as CLIENT_TYPES,
    ENCODER as ENCODER,
    MAX_AUDIO_LEVEL as MAX_AUDIO_LEVEL,
    MAX_MESSAGE_BYTES as MAX_MESSAGE_BYTES,
    MAX_NESTING as MAX_NESTING,
    MAX_OPUS_BYTES as MAX_OPUS_BYTES,
    MAX_POSTS_PAGE as MAX_POSTS_PAGE,
    MAX_RECORDINGS_PAGE as MAX_RECORDINGS_PAGE,
    MAX_SDP_BYTES as MAX_SDP_BYTES,
    PROTOCOL_VERSION as PROTOCOL_VERSION,
    SERVER_DECODER as SERVER_DECODER,
    SNAPSHOT_HANDS as SNAPSHOT_HANDS,
    SNAPSHOT_LISTENERS as SNAPSHOT_LISTENERS,
    U63 as U63,
    AcceptInvite as AcceptInvite,
    AccountRequest as AccountRequest,
    ActiveRecording as ActiveRecording,
    ApproveRequest as ApproveRequest,
    AudienceChanged as AudienceChanged,
    Audio as Audio,
    Block as Block,
    CancelScheduled as CancelScheduled,
    ClearReminder as ClearReminder,
    ClientMessage as ClientMessage,
    ClientUnion as ClientUnion,
    Consent as Consent,
    CreateSpace as CreateSpace,
    DeleteRecording as DeleteRecording,
    DenyRequest as DenyRequest,
    Description as Description,
    DirectMessage as DirectMessage,
    DmReceived as DmReceived,
    Emoji as Emoji,
    EndSpace as EndSpace,
    Error as Error,
    Event as Event,
    Follow as Follow,
    GetInbox as GetInbox,
    GetPosts as GetPosts,
    GetRecording as GetRecording,
    GetRtcConfig as GetRtcConfig,
    GetSpace as GetSpace,
    Handle as Handle,
    HandLowered as HandLowered,
    HandRaised as HandRaised,
    Hello as Hello,
    HostReminder as HostReminder,
    Inbox as Inbox,
    InviteLink as InviteLink,
    InviteSpeaker as InviteSpeaker,
    Joined as Joined,
    JoinSpace as JoinSpace,
    Lagging as Lagging,
    LeaveSpace as LeaveSpace,
    Limits as Limits,
    ListRecordings as ListRecordings,
    ListSpaces as ListSpaces,
    LiveSpace as LiveSpace,
    LoggedIn as LoggedIn,
    LogIn as LogIn,
    LogOut as LogOut,
    LowerHand as LowerHand,
    MarkRead as MarkRead,
    MixFrame as MixFrame,
    Mute as Mute,
    MuteAll as MuteAll,
    MuteChanged as MuteChanged,
    Ok as Ok,
    Participant as Participant,
    ParticipantJoined as ParticipantJoined,
    ParticipantLeft as ParticipantLeft,
    ParticipantRemoved as ParticipantRemoved,
    Person as Person,
    PinPost as PinPost,
    Post as Post,
    PostId as PostId,
    PostPinned as PostPinned,
    Posts as Posts,
    PostShared as PostShared,
    PostUnpinned as PostUnpinned,
    RaiseHand as RaiseHand,
    React as React,
    Reacted as Reacted,
    RecordingChanged as RecordingChanged,
    RecordingConsentChanged as RecordingConsentChanged,
    RecordingDetail as RecordingDetail,
    RecordingPart as RecordingPart,
    Recordings as Recordings,
    RecordingSummary as RecordingSummary,
    Ref as Ref,
    Register as Register,
    Registered as Registered,
    Remove as Remove,
    Request as Request,
    Resume as Resume,
    Resumed as Resumed,
    Role as Role,
    RoleChanged as RoleChanged,
    RtcAnswer as RtcAnswer,
    RtcClose as RtcClose,
    RtcClosed as RtcClosed,
    RtcConfig as RtcConfig,
    RtcIceServer as RtcIceServer,
    RtcOffer as RtcOffer,
    Scheduled as Scheduled,
    ScheduledId as ScheduledId,
    ScheduledSpace as ScheduledSpace,
    ScheduleRequest as ScheduleRequest,
    ScheduleSpace as ScheduleSpace,
    SearchSpaces as SearchSpaces,
    Secret as Secret,
    SendAudio as SendAudio,
    SendDm as SendDm,
    ServerUnion as ServerUnion,
    SetProtected as SetProtected,
    SetRecording as SetRecording,
    SetRecordingConsent as SetRecordingConsent,
    SetRecordingVisibility as SetRecordingVisibility,
    SetReminder as SetReminder,
    SetRole as SetRole,
    SetSpeakerPolicy as SetSpeakerPolicy,
    SharePost as SharePost,
    SpaceCancelled as SpaceCancelled,
    SpaceEnded as SpaceEnded,
    SpaceEvent as SpaceEvent,
    SpaceId as SpaceId,
    SpaceRecord as SpaceRecord,
    Spaces as Spaces,
    SpaceSnapshot as SpaceSnapshot,
    SpaceStarting as SpaceStarting,
    SpaceStatus as SpaceStatus,
    SpeakerInvited as SpeakerInvited,
    SpeakerPolicy as SpeakerPolicy,
    SpeakerPolicyChanged as SpeakerPolicyChanged,
    Speaking as Speaking,
    StartScheduled as StartScheduled,
    Token as Token,
    Topics as Topics,
    Unblock as Unblock,
    Unfollow as Unfollow,
    Unmute as Unmute,
    UnpinPost as UnpinPost,
    UserId as UserId,
    UserName as UserName,
    Welcome as Welcome,
    decode_server as decode_server,
    encode as encode,
)

from gateway.protocol_base import DECODE_FAILURES, check_structure, ref_of as ref_of, refusal_of
from gateway.protocol_spaces import JoinedSnapshots as JoinedSnapshots, snapshot_of as snapshot_of

CLIENT_DECODER = msgspec.msgpack.Decoder(ClientUnion)


class _Sent:
    """A handler's reply that the space already queued (`joined`, made inside the join)."""


SENT = _Sent()
Reply = msgspec.Struct | _Sent | None
"""What a request handler returns: its reply, `SENT`, or None for a plain `ok`."""


def decode_client(data: bytes) -> ClientMessage:
    """The one way a client's bytes become a message. Anything else raises `BadMessage` or `UnknownType`,
    carrying the request's `ref` when one can be read; no other exception escapes, whatever the bytes."""
    check_structure(data)
    try:
        message: ClientMessage = CLIENT_DECODER.decode(data)
    except DECODE_FAILURES as e:
        raise refusal_of(data, e, CLIENT_TYPES) from None
    return message
