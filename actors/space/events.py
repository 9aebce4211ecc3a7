"""The space's events and audio frames: the wire's own Structs (`stoa_protocol`), which the space emits as
they are. Every event carries the space's `seq`, counting from 1 with no gaps (see `stoa_protocol._events`)."""

from __future__ import annotations

from stoa_protocol import (
    AudienceChanged as AudienceChanged,
    Audio as Audio,
    ConsentChange as ConsentChange,
    Event as Event,
    HandLowered as HandLowered,
    HandRaised as HandRaised,
    MixFrame as MixFrame,
    MuteChanged as MuteChanged,
    ParticipantJoined as ParticipantJoined,
    ParticipantLeft as ParticipantLeft,
    ParticipantRemoved as ParticipantRemoved,
    PostPinned as PostPinned,
    PostShared as PostShared,
    PostUnpinned as PostUnpinned,
    Reacted as Reacted,
    RecordingChanged as RecordingChanged,
    RecordingConsentChanged as RecordingConsentChanged,
    RoleChanged as RoleChanged,
    SpaceEnded as SpaceEnded,
    SpaceEvent as SpaceEvent,
    SpeakerInvited as SpeakerInvited,
    SpeakerPolicyChanged as SpeakerPolicyChanged,
)
