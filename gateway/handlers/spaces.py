"""Requests about the caller's space: create, join, leave, end, roles, posts and moderation. The space
decides who may (its rules are in `actors/space/domain/`); accounts are looked up here only where a rule
needs a fact from the store (is the caller blocked by the host, does the host follow the caller)."""

from __future__ import annotations

import store
from actors.space import Role, SpaceRef, SpeakerPolicy, errors as space_errors
from gateway import identity, logs, protocol as p
from gateway.context import Caller
from gateway.errors import ProtectedAccount

Reply = p.Reply


async def create_space(c: Caller, m: p.CreateSpace) -> Reply:
    await require_may_host(c)
    host = me(c)
    with logs.detached():  # the space's tasks must not log as this connection
        space = await c.services.directory.create(
            host, m.title, m.speakers, description=m.description, topics=m.topics, host_name=c.name, record=m.record
        )
    await c.enter(m.ref, space)
    return p.SENT


async def join_space(c: Caller, m: p.JoinSpace) -> Reply:
    require_no_space(c)
    space = c.services.directory.get(m.space_id)
    await check_not_blocked(c, space)
    await c.enter(m.ref, space)
    return p.SENT


async def resume(c: Caller, m: p.Resume) -> Reply:
    """Take back this user's place in a space after a dropped connection (the space decides whether it
    was kept); the rules of a join still hold: no one removed (the space's rule) or blocked by the host.
    Checks of the account itself belong here too (a suspended account: issue 12's operators' part)."""
    require_no_space(c)
    space = c.services.directory.get(m.space_id)
    await check_not_blocked(c, space)
    await c.enter(m.ref, space, resume_after=m.last_seq)
    return p.SENT


async def leave_space(c: Caller, m: p.LeaveSpace) -> Reply:
    await require_space(c).leave(me(c))
    c.left_space()
    return None


async def end_space(c: Caller, m: p.EndSpace) -> Reply:
    await require_space(c).end(me(c))
    return None


async def set_role(c: Caller, m: p.SetRole) -> Reply:
    """Only accounts speak: whether the target may come on the mic is told to the space (its rule)."""
    may_speak = identity.account_id_of(m.user) is not None
    if m.role is not Role.LISTENER:
        require_not_suspended(c, m.user)
    await require_space(c).set_role(me(c), m.user, m.role, may_speak=may_speak)
    return None


async def share_post(c: Caller, m: p.SharePost) -> Reply:
    await require_space(c).share_post(me(c), m.text)
    return None


async def raise_hand(c: Caller, m: p.RaiseHand) -> Reply:
    space = require_space(c)
    await space.raise_hand(me(c), await followed_by_host(c, space))
    return None


async def lower_hand(c: Caller, m: p.LowerHand) -> Reply:
    await require_space(c).lower_hand(me(c))
    return None


async def approve_request(c: Caller, m: p.ApproveRequest) -> Reply:
    require_not_suspended(c, m.user)
    await require_space(c).approve_request(me(c), m.user)
    return None


async def deny_request(c: Caller, m: p.DenyRequest) -> Reply:
    await require_space(c).deny_request(me(c), m.user)
    return None


async def mute(c: Caller, m: p.Mute) -> Reply:
    await require_space(c).mute(me(c), m.user)
    return None


async def unmute(c: Caller, m: p.Unmute) -> Reply:
    await require_space(c).unmute(me(c))
    return None


async def mute_all(c: Caller, m: p.MuteAll) -> Reply:
    await require_space(c).mute_all(me(c))
    return None


async def remove(c: Caller, m: p.Remove) -> Reply:
    await require_space(c).remove(me(c), m.user)
    return None


async def pin_post(c: Caller, m: p.PinPost) -> Reply:
    await require_space(c).pin_post(me(c), m.post_id)
    return None


async def unpin_post(c: Caller, m: p.UnpinPost) -> Reply:
    await require_space(c).unpin_post(me(c), m.post_id)
    return None


async def react(c: Caller, m: p.React) -> Reply:
    await require_space(c).react(me(c), m.emoji)
    return None


async def set_speaker_policy(c: Caller, m: p.SetSpeakerPolicy) -> Reply:
    await require_space(c).set_speaker_policy(me(c), m.policy)
    return None


async def accept_invite(c: Caller, m: p.AcceptInvite) -> Reply:
    await require_space(c).accept_invite(me(c))
    return None


async def set_recording(c: Caller, m: p.SetRecording) -> Reply:
    await require_space(c).set_recording(me(c), m.on)
    return None


async def recording_consent(c: Caller, m: p.SetRecordingConsent) -> Reply:
    await require_space(c).set_consent(me(c), m.consent)
    return None


# -- what the handlers share ------------------------------------------------------------------------


def me(c: Caller) -> str:
    assert c.user is not None  # the table lets no request but `hello` through before it
    return c.user


def require_space(c: Caller) -> SpaceRef:
    if c.space is None:
        raise space_errors.NotInSpace("join a space first")
    return c.space


def require_not_suspended(c: Caller, user: str) -> None:
    """No promotion of a suspended account (it is being removed from its space, or was)."""
    if user in c.services.suspended:
        raise store.AccountSuspended()


def require_no_space(c: Caller) -> None:
    if c.space is not None:
        raise space_errors.AlreadyInSpace("leave the current space first")


async def require_may_host(c: Caller) -> None:
    """A protected account hosts no space (the flag is read as it is now, not as it was at sign-in). One
    live space at a time is the directory's rule (`HostLimit`, checked and reserved as the space is made)."""
    require_no_space(c)
    account = c.account
    assert account is not None  # the table lets only accounts host
    if (await store.get_account_by_id(c.services.db, account.id)).protected:
        raise ProtectedAccount("a protected account cannot host a space: turn `protected` off first")


async def check_not_blocked(c: Caller, space: SpaceRef) -> None:
    """Someone the host blocks cannot join any of the host's spaces (accounts block accounts; a guest's
    join costs no look-up)."""
    if c.account is None:
        return
    host = identity.account_id_of((await space.snapshot()).host)
    if host is not None and host != c.account.id and await store.is_blocked(c.services.db, by=host, user=c.account.id):
        raise store.Blocked()


async def followed_by_host(c: Caller, space: SpaceRef) -> bool:
    """Whether the host's account follows the caller's: the answer a raised hand needs under the
    `following` policy, looked up only then."""
    if c.account is None:
        return False
    state = await space.snapshot()
    if state.speaker_policy is not SpeakerPolicy.FOLLOWING:
        return False
    host = identity.account_id_of(state.host)
    return host is not None and await store.follows(c.services.db, host, c.account.id)
