"""The space layer's errors: each class has a stable `code`; `gateway/errors.py` maps them to the wire.

A SpaceError is a refusal, not a crash: the space actor answers it to the asker and keeps its state.
"""

from __future__ import annotations


class SpaceError(Exception):
    """Base of every refusal by a space. `code` never changes once published."""

    code = "space_error"


class NoSuchSpace(SpaceError):
    code = "no_such_space"


class SpaceOver(SpaceError):
    """The space has ended: nothing more can happen in it."""

    code = "space_ended"


class NotAllowed(SpaceError):
    """The caller's role does not allow this operation."""

    code = "not_allowed"


class NotInSpace(SpaceError):
    code = "not_in_space"


class AlreadyInSpace(SpaceError):
    code = "already_in_space"


class NoSuchParticipant(SpaceError):
    code = "no_such_participant"


class SpeakerLimit(SpaceError):
    """The mic is full: 13 people (the host included) already speak."""

    code = "speaker_limit"


class CohostLimit(SpaceError):
    """Two co-hosts already help the host."""

    code = "cohost_limit"


class NotASpeaker(SpaceError):
    """Audio from someone who is not on the mic, or a mute aimed at a listener."""

    code = "not_a_speaker"


class Muted(SpaceError):
    """Audio from someone on the mic who is muted (by themselves, the host or a co-host)."""

    code = "muted"


class Removed(SpaceError):
    """The host or a co-host removed this user from the space: they cannot join it again."""

    code = "removed"


class NoSuchPost(SpaceError):
    code = "no_such_post"


class NoSuchRequest(SpaceError):
    """An approval or denial for someone whose hand is not raised."""

    code = "no_such_request"


class NotEligible(SpaceError):
    """A raised hand the space's speaker policy does not allow (not followed by the host, not invited)."""

    code = "not_eligible"


class NotInvited(SpaceError):
    """`accept_invite` from a listener nobody invited to speak (or whose invitation was used)."""

    code = "not_invited"


class BadArgument(SpaceError):
    """A value out of its documented range (an empty title, a post too long, an unknown role)."""

    code = "bad_argument"


class SpaceUnavailable(SpaceError):
    """The space's actor failed beyond its restart budget, or did not answer in time."""

    code = "space_unavailable"


class ScheduledSpaceOver(SpaceError):
    """A scheduled space was cancelled or has started: it cannot start (again)."""

    code = "scheduled_space_over"


class HostLimit(SpaceError):
    """The host already hosts a live space: one at a time."""

    code = "limit_reached"


class NotResumable(SpaceError):
    """`resume` of a space where this user holds no place and had none let go lately: join it instead."""

    code = "not_resumable"


class NotRecording(SpaceError):
    """`recording_consent` while the space does not record."""

    code = "not_recording"


class RecordingUnavailable(SpaceError):
    """The space cannot record now: its recording file cannot be made (the data folder, the disk), or the
    server runs without recording (no data folder; the `python` transport's tick)."""

    code = "recording_unavailable"
