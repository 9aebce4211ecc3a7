"""Who the caller is, and the account requests: `hello` (a token, a guest token, or a new guest), register,
log in and out, the protected flag, follows, blocks, direct messages, invitations to speak. Each is a call
into `store/`; password hashing is admitted through the limits' queue, and failed log-ins back off."""

from __future__ import annotations

import store
from actors.space import Role, errors as space_errors
from gateway import identity, protocol as p
from gateway.context import Caller
from gateway.errors import AlreadyAuthenticated, BadMessage, GuestTokenInvalid, UnsupportedProtocol
from gateway.handlers.spaces import require_not_suspended, require_space
from gateway.handlers.text import checked_text
from gateway.limits import client_key

Reply = p.Reply

GUEST_NAME = "guest"
"""The name of a guest that gave none: one coming back with only its `guest_token`, or one just logged out."""


async def hello(c: Caller, m: p.Hello) -> Reply:
    if c.user is not None:
        raise AlreadyAuthenticated("this connection already said hello")
    if m.protocol != p.PROTOCOL_VERSION:
        raise UnsupportedProtocol(f"this server speaks protocol {p.PROTOCOL_VERSION}, not {m.protocol}")
    guests = c.services.guests
    if m.token is not None:
        found = await store.verify_token(c.services.db, m.token)
        account = found.account
        c.signed_in(identity.account_user(account), account.handle, account, m.token, welcome=True)
        return p.SENT
    if m.name is None:
        if m.guest_token is None:
            raise BadMessage("hello needs a `token` (an account), a `guest_token` or a `name` (a new guest)")
        _guest_back(c, m.guest_token, GUEST_NAME)
        return p.SENT
    # Held before the store is asked, so that a `register` of it meanwhile sees it (`GuestNames`); the
    # session holds it for itself once signed in.
    names = c.services.guest_names
    asking = names.hold(m.name, HELLO_HOLDER)
    try:
        if await c.services.handles.taken(m.name) or names.registered_since(m.name, asking.at):
            raise store.HandleTaken(m.name)  # never shown under an account's handle, in any casing
        if m.guest_token is not None:
            _guest_back(c, m.guest_token, m.name)
        else:
            user, token = guests.issue()
            c.signed_in(user, m.name, None, token, welcome=True)
    finally:
        asking.release()
    return p.SENT


HELLO_HOLDER = ""
"""Who holds a name in `GuestNames` while a guest's `hello` asks whether an account has it."""


def _guest_back(c: Caller, guest_token: str, name: str) -> None:
    user = c.services.guests.verify(guest_token)
    if user is None:
        raise GuestTokenInvalid("this guest token was not issued by this server")
    c.signed_in(user, name, None, guest_token, welcome=True)


async def register(c: Caller, m: p.Register) -> Reply:
    display_name = checked_text("display_name", m.display_name)  # before the limit: a typo spends nothing
    limits, client = c.services.limits, client_key(c.address)
    limits.take("register", client, "accounts registered from one address")
    guest_names = c.services.guest_names
    # Another guest goes by it: free moments after that guest is gone (`GuestNames`). A guest may take its
    # own name.
    if guest_names.held(m.handle, besides=c.user if c.account is None else None):
        raise store.HandleTaken(m.handle)
    try:
        with guest_names.registering(m.handle):
            async with _hashing(c):
                account = await store.register(c.services.db, m.handle, m.password, display_name)
    except store.BadArgument:  # a bad handle or password, refused before any read or hash: a typo too
        limits.give_back("register", client)
        raise
    return p.Registered(ref=m.ref, handle=account.handle, display_name=account.display_name)


async def log_in(c: Caller, m: p.LogIn) -> Reply:
    if c.space is not None:
        raise space_errors.AlreadyInSpace("leave the space before logging in")
    limits = c.services.limits
    limits.take("log_in", client_key(c.address), "log-ins from one address")
    async with _hashing(c):
        limits.logins.attempt(m.handle)  # a failure until it succeeds: see `LoginGuard`
        started = await store.log_in(c.services.db, m.handle, m.password)
    limits.logins.succeeded(m.handle)
    account = started.account
    c.signed_in(identity.account_user(account), account.handle, account, started.token)
    return p.LoggedIn(
        ref=m.ref,
        token=started.token,
        expires_at=started.expires_at,
        handle=account.handle,
        display_name=account.display_name,
        protected=account.protected,
        user=identity.account_user(account),
    )


