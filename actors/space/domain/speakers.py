"""Who may speak: the host's speaker policy (who may raise a hand) and invitations to speak."""

from __future__ import annotations

from actors.space import errors
from actors.space.domain.authority import Result, member_role, replace, require_moderator
from actors.space.domain.roles import change_role
from actors.space.events import SpeakerInvited, SpeakerPolicyChanged
from actors.space.values import MAX_SPEAKERS, Role, SpaceState, SpeakerPolicy


def set_speaker_policy(state: SpaceState, by: str, policy: SpeakerPolicy, now_ms: int) -> Result:
    """The host alone chooses; hands already raised stay up (the host or a co-host still answers them)."""
    if member_role(state, by) is not Role.HOST:
        raise errors.NotAllowed("only the host chooses who may speak")
    if policy is state.speaker_policy:
        return state, []
    seq = state.seq + 1
    new = replace(state, speaker_policy=policy, seq=seq)
    return new, [SpeakerPolicyChanged(state.space_id, seq, now_ms, policy, by)]


def invite_speaker(state: SpaceState, by: str, user: str, now_ms: int, name: str = "") -> Result:
    """The host or a co-host invites `user`, who need not be in the space yet (the invitation also goes to
    their inbox); an invitation already standing changes nothing."""
    require_moderator(state, by, "invite speakers")
    if user in state.invited:
        return state, []
    seq = state.seq + 1
    new = replace(state, invited=(*state.invited, user), seq=seq)
    return new, [SpeakerInvited(state.space_id, seq, now_ms, user, by, name or state.name_of(user))]


def accept_invite(state: SpaceState, user: str, now_ms: int) -> Result:
    """An invited listener comes on the mic at once, as a speaker; the invitation is used up."""
    if member_role(state, user) is not Role.LISTENER:
        raise errors.NotAllowed("only listeners accept an invitation to speak")
    if user not in state.invited:
        raise errors.NotInvited(f"{user} has no invitation to speak here")
    if state.on_mic_count >= MAX_SPEAKERS:
        raise errors.SpeakerLimit(f"at most {MAX_SPEAKERS} people speak at once")
    return change_role(state, user, Role.SPEAKER, user, now_ms, [])  # which uses the invitation up
