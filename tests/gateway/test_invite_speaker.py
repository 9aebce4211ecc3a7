"""`invite_speaker` through its handler, over a real store: the space is asked first, so an invitation the
space refuses (the caller no longer a moderator, the space over) never reaches the invitee's inbox; and one
no message could carry (to oneself, across a block) is refused before the space records it."""

from __future__ import annotations

from typing import cast

import msgspec
import pytest
import trio

import store
from actors.space import Role, SpaceRef, errors as space_errors
from gateway import identity, protocol as p
from gateway.handlers import accounts
from tests.gateway.fakes import FakeCaller, FakeServices
from tests.store.conftest import CEILING, CHEAP_HASHER, PASSWORD


class FakeSpace:
    """A space that answers `invite_speaker` with `refusal`, or records the invitation when there is none."""

    space_id = "sp-1"

    def __init__(self, refusal: space_errors.SpaceError | None) -> None:
        self.refusal = refusal
        self.invited: list[tuple[str, str, str]] = []

    async def invite_speaker(self, by: str, user: str, name: str = "") -> None:
        await trio.lowlevel.checkpoint()
        if self.refusal is not None:
            raise self.refusal
        self.invited.append((by, user, name))


class Outcome(msgspec.Struct):
    refused: str | None  # the code of the refusal, if any
    inbox: list[store.Message]  # the invitee's
    pushed: list[store.AccountId]  # to whom a notification went
    recorded: list[tuple[str, str, str]]  # invitations the space recorded
    invitee: str


async def invite(
    refusal: space_errors.SpaceError | None, *, handle: str = "nia", blocker: str | None = None
) -> Outcome:
    """Co-host `max` (as its connection last saw itself) invites `handle` into a space that answers with
    `refusal`; with `blocker`, that one of `max` and `nia` blocks the other first."""
    async with store.open_database(":memory:", hasher=CHEAP_HASHER) as db:
        cohost = await store.register(db, "max", PASSWORD, "Max")
        nia = await store.register(db, "nia", PASSWORD, "Nia")
        if blocker is not None:
            by, user = (cohost, nia) if blocker == "max" else (nia, cohost)
            await store.block(db, by.id, user.id)
        services, space = FakeServices(db), FakeSpace(refusal)
        caller = FakeCaller(services, account=cohost, space=cast(SpaceRef, space), role=Role.COHOST)
        refused = None
        try:
            await accounts.invite_speaker(caller.as_caller(), p.InviteSpeaker(ref=1, handle=handle))
        except (space_errors.SpaceError, store.StoreError) as e:
            refused = e.code
        inbox = await store.inbox(db, nia.id)
    pushed = [account for account, _ in services.notified]
    return Outcome(refused, inbox, pushed, space.invited, identity.account_user(nia))


async def test_an_invitation_the_space_records_reaches_the_inbox_and_is_pushed() -> None:
    """The control: the same path with a space that accepts delivers the invitation both ways."""
    with trio.fail_after(CEILING):
        outcome = await invite(None)
    assert outcome.refused is None
    assert outcome.recorded == [("u1", outcome.invitee, "nia")]
    assert [m.kind for m in outcome.inbox] == ["invite"] and len(outcome.pushed) == 1


@pytest.mark.parametrize(
    "refusal",
    [space_errors.NotAllowed("no longer a co-host"), space_errors.SpaceOver("the space has ended")],
    ids=["caller_no_longer_a_moderator", "space_over"],
)
async def test_an_invitation_the_space_refuses_reaches_no_inbox(refusal: space_errors.SpaceError) -> None:
    with trio.fail_after(CEILING):
        outcome = await invite(refusal)
    assert outcome.refused == refusal.code
    assert outcome.inbox == [] and outcome.pushed == [] and outcome.recorded == []


@pytest.mark.parametrize(
    ("handle", "blocker", "code"),
    [("max", None, "bad_argument"), ("nia", "max", "blocked"), ("nia", "nia", "blocked")],
    ids=["oneself", "the_inviter_blocks", "the_invitee_blocks"],
)
async def test_an_invitation_no_message_could_carry_is_refused_before_the_space_records_it(
    handle: str, blocker: str | None, code: str
) -> None:
    with trio.fail_after(CEILING):
        outcome = await invite(None, handle=handle, blocker=blocker)
    assert outcome.refused == code
    assert outcome.inbox == [] and outcome.pushed == [] and outcome.recorded == []
