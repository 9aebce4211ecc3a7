"""Accounts over the real server: register, log in, tokens, guests, follows, blocks, direct messages,
invitations, protected accounts, and all of it kept across a restart of the server process.

Passwords are hashed with the server's real argon2 parameters (about 0.1-0.3 s each), so every test
registers and logs in only the few accounts it needs.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import trio

import store
from actors.space import Role, RoleChanged
from gateway.client import Client, RequestError, connect
from tests.conftest import ServerProcess, start_server, stop_server
from tests.e2e.wire import register_when_free

PASSWORD = "correct horse battery staple"


async def new_account(url: str, handle: str) -> str:
    """Register `handle` from a guest connection, log in, and return the session token."""
    async with connect(url, f"guest_{handle}") as guest:
        registered = await guest.register(handle, PASSWORD, handle.capitalize())
        assert registered.handle == handle
        return (await guest.log_in(handle, PASSWORD)).token


async def next_role_change(client: Client, user: str) -> RoleChanged:
    while True:
        event = await client.next_event()
        if isinstance(event, RoleChanged) and event.user == user:
            return event


async def test_a_registered_account_logs_in_and_signs_in_later_connections_with_its_token(
    server: ServerProcess,
) -> None:
    with trio.fail_after(20):
        async with connect(server.url, "newcomer") as guest:
            assert guest.user.startswith("g-") and guest.handle is None and guest.guest_token
            registered = await guest.register("Ada", PASSWORD, "Ada Lovelace")
            assert (registered.handle, registered.display_name) == ("Ada", "Ada Lovelace")
            assert guest.user.startswith("g-")  # registering alone does not sign the connection in
            logged_in = await guest.log_in("ada", PASSWORD)  # any casing of the handle
            assert logged_in.handle == "Ada" and not logged_in.protected
            assert logged_in.expires_at > time.time() * 1000
            assert logged_in.user.startswith("u") and logged_in.user[1:].isdigit()
            assert (guest.user, guest.handle) == (logged_in.user, "Ada")
        async with connect(server.url, token=logged_in.token) as ada:
            assert ada.welcome is not None
            welcome = ada.welcome
            assert (welcome.user, welcome.name, welcome.handle, welcome.guest_token) == (
                logged_in.user,
                "Ada",
                "Ada",
                None,
            )
            joined = await ada.create_space("Signed in")
            assert (joined.space.host, joined.space.host_name) == (logged_in.user, "Ada")


async def test_a_wrong_password_or_a_bad_token_is_refused(server: ServerProcess) -> None:
    with trio.fail_after(20):
        await new_account(server.url, "bob")
        async with connect(server.url, "someone") as guest:
            with pytest.raises(RequestError) as refused:
                await guest.log_in("bob", "not the password")
            assert refused.value.code == "bad_credentials"
            with pytest.raises(RequestError) as taken:
                await guest.register("BOB", PASSWORD, "Another Bob")
            assert taken.value.code == "handle_taken"
        with pytest.raises(RequestError) as bad_token:
            async with connect(server.url, token="not-a-token"):
                pass
        assert bad_token.value.code == "token_invalid"


async def test_a_guests_name_is_a_label_that_never_shows_an_accounts_handle(server: ServerProcess) -> None:
    """A guest may not show an account's handle as its name (any casing: `handle_taken`), nor may an account
    register a handle a connected guest shows, until that guest is gone (tests/e2e/test_identity.py has the
    guest's own registration and its resume window)."""
    with trio.fail_after(20):
        token = await new_account(server.url, "carol")
        async with connect(server.url, token=token) as carol:
            for name in ("carol", "CAROL"):
                with pytest.raises(RequestError) as taken:
                    async with connect(server.url, name):
                        pass
                assert taken.value.code == "handle_taken"
            for name in ("carol\n", "CAROL\n"):  # a final newline once passed the name's pattern ("$")
                with pytest.raises(RequestError) as refused:
                    async with connect(server.url, name):
                        pass
                assert refused.value.code == "bad_message"
            async with connect(server.url, "carol_") as guest:  # the control: any other name
                assert guest.user.startswith("g-") and guest.user != carol.user
                assert (guest.name, guest.handle) == ("carol_", None)
                with pytest.raises(RequestError) as refused:
                    await guest.follow("carol")
                assert refused.value.code == "account_required"
            assert not carol.closed.is_set()  # no one replaced carol's connection
        async with connect(server.url, "other") as other:
            async with connect(server.url, "dave") as dave:
                with pytest.raises(RequestError) as taken:
                    await other.register("Dave", PASSWORD, "Not Dave")
                assert taken.value.code == "handle_taken" and not dave.closed.is_set()
            await register_when_free(other, "Dave", tries=3)  # dave has said goodbye


async def test_a_guest_is_refused_what_needs_an_account_and_logs_in_only_outside_a_space(
    server: ServerProcess,
) -> None:
    with trio.fail_after(20):
        async with connect(server.url, token=await new_account(server.url, "erin")) as erin:
            space_id = (await erin.create_space("Erin's")).space.space_id
            async with connect(server.url, "guest") as guest:
                attempts = [
                    guest.follow("erin"),
                    guest.unfollow("erin"),
                    guest.block("erin"),
                    guest.unblock("erin"),
                    guest.send_dm("erin", "hi"),
                    guest.get_inbox(),
                    guest.mark_read(1),
                    guest.set_protected(True),
                    guest.invite_speaker("erin"),
                    guest.log_out(),
                    guest.create_space("Guests do not host"),
                    guest.schedule_space("Nor schedule", int(time.time() * 1000) + 3_600_000),
                ]
                for attempt in attempts:
                    with pytest.raises(RequestError) as refused:
                        await attempt
                    assert refused.value.code == "account_required"
                await guest.join_space(space_id)
                with pytest.raises(RequestError) as in_space:
                    await guest.log_in("erin", PASSWORD)
                assert in_space.value.code == "already_in_space"
                await guest.leave_space()
                await guest.log_in("erin", PASSWORD)
                assert guest.user == erin.user
                assert await guest.get_inbox() == []


async def test_follow_unfollow_and_block_between_accounts(server: ServerProcess) -> None:
    with trio.fail_after(20):
        fay, gus = await new_account(server.url, "fay"), await new_account(server.url, "gus")
        async with connect(server.url, token=fay) as f, connect(server.url, token=gus) as g:
            await f.follow("gus")
            await f.follow("gus")  # idempotent
            await f.unfollow("gus")
            for attempt, code in [(f.follow("nobody"), "no_such_account"), (f.follow("fay"), "bad_argument")]:
                with pytest.raises(RequestError) as refused:
                    await attempt
                assert refused.value.code == code
            await g.block("fay")
            for attempt in (f.follow("gus"), f.send_dm("gus", "let me in")):
                with pytest.raises(RequestError) as blocked:
                    await attempt
                assert blocked.value.code == "blocked"
            await g.unblock("fay")
            await f.follow("gus")


async def test_a_direct_message_arrives_live_and_stays_in_the_inbox(server: ServerProcess) -> None:
    with trio.fail_after(20):
        hal, ivy = await new_account(server.url, "hal"), await new_account(server.url, "ivy")
        async with connect(server.url, token=hal) as h, connect(server.url, token=ivy) as i:
            await h.send_dm("ivy", "hello Ivy")
            pushed = await i.next_dm()
            assert (pushed.sender, pushed.kind, pushed.text, pushed.read) == ("hal", "text", "hello Ivy", False)
            await h.send_dm("ivy", "second")
            inbox = await i.get_inbox()
            assert [m.text for m in inbox] == ["hello Ivy", "second"]
            assert inbox[0].id == pushed.id
            assert [m.text for m in await i.get_inbox(after_id=inbox[0].id)] == ["second"]
            await i.mark_read(inbox[0].id)
            assert [m.read for m in await i.get_inbox()] == [True, False]
            assert await h.get_inbox() == []


async def test_a_protected_account_cannot_host(server: ServerProcess) -> None:
    with trio.fail_after(20):
        async with connect(server.url, token=await new_account(server.url, "jan")) as jan:
            await jan.set_protected(True)
            with pytest.raises(RequestError) as refused:
                await jan.create_space("Not allowed")
            assert refused.value.code == "protected_account"
            await jan.set_protected(False)
            await jan.create_space("Allowed again")


async def test_a_blocked_account_cannot_join_any_space_of_the_blocker(server: ServerProcess) -> None:
    with trio.fail_after(20):
        kim, leo = await new_account(server.url, "kim"), await new_account(server.url, "leo")
        async with connect(server.url, token=kim) as k, connect(server.url, token=leo) as lo:
            await k.block("leo")
            for title in ("First", "Second"):
                space_id = (await k.create_space(title)).space.space_id
                with pytest.raises(RequestError) as refused:
                    await lo.join_space(space_id)
                assert refused.value.code == "blocked"
                await k.end_space()
            space_id = (await k.create_space("Open again")).space.space_id
            await k.unblock("leo")
            assert (await lo.join_space(space_id)).role == Role.LISTENER


async def test_an_invitation_to_speak_arrives_by_direct_message(server: ServerProcess) -> None:
    with trio.fail_after(20):
        max_, nia = await new_account(server.url, "max"), await new_account(server.url, "nia")
        async with connect(server.url, token=max_) as m, connect(server.url, token=nia) as n:
            space_id = (await m.create_space("Invitations")).space.space_id
            await m.invite_speaker("nia")
            invitation = await n.next_dm()
            assert invitation.kind == "invite" and invitation.sender == "max"
            assert invitation.invite is not None
            assert (invitation.invite.space_id, invitation.invite.role) == (space_id, "speaker")
            # Accepting: the invitee joins, and the host brings them on the mic.
            await n.join_space(invitation.invite.space_id)
            with pytest.raises(RequestError) as listener:
                await n.invite_speaker("max")
            assert listener.value.code == "not_allowed"
            await m.set_role(n.user, Role.SPEAKER)
            changed = await next_role_change(n, n.user)
            assert (changed.role, changed.by, changed.name) == (Role.SPEAKER, m.user, "nia")
            assert [msg.kind for msg in await n.get_inbox()] == ["invite"]


async def test_a_restart_keeps_accounts_tokens_follows_blocks_and_messages(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    try:
        with trio.fail_after(30):
            ola, pat = await new_account(first.url, "ola"), await new_account(first.url, "pat")
            async with connect(first.url, token=ola) as o, connect(first.url, token=pat) as p:
                await o.follow("pat")
                await o.send_dm("pat", "see you after the restart")
                await o.set_protected(True)
            await new_account(first.url, "quinn")
            async with connect(first.url, token=pat) as p:
                await p.block("quinn")
    finally:
        assert stop_server(first) == 0

    second = start_server(data)
    try:
        with trio.fail_after(30):
            async with connect(second.url, token=pat) as p, connect(second.url, token=ola) as o:
                assert [(m.sender, m.text) for m in await p.get_inbox()] == [("ola", "see you after the restart")]
                with pytest.raises(RequestError) as protected:
                    await o.create_space("Still protected")
                assert protected.value.code == "protected_account"
                space_id = (await p.create_space("Blocks survive")).space.space_id
            async with connect(second.url, "anyone") as guest:
                token = (await guest.log_in("quinn", PASSWORD)).token
                assert token
                with pytest.raises(RequestError) as blocked:
                    await guest.join_space(space_id)
                assert blocked.value.code == "blocked"
    finally:
        assert stop_server(second) == 0

    async with store.open_database(data / "stoa.db") as db:
        ola_id = (await store.get_account(db, "ola")).id
        pat_id = (await store.get_account(db, "pat")).id
        assert await store.follows(db, ola_id, pat_id)