async def log_out(c: Caller, m: p.LogOut) -> Reply:
    """The connection must be in no space: its place there is the account's, not the new guest's."""
    assert c.account is not None
    if c.space is not None:
        raise space_errors.AlreadyInSpace("leave the space before logging out")
    await store.log_out(c.services.db, c.token or "")
    user, token = c.services.guests.issue()
    c.signed_in(user, GUEST_NAME, None, token, welcome=True)  # a new guest: nothing of the account stays
    return None


async def set_protected(c: Caller, m: p.SetProtected) -> Reply:
    account = await store.set_protected(c.services.db, my_account(c).id, m.protected)
    c.signed_in(identity.account_user(account), account.handle, account, c.token)
    return None


async def follow(c: Caller, m: p.Follow) -> Reply:
    db = c.services.db
    await store.follow(db, my_account(c).id, (await store.get_account(db, m.handle)).id)
    return None


async def unfollow(c: Caller, m: p.Unfollow) -> Reply:
    db = c.services.db
    await store.unfollow(db, my_account(c).id, (await store.get_account(db, m.handle)).id)
    return None


async def block(c: Caller, m: p.Block) -> Reply:
    db = c.services.db
    await store.block(db, my_account(c).id, (await store.get_account(db, m.handle)).id)
    return None


async def unblock(c: Caller, m: p.Unblock) -> Reply:
    db = c.services.db
    await store.unblock(db, my_account(c).id, (await store.get_account(db, m.handle)).id)
    return None


async def send_dm(c: Caller, m: p.SendDm) -> Reply:
    db = c.services.db
    text = checked_text("text", m.text, lines=True)  # before any read: a refused text costs nothing more
    to = await store.get_account(db, m.to)
    message = await store.send_dm(db, my_account(c).id, to.id, text)
    c.services.notify(to.id, p.DmReceived(message=wire_message(message)))
    return None


async def get_inbox(c: Caller, m: p.GetInbox) -> Reply:
    messages = await store.inbox(c.services.db, my_account(c).id, after_id=m.after_id, limit=m.limit)
    return p.Inbox(ref=m.ref, messages=[wire_message(message) for message in messages])


async def mark_read(c: Caller, m: p.MarkRead) -> Reply:
    await store.mark_read(c.services.db, my_account(c).id, m.up_to_id)
    return None


async def invite_speaker(c: Caller, m: p.InviteSpeaker) -> Reply:
    """The host or a co-host invites an account to speak: recorded in the space (everyone there gets
    `speaker_invited`), then an invitation in its inbox, pushed if connected. The invitee joins the space
    and takes the mic with `accept_invite`.

    The space is asked first: this connection's role may be out of date (demoted, the space over), and
    only the space knows; an invitation it refuses must not reach the invitee's inbox. What would refuse
    the message (oneself, a block either way) is checked before that, so the space records no invitation
    that no message follows."""
    space = require_space(c)
    if c.role not in (Role.HOST, Role.COHOST):
        raise space_errors.NotAllowed("only the host or a co-host invites speakers")
    db = c.services.db
    me = my_account(c)
    to = await store.get_account(db, m.handle)
    require_not_suspended(c, identity.account_user(to))
    if to.id == me.id:
        raise store.BadArgument("handle", "cannot invite oneself")
    if await store.is_blocked(db, by=me.id, user=to.id) or await store.is_blocked(db, by=to.id, user=me.id):
        raise store.Blocked()
    await space.invite_speaker(identity.account_user(me), identity.account_user(to), to.handle)
    invite = store.Invite(space_id=space.space_id, role=Role.SPEAKER.value)
    message = await store.send_dm(db, me.id, to.id, "", invite=invite)
    c.services.notify(to.id, p.DmReceived(message=wire_message(message)))
    return None


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


def my_account(c: Caller) -> store.Account:
    assert c.account is not None  # the table lets only accounts through
    return c.account


class _hashing:
    """Admission to password hashing for one request (see `HashQueue`)."""

    def __init__(self, c: Caller) -> None:
        self._queue = c.services.limits.hashing

    async def __aenter__(self) -> None:
        self._queue.enter()

    async def __aexit__(self, *exc: object) -> None:
        self._queue.leave()
