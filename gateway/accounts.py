"""Accounts over the wire: `hello` with a token or as a guest, and the account requests (register, log in
and out, the protected flag, follows, blocks, direct messages, invitations), each a call into `store/`.

The session (`session.py`) dispatches here; the checks that spaces need (may this account host, is it
blocked by the host) live here too, so the session's space logic never touches the store itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

import store
from actors.space import Role, SpaceRef, SpeakerPolicy, errors as space_errors
from gateway import protocol as p
from gateway.errors import AccountRequired, BadMessage, ProtectedAccount

if TYPE_CHECKING:
    from gateway.server import Gateway
    from gateway.session import Session


async def hello_user(session: Session, m: p.Hello) -> str:
    """The user a `hello` signs in: the token's account (then kept on the session), or a guest name that
    is no account's handle, in any casing (a guest never passes for an account)."""
    db = session.gateway.db
    if m.token is not None:
        found = await store.verify_token(db, m.token)
        session.account, session.token = found.account, m.token
        return found.account.handle
    if m.user is None:
        raise BadMessage("hello needs a `user` (a guest) or a `token` (an account)")
    if await _account_named(db, m.user) is not None:
        raise store.HandleTaken(m.user)
    return m.user


async def handle(session: Session, m: p.AccountRequest) -> msgspec.Struct:
    """Carry out one account request and return its reply (`ok` or a typed reply)."""
    gateway = session.gateway
    db = gateway.db
    match m:
        case p.Register():
            other = gateway.guest_named(m.handle)
            if other is not None and other is not session:
                raise store.HandleTaken(m.handle)  # a guest connected under that name has it for now
            account = await store.register(db, m.handle, m.password, m.display_name)
            return p.Registered(ref=m.ref, handle=account.handle, display_name=account.display_name)
        case p.LogIn():
            if session.space is not None:
                raise space_errors.AlreadyInSpace("leave the space before logging in")
            started = await store.log_in(db, m.handle, m.password)
            session.become(started.account, started.token)
            account = started.account
            return p.LoggedIn(
                ref=m.ref,
                token=started.token,
                expires_at=started.expires_at,
                handle=account.handle,
                display_name=account.display_name,
                protected=account.protected,
            )
    me = _require_account(session)
    match m:
        case p.LogOut():
            assert session.token is not None
            await store.log_out(db, session.token)
            session.account, session.token = None, None  # a guest under the same name from now on
        case p.SetProtected():
            session.account = await store.set_protected(db, me.id, m.protected)
        case p.Follow():
            await store.follow(db, me.id, (await store.get_account(db, m.handle)).id)
        case p.Unfollow():
            await store.unfollow(db, me.id, (await store.get_account(db, m.handle)).id)
        case p.Block():
            await store.block(db, me.id, (await store.get_account(db, m.handle)).id)
        case p.Unblock():
            await store.unblock(db, me.id, (await store.get_account(db, m.handle)).id)
        case p.SendDm():
            to = await store.get_account(db, m.to)
            deliver(gateway, to, await store.send_dm(db, me.id, to.id, m.text))
        case p.GetInbox():
            messages = await store.inbox(db, me.id, after_id=m.after_id, limit=m.limit)
            return p.Inbox(ref=m.ref, messages=[wire_message(message) for message in messages])
        case p.MarkRead():
            await store.mark_read(db, me.id, m.up_to_id)
        case p.InviteSpeaker():
            await _invite_speaker(session, me, m.handle)
        case _:
            raise TypeError(f"no handler for {type(m).__name__}")
    return p.Ok(m.ref)


async def check_may_host(session: Session) -> None:
    """Protected accounts cannot host (the flag is read as it is now, not as it was at sign-in)."""
    if session.account is None:
        return
    account = await store.get_account_by_id(session.gateway.db, session.account.id)
    if account.protected:
        raise ProtectedAccount("a protected account cannot host a space: turn `protected` off first")


async def check_not_blocked(session: Session, space: SpaceRef) -> None:
    """A user whom the host blocks cannot join any of the host's spaces. Only accounts block and are
    blocked, so a guest's join costs no look-up."""
    if session.account is None:
        return
    host = (await space.snapshot()).host
    if host == session.user:
        return
    db = session.gateway.db
    host_account = await _account_named(db, host)
    if host_account is not None and await store.is_blocked(db, by=host_account.id, user=session.account.id):
        raise store.Blocked()


async def followed_by_host(session: Session, space: SpaceRef) -> bool:
    """Whether the space's host (an account) follows this connection's account: the answer a raised hand
    needs under the `following` policy, looked up only then. A guest is never followed."""
    if session.account is None:
        return False
    state = await space.snapshot()
    if state.speaker_policy is not SpeakerPolicy.FOLLOWING:
        return False
    db = session.gateway.db
    host_account = await _account_named(db, state.host)
    return host_account is not None and await store.follows(db, host_account.id, session.account.id)


def deliver(gateway: Gateway, recipient: store.Account, message: store.Message) -> None:
    """Push `dm_received` to the recipient if their account is connected (the inbox keeps it anyway)."""
    session = gateway.sessions.get(recipient.handle)
    if session is not None and session.account is not None and session.account.id == recipient.id:
        session.send(p.encode(p.DmReceived(message=wire_message(message))))


def wire_message(message: store.Message) -> p.DirectMessage:
    invite = None if message.invite is None else p.InviteLink(message.invite.space_id, message.invite.role)
    return p.DirectMessage(
        id=message.id,
        sender=message.sender_handle,
        kind=message.kind.value,
        text=message.text,
        invite=invite,
        at=message.created_at,
        read=message.read,
    )


async def _invite_speaker(session: Session, me: store.Account, handle: str) -> None:
    """The host or a co-host invites an account to speak: an invitation in its inbox, pushed if connected,
    and recorded in the space (everyone there gets `speaker_invited`). The invitee joins the space and
    takes the mic with `accept_invite`."""
    space = session.require_space()
    if session.role not in (Role.HOST, Role.COHOST):
        raise space_errors.NotAllowed("only the host or a co-host invites speakers")
    db = session.gateway.db
    to = await store.get_account(db, handle)
    invite = store.Invite(space_id=space.space_id, role=Role.SPEAKER.value)
    deliver(session.gateway, to, await store.send_dm(db, me.id, to.id, "", invite=invite))
    await space.invite_speaker(me.handle, to.handle)


def _require_account(session: Session) -> store.Account:
    if session.account is None:
        raise AccountRequired("sign in with an account (`log_in`, or `hello` with a token) first")
    return session.account


async def _account_named(db: store.Database, handle: str) -> store.Account | None:
    try:
        return await store.get_account(db, handle)
    except store.NoSuchAccount:
        return None
