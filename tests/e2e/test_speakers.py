"""Who may speak, over the real server with accounts: the host's speaker policy (`following`, `invited`)
gates raised hands, and an invitation (a DM and a live `speaker_invited`) is accepted onto the mic."""

from __future__ import annotations

from typing import TypeVar

import pytest
import trio

from actors.space import HandRaised, Role, RoleChanged, SpeakerInvited, SpeakerPolicy, SpeakerPolicyChanged
from gateway.client import Client, RequestError, connect
from tests.conftest import ServerProcess
from tests.e2e.test_accounts import new_account

pytestmark = pytest.mark.serial  # speech at the 20 ms pace

E = TypeVar("E")


async def next_of(client: Client, kind: type[E]) -> E:
    """The next event of `kind`, skipping the others."""
    while True:
        event = await client.next_event()
        if isinstance(event, kind):
            return event


async def test_the_host_chooses_who_may_speak_and_an_invited_account_takes_the_mic(server: ServerProcess) -> None:
    with trio.fail_after(40):
        hana, finn, nora = [await new_account(server.url, name) for name in ("hana", "finn", "nora")]
        async with (
            connect(server.url, token=hana) as host,
            connect(server.url, token=finn) as followed,
            connect(server.url, token=nora) as other,
        ):
            await host.follow("finn")
            space_id = (await host.create_space("Who speaks")).space.space_id
            for listener in (followed, other):
                joined = await listener.join_space(space_id)
                assert joined.space.speaker_policy is SpeakerPolicy.EVERYONE

            await host.set_speaker_policy(SpeakerPolicy.FOLLOWING)
            changed = await next_of(other, SpeakerPolicyChanged)
            assert (changed.policy, changed.by) == (SpeakerPolicy.FOLLOWING, host.user)
            await followed.raise_hand()
            raised = await next_of(host, HandRaised)
            assert (raised.user, raised.name) == (followed.user, "finn")
            with pytest.raises(RequestError) as refused:
                await other.raise_hand()
            assert refused.value.code == "not_eligible"

            await host.set_speaker_policy(SpeakerPolicy.INVITED)
            with pytest.raises(RequestError) as not_invited:
                await other.accept_invite()
            assert not_invited.value.code == "not_invited"
            await host.invite_speaker("nora")
            invitation = await other.next_dm()
            assert invitation.kind == "invite" and invitation.invite is not None
            assert invitation.invite.space_id == space_id
            invited = await next_of(other, SpeakerInvited)
            assert (invited.user, invited.by, invited.name) == (other.user, host.user, "nora")

            await other.accept_invite()
            role = await next_of(host, RoleChanged)
            assert (role.user, role.role) == (other.user, Role.SPEAKER)
            assert (await next_of(other, RoleChanged)).user == other.user
            with pytest.raises(RequestError) as used:
                await other.accept_invite()
            assert used.value.code == "not_allowed"  # on the mic now; the invitation is used up
