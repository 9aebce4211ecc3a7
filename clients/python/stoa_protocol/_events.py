"""What a space tells its participants: numbered events, the audio frames of the mix, and who is talking.

Every event carries the space's `seq`, counting from 1 at the space's creation with no gaps, so a client
holding events up to N needs exactly the events after N. These Structs are the wire format too: the
server-to-client union (`_messages.py`) includes them as they are (msgpack maps tagged by `type`); the
server's space actor (`actors/space/`) emits these very Structs.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from stoa_protocol._values import Person, Post, Role, SpeakerPolicy


class Event(msgspec.Struct, frozen=True, tag_field="type"):
    """Base of the space events; `at` is unix time in milliseconds when the space applied the change.

    `user` and `by` are server-issued ids; an event that may name someone a client has not seen yet
    carries their display `name` too."""

    space_id: str
    seq: int
    at: int


class ParticipantJoined(Event, tag="participant_joined", frozen=True):
    user: str
    role: Role
    name: str


class ParticipantLeft(Event, tag="participant_left", frozen=True):
    user: str
    reason: str  # "left" | "disconnected"


class RoleChanged(Event, tag="role_changed", frozen=True):
    user: str
    role: Role
    by: str
    name: str


class PostShared(Event, tag="post_shared", frozen=True):
    post: Post


class HandRaised(Event, tag="hand_raised", frozen=True):
    user: str
    name: str


class HandLowered(Event, tag="hand_lowered", frozen=True):
    user: str
    reason: str  # "lowered" | "approved" | "denied" | "left"
    by: str


class MuteChanged(Event, tag="mute_changed", frozen=True):
    user: str
    muted: bool
    by: str


class ParticipantRemoved(Event, tag="participant_removed", frozen=True):
    user: str
    by: str
    name: str


class PostPinned(Event, tag="post_pinned", frozen=True):
    post_id: int
    by: str


class PostUnpinned(Event, tag="post_unpinned", frozen=True):
    post_id: int
    by: str


class Reacted(Event, tag="reaction", frozen=True):
    """An emoji reaction: numbered like every event, but not kept in the space's state."""

    user: str
    emoji: str
    name: str


class SpeakerPolicyChanged(Event, tag="speaker_policy_changed", frozen=True):
    policy: SpeakerPolicy
    by: str


class SpeakerInvited(Event, tag="speaker_invited", frozen=True):
    """The host or a co-host (`by`) invited `user` to speak; `user` may not be in the space yet."""

    user: str
    by: str
    name: str


class SpaceEnded(Event, tag="space_ended", frozen=True):
    reason: str  # "host_ended" | "failed" | "abandoned"


class RecordingChanged(Event, tag="recording_changed", frozen=True):
    """The host or a co-host (`by`) turned recording on (`recording_id`: the new recording's) or off
    (`recording_id`: the recording just finished). The end of a space finishes its recording without it."""

    on: bool
    recording_id: str | None
    by: str


ConsentChange = Literal["given", "declined", "withdrawn"]
"""What a `recording_consent` event says: `"withdrawn"` is a decline after consent was given."""


class RecordingConsentChanged(Event, tag="recording_consent", frozen=True):
    """The consent of `user`, someone on the mic, to the current recording: given, declined or withdrawn;
    or stated before and in force now that they came on the mic."""

    user: str
    consent: ConsentChange


class AudienceChanged(Event, tag="audience_changed", frozen=True):
    """Listeners who came and went since the last one (at most once a second). The counts are exact; the
    name lists hold at most 20 each, the earliest first."""

    listener_count: int
    arrived: list[Person]
    departed: list[Person]
    arrived_count: int
    departed_count: int


SpaceEvent = (
    ParticipantJoined
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
    | RecordingChanged
    | RecordingConsentChanged
)


class MixFrame(msgspec.Struct, frozen=True):
    """One 20 ms Opus frame of the mix.

    `seq` is the space's tick number (consecutive while anyone talks, so a gap in `seq` while frames keep
    arriving means frames were lost); `captured_at` is the earliest capture time, in microseconds of unix
    time as the speakers' clients stamped it, of the speaker packets in this frame (0 when the frame
    holds only loss concealment).
    """

    seq: int
    captured_at: int
    opus: bytes


class Audio(msgspec.Struct, frozen=True, tag_field="type", tag="audio"):
    """Server to client: one or more consecutive frames of the mix this client should hear."""

    frames: list[MixFrame]


class Speaking(msgspec.Struct, frozen=True, tag_field="type", tag="speaking"):
    """Server to client: whose voices are in the mix of `space_id` from frame `frame_seq` on (the talkers,
    at most the space's mix limit of them, the loudest). Unnumbered, like `audio`: sent to everyone in the
    space when the set changes (at most one per 250 ms), and to a newcomer right after its `joined` or
    `resumed` while anyone talks; a client starts each space with nobody talking."""

    space_id: str
    user_ids: list[str]
    frame_seq: int
