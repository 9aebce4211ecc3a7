"""What can be asked of a space: imperative commands, handled by `SpaceActor`.

`Join` carries the member's `MemberLink`: the one way the space reaches that participant's connection.
Every command is plain data (a frozen msgspec Struct); `by` is always who asks.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from actors.space.events import SpaceEvent
from actors.space.values import Post, Role, SpaceState, SpeakerPolicy


class MemberLink(Protocol):
    """A participant's connection, as the space sees it; implemented by the gateway.

    `conn` is the connection's id in the server's fan-out: the space queues events and audio for it there.
    No method waits: a space that sends to many never waits on one slow peer (STYLE R14).
    """

    @property
    def conn(self) -> int: ...

    def joined(self, state: SpaceState) -> None:
        """Called once, inside the join and before any later event: queue the snapshot for the client."""
        ...

    def observe(self, event: SpaceEvent) -> None:
        """An event about this member (its role changed, it left) or the end of the space."""
        ...

    def resumed(self, state: SpaceState, missed: list[bytes] | None) -> None:
        """Called once, inside a `Resume` of a kept place and before any later event: queue the reply, with
        the events after the client's last one as they were sent (`missed`), or a snapshot when the space no
        longer holds them all (None)."""
        ...


class Join(msgspec.Struct, frozen=True):
    """`user` is a server-issued id (an account's or a guest's); `name` is the label others see."""

    user: str
    link: MemberLink
    name: str = ""


class Resume(msgspec.Struct, frozen=True):
    """Take back `user`'s place on a new connection (`link`) after its last connection dropped, with the
    events after `last_seq`; a place already let go is joined anew (`MemberLink.joined`)."""

    user: str
    link: MemberLink
    last_seq: int
    name: str = ""


class Leave(msgspec.Struct, frozen=True):
    """`link`, when given, makes the leave conditional: only if that link is still the user's connection
    (a dropped connection must not take out the newer one that replaced it)."""

    user: str
    reason: str = "left"
    link: MemberLink | None = None


class SetRole(msgspec.Struct, frozen=True):
    """`may_speak`: whether `user` may come on the mic at all (only accounts speak; the gateway knows who
    is an account, so the rule stays pure)."""

    by: str
    user: str
    role: Role
    may_speak: bool = True


class SharePost(msgspec.Struct, frozen=True):
    user: str
    text: str


class EndSpace(msgspec.Struct, frozen=True):
    by: str


class PushAudio(msgspec.Struct, frozen=True):
    """One Opus packet from a speaker: `seq` is the sender's packet counter, `captured_at` µs of unix time,
    `level` its loudness as the sender measured it (RFC 6464's −dBov), if it did."""

    user: str
    seq: int
    captured_at: int
    opus: bytes
    level: int | None = None


class AnnounceAudience(msgspec.Struct, frozen=True):
    """The space tells itself, once a second, to announce the listeners who came and went."""


class GetSnapshot(msgspec.Struct, frozen=True):
    pass


class RaiseHand(msgspec.Struct, frozen=True):
    """A listener asks to speak. `followed_by_host`: the host's account follows the user's (the gateway
    looks it up, so the rules stay pure; a guest is never followed)."""

    user: str
    followed_by_host: bool = False


class LowerHand(msgspec.Struct, frozen=True):
    user: str


class ApproveRequest(msgspec.Struct, frozen=True):
    """The host or a co-host brings a listener whose hand is raised on the mic."""

    by: str
    user: str


class DenyRequest(msgspec.Struct, frozen=True):
    by: str
    user: str


class MuteSpeaker(msgspec.Struct, frozen=True):
    by: str
    user: str


class UnmuteSpeaker(msgspec.Struct, frozen=True):
    """Only the muted person unmutes themselves."""

    user: str


class MuteAll(msgspec.Struct, frozen=True):
    by: str


class RemoveParticipant(msgspec.Struct, frozen=True):
    by: str
    user: str


class PinPost(msgspec.Struct, frozen=True):
    """`older`: the post itself when the space no longer holds it in memory (older than its recent posts);
    the actor reads it from the store, so the rules stay pure."""

    by: str
    post_id: int
    older: Post | None = None


class UnpinPost(msgspec.Struct, frozen=True):
    by: str
    post_id: int


class React(msgspec.Struct, frozen=True):
    user: str
    emoji: str


class SetSpeakerPolicy(msgspec.Struct, frozen=True):
    """The host chooses who may raise a hand."""

    by: str
    policy: SpeakerPolicy


class InviteSpeaker(msgspec.Struct, frozen=True):
    """The host or a co-host invites `user` (in the space or not yet) to speak; `name` is their label."""

    by: str
    user: str
    name: str = ""


class AcceptInvite(msgspec.Struct, frozen=True):
    """An invited listener takes the mic as a speaker."""

    user: str


class SetRecording(msgspec.Struct, frozen=True):
    """The host or a co-host turns recording on or off; `recording_id` names the new recording (the space's
    `SpaceRef` makes one: `r-<hex>`, so the rules stay pure)."""

    by: str
    on: bool
    recording_id: str = ""


class SetConsent(msgspec.Struct, frozen=True):
    """`user` consents to the current recording (`consent`), or declines or withdraws."""

    user: str
    consent: bool


class CheckAbandoned(msgspec.Struct, frozen=True):
    """The directory's sweeper asks a space without host or co-host whether it has been so for `grace_ms`
    (then it ends with reason `abandoned`)."""

    grace_ms: int


Moderation = (
    RaiseHand
    | LowerHand
    | ApproveRequest
    | DenyRequest
    | MuteSpeaker
    | UnmuteSpeaker
    | MuteAll
    | RemoveParticipant
    | PinPost
    | UnpinPost
    | React
    | SetSpeakerPolicy
    | InviteSpeaker
    | AcceptInvite
    | SetRecording
    | SetConsent
)
"""The commands about roles, requests, speaker policy and invitations, microphones, pins and reactions,
recording and consent (all answered by `domain.apply`)."""

Rule = Join | Leave | SetRole | SharePost | EndSpace | Moderation | CheckAbandoned
"""Every command the pure rules answer."""

Command = Rule | Resume | PushAudio | GetSnapshot
