"""The rules of a space as pure functions: `apply(state, command, now_ms) -> (new state, events)`.

Nothing here performs I/O or keeps state; the actor applies the result (stash, mixer, delivery). A refusal
raises a `SpaceError` and leaves the state as it was. One module per concept: membership, roles and
raised hands, speakers (speaker policy, invitations), moderation (mute, remove), posts (share, pin, react),
recording (on, off, consent); `authority` says who may act.
"""

from __future__ import annotations

from actors.space import errors
from actors.space.commands import (
    AcceptInvite,
    ApproveRequest,
    CheckAbandoned,
    DenyRequest,
    EndSpace,
    InviteSpeaker,
    Join,
    Leave,
    LowerHand,
    MuteAll,
    MuteSpeaker,
    PinPost,
    RaiseHand,
    React,
    RemoveParticipant,
    Rule,
    SetConsent,
    SetRecording,
    SetRole,
    SetSpeakerPolicy,
    SharePost,
    UnmuteSpeaker,
    UnpinPost,
)
from actors.space.domain import abandonment, membership, moderation, posts, recording, roles, schedule, speakers
from actors.space.domain.authority import Result
from actors.space.domain.membership import announce_audience, listener_churn, new_space, resumable
from actors.space.domain.moderation import audio_refusal
from actors.space.domain.posts import POSTS_BYTES, holds_post, latest_posts
from actors.space.events import SpaceEvent
from actors.space.values import SpaceState, SpaceStatus

__all__ = [
    "schedule",
    "POSTS_BYTES",
    "Result",
    "announce_audience",
    "apply",
    "apply_joins",
    "apply_leaves",
    "audio_refusal",
    "holds_post",
    "latest_posts",
    "listener_churn",
    "new_space",
    "resumable",
]


def apply(state: SpaceState, command: Rule, now_ms: int) -> Result:
    if state.status is SpaceStatus.ENDED:
        raise errors.SpaceOver(f"space {state.space_id} has ended")
    new, events = _apply(state, command, now_ms)
    new, events = recording.follow_membership(state, new, events, now_ms)
    return abandonment.track(state, new, now_ms), events


def apply_joins(
    state: SpaceState, joins: list[Join], now_ms: int
) -> tuple[SpaceState, list[SpaceEvent], list[errors.SpaceError | None]]:
    """`apply` of many joins at once (those waiting together in the space's mailbox), as if one after
    another: the new state, the events, and per join its refusal or None (`membership.join_all`)."""
    if state.status is SpaceStatus.ENDED:
        return state, [], [errors.SpaceOver(f"space {state.space_id} has ended") for _ in joins]
    new, events, refusals = membership.join_all(state, [(join.user, join.name) for join in joins], now_ms)
    return abandonment.track(state, new, now_ms), events, refusals


def apply_leaves(
    state: SpaceState, leaves: list[Leave], now_ms: int
) -> tuple[SpaceState, list[SpaceEvent], list[errors.SpaceError | None]]:
    """`apply` of many leaves at once (a crowd leaving together), as if one after another: the new state,
    the events, and per leave its refusal or None (`membership.leave_all`)."""
    if state.status is SpaceStatus.ENDED:
        return state, [], [errors.SpaceOver(f"space {state.space_id} has ended") for _ in leaves]
    new, events, refusals = membership.leave_all(state, [(leave.user, leave.reason) for leave in leaves], now_ms)
    new, events = recording.follow_membership(state, new, events, now_ms)
    return abandonment.track(state, new, now_ms), events, refusals


def _apply(state: SpaceState, command: Rule, now_ms: int) -> Result:
    match command:
        case Join():
            return membership.join(state, command.user, now_ms, command.name)
        case Leave():
            return membership.leave(state, command.user, command.reason, now_ms)
        case EndSpace():
            return membership.end(state, command.by, now_ms)
        case SetRole():
            return roles.set_role(state, command, now_ms)
        case RaiseHand():
            return roles.raise_hand(state, command.user, command.followed_by_host, now_ms)
        case LowerHand():
            return roles.lower_hand(state, command.user, now_ms)
        case ApproveRequest():
            return roles.approve_request(state, command.by, command.user, now_ms)
        case DenyRequest():
            return roles.deny_request(state, command.by, command.user, now_ms)
        case MuteSpeaker():
            return moderation.mute(state, command.by, command.user, now_ms)
        case UnmuteSpeaker():
            return moderation.unmute(state, command.user, now_ms)
        case MuteAll():
            return moderation.mute_all(state, command.by, now_ms)
        case RemoveParticipant():
            return moderation.remove(state, command.by, command.user, now_ms)
        case SharePost():
            return posts.share_post(state, command.user, command.text, now_ms)
        case PinPost():
            return posts.pin_post(state, command.by, command.post_id, now_ms, command.older)
        case UnpinPost():
            return posts.unpin_post(state, command.by, command.post_id, now_ms)
        case React():
            return posts.react(state, command.user, command.emoji, now_ms)
        case SetSpeakerPolicy():
            return speakers.set_speaker_policy(state, command.by, command.policy, now_ms)
        case InviteSpeaker():
            return speakers.invite_speaker(state, command.by, command.user, now_ms, command.name)
        case AcceptInvite():
            return speakers.accept_invite(state, command.user, now_ms)
        case SetRecording():
            return recording.set_recording(state, command.by, command.on, command.recording_id, now_ms)
        case SetConsent():
            return recording.set_consent(state, command.user, command.consent, now_ms)
        case CheckAbandoned():
            return abandonment.check_abandoned(state, command.grace_ms, now_ms)
