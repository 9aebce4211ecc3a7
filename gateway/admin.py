"""What the admin API does (gateway/http/admin.py serves it): spaces, their participants, suspensions, and
webhook receivers (gateway/webhooks/_receivers.py).

Every action on a space goes through the space actor and its rules, in the host's name: an admin removal is
the host's removal (the removed user cannot rejoin that space), an admin mute the host's mute, an admin end
the host's end, whether the host is in the space or not (`require_moderator_or_host`, in
actors/space/domain/authority.py). A space the admin API creates is hosted by the account it names, which must
connect and join it to be there: until then nobody is in it (no participant, no one on the mic), and the space
counts as unmoderated and ends after `spaces.abandon_after`.

Suspension (`suspend`): in this order, each step before the next, and nothing left to a timer:
1. the store marks the account suspended and revokes its sessions (one transaction; across restarts);
2. the gateway's set of suspended users takes it: from now every request of a connection already signed in
   as it is refused with `account_suspended`, and any promotion of it (`set_role` above listener,
   `approve_request`, `invite_speaker`) too;
3. every live space it hosts ends; every other live space it is in removes it (in the host's name);
4. its connection is closed with 4005 (docs/protocol.md).
Its `hello` with a token and its `log_in` are refused by the store (`account_suspended`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import store
from actors.space import SpaceState, SpeakerPolicy, errors as space_errors
from gateway import identity, logs
from gateway.errors import CloseCode, ProtectedAccount
from gateway.webhooks import OutboxWrite, Receivers, Sender, account_event

if TYPE_CHECKING:
    from gateway.server import Gateway

log = logs.get_logger("gateway.admin")

SUSPENDED_REASON = "this account is suspended"


class Admin:
    """The admin API's actions on one gateway."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    async def _write_suspension(self, handle: str, *, suspend: bool) -> tuple[store.Account, bool]:
        """The store's change, with its webhook event (`account.suspended` or `.restored`) in its transaction."""
        db, outbox = self._gateway.db, self._gateway.outbox
        found = await store.get_account(db, handle)
        also: OutboxWrite | None = None
        if outbox is not None and outbox.enabled:
            kind = "account.suspended" if suspend else "account.restored"
            also = outbox.take("", (account_event(kind, identity.account_user(found), found.handle, db.now_ms()),))
        change = store.suspend_account if suspend else store.restore_account
        result = await change(db, found.id, also=also)
        if also is not None and outbox is not None:
            outbox.notify()
        return result

    async def events(self, after: int, limit: int) -> list[store.WebhookEvent]:
        return await store.webhook_events_after(self._gateway.db, after, limit)

    def _receivers(self) -> Receivers:
        receivers = self._gateway.receivers
        assert receivers is not None, "the server runs with its receivers"
        return receivers

    def webhooks(self) -> list[tuple[store.WebhookReceiver | None, Sender]]:
        return self._receivers().list()

    async def add_webhook(self, url: str) -> tuple[store.WebhookReceiver, int]:
        """Register a receiver (with its own new secret); return it and the event id it starts after."""
        receiver, after = await self._receivers().add(url)
        log.info("admin registered a webhook receiver", receiver=receiver.id, after=after)  # (a URL may hold a token)
        return receiver, after

    async def remove_webhook(self, receiver_id: int) -> bool:
        gone = await self._receivers().remove(receiver_id)
        if gone:
            log.info("admin removed a webhook receiver", receiver=receiver_id)
        return gone

    async def load_suspended(self) -> None:
        """Read the suspended accounts from the store (at start: suspensions hold across restarts)."""
        found = await store.suspended_accounts(self._gateway.db)
        self._gateway.services.suspended.update(identity.user_of(account) for account in found)

    async def spaces(self) -> list[SpaceState]:
        directory = self._gateway.directory
        states = []
        for space_id in directory.live_ids():
            try:
                states.append(await directory.get(space_id).snapshot())
            except space_errors.SpaceError:
                continue  # ended meanwhile
        return states

    async def space(self, space_id: str) -> SpaceState:
        return await self._gateway.directory.get(space_id).snapshot()

    async def create_space(
        self, host_handle: str, title: str, speakers: SpeakerPolicy, description: str, topics: list[str]
    ) -> SpaceState:
        account = await store.get_account(self._gateway.db, host_handle)
        host = identity.account_user(account)
        if host in self._gateway.services.suspended:
            raise store.AccountSuspended()
        if account.protected:
            raise ProtectedAccount("a protected account cannot host a space: turn `protected` off first")
        with logs.detached():
            space = await self._gateway.directory.create(
                host,
                title,
                speakers,
                description=description,
                topics=topics,
                host_name=account.handle,
                host_present=False,
            )
        log.info("admin created a space", space=space.space_id, host=host)
        return await space.snapshot()

    async def end_space(self, space_id: str) -> None:
        space = self._gateway.directory.get(space_id)
        await space.end((await space.snapshot()).host)
        log.info("admin ended a space", space=space_id)

    async def remove(self, space_id: str, user: str) -> None:
        space = self._gateway.directory.get(space_id)
        await space.remove((await space.snapshot()).host, user)
        log.info("admin removed a participant", space=space_id, user=user)

    async def mute(self, space_id: str, user: str) -> None:
        space = self._gateway.directory.get(space_id)
        await space.mute((await space.snapshot()).host, user)

    async def suspend(self, handle: str) -> tuple[store.Account, bool]:
        """Suspend the account everywhere at once (see the module's doc); return it and whether it changed."""
        gateway = self._gateway
        account, changed = await self._write_suspension(handle, suspend=True)
        user = identity.account_user(account)
        gateway.services.suspended.add(user)
        for state in await self.spaces():
            if user not in state.roles:
                continue
            space = gateway.directory.get(state.space_id)
            try:
                if state.host == user:
                    await space.end(user)
                else:
                    await space.remove(state.host, user)
            except space_errors.SpaceError:
                pass  # it left, or the space ended, meanwhile
        session = gateway.sessions.get(user)
        if session is not None:
            session.close(CloseCode.ACCOUNT_SUSPENDED, SUSPENDED_REASON)
        log.info("account suspended", user=user, changed=changed)
        return account, changed

    async def restore(self, handle: str) -> tuple[store.Account, bool]:
        account, changed = await self._write_suspension(handle, suspend=False)
        self._gateway.services.suspended.discard(identity.account_user(account))
        log.info("account restored", user=identity.account_user(account), changed=changed)
        return account, changed
