"""Identity over the real server: who someone is, is the id the server issued, never the name they give.

A name proves nothing (a second guest with a name in use, in any casing, is another guest with its own
id); a guest listens and does nothing else; a removed or blocked account that comes back as a guest is
only a listener; a guest keeps its id only with its `guest_token`; and the rate limits and caps that
make accounts worth having: posts, failed log-ins, connections per address, one live space per host.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Awaitable

import msgpack
import pytest
import trio
import wsproto
import wsproto.events
from trio_websocket import WebSocketConnection, open_websocket_url

from actors.space import AudienceChanged, Event, ParticipantRemoved, PostShared, Role
from gateway import protocol as p
from gateway.client import Client, RequestError, connect, connect_account
from tests.conftest import ServerProcess
from tests.e2e.test_speakers import next_of
from tests.e2e.wire import PASSWORD, hello_account, hello_guest, raw_handshake, register_when_free, say

GUEST_ID = re.compile(r"g-[0-9a-f]{12}")


async def next_post(client: Client, text: str) -> PostShared:
    """The post `text`, skipping every other event."""
    return (await events_until_post(client, text))[-1]  # type: ignore[return-value]


async def events_until_post(client: Client, text: str) -> list[Event]:
    """Every event up to and including the post `text` (audience counts aside)."""
    seen: list[Event] = []
    while True:
        event = await client.next_event()
        if isinstance(event, AudienceChanged):
            continue
        seen.append(event)  # type: ignore[arg-type]
        if isinstance(event, PostShared) and event.post.text == text:
            return seen


async def assert_only_listens(guest: Client, host: Client, space_id: str) -> None:
    """`guest`, in the space as a listener, may do nothing else; the host cannot bring it on the mic;
    nothing of it reaches the space but its presence."""
    await host.share_post("before the guest tries")
    await next_post(host, "before the guest tries")
    before = [post.text for post in (await host.get_space(space_id)).timeline]
    for attempt in (
        guest.share_post("let me in"),
        guest.raise_hand(),
        guest.react("🔥"),
        guest.create_space("mine now"),
        guest.end_space(),
        guest.set_role(host.user, Role.LISTENER),
        guest.remove(host.user),
        guest.mute(host.user),
        guest.accept_invite(),
    ):
        await refused(attempt, "account_required")
    for role in (Role.SPEAKER, Role.COHOST):
        await refused(host.set_role(guest.user, role), "not_eligible")
    await guest.send_audio(1, 1, b"\x00")
    refusal = await guest.next_event()
    while not isinstance(refusal, p.Error):
        refusal = await guest.next_event()
    assert refusal.code == "not_a_speaker" and refusal.ref is None
    await host.share_post("only the host spoke")
    seen = await events_until_post(host, "only the host spoke")
    assert [type(e).__name__ for e in seen] == ["PostShared"], seen
    after = [post.text for post in (await host.get_space(space_id)).timeline]
    assert after == [*before, "only the host spoke"]


async def refused(attempt: Awaitable[object], code: str) -> RequestError:
    """Await `attempt`, which must be refused with `code`; returns the refusal."""
    with pytest.raises(RequestError) as refusal:
        await attempt
    assert refusal.value.code == code
    return refusal.value


async def reply_to(ws: WebSocketConnection, message: dict, kinds: tuple[str, ...]) -> dict:
    """Send `message` and return the reply of one of `kinds`, skipping the space's events in between."""
    reply = await say(ws, message)
    while reply["type"] not in kinds:
        with trio.fail_after(5):
            reply = msgpack.unpackb(await ws.get_message())
    return reply


# -- (a), (b): a name in use, in any casing, is another guest ----------------------------------------


@pytest.mark.parametrize("second_name", ["sam", "SAM", "Sam"], ids=["same_name", "upper_case", "title_case"])
async def test_a_second_guest_with_a_name_in_use_is_another_guest_that_takes_nothing(
    server: ServerProcess, second_name: str
) -> None:
    with trio.fail_after(30):
        async with connect_account(server.url, "hana") as host, connect(server.url, "sam") as first:
            space_id = (await host.create_space("Names are labels")).space.space_id
            assert (await first.join_space(space_id)).role == Role.LISTENER
            async with connect(server.url, second_name) as second:
                assert GUEST_ID.fullmatch(second.user) and second.user != first.user and second.name == second_name
                await refused(second.leave_space(), "not_in_space")  # the first's place is not the second's
                await host.share_post("is the first still here?")
                assert (await next_post(first, "is the first still here?")).post.user == host.user
                assert not first.closed.is_set(), "the first connection was not replaced"

                joined = await second.join_space(space_id)
                assert joined.role == Role.LISTENER and joined.space.listener_count == 2
                listeners = [(person.user, person.name) for person in joined.space.listeners]
                assert listeners == [(first.user, "sam"), (second.user, second_name)]

                await host.remove(second.user)  # moderation aims at an id: the first is untouched
                removed = await next_of(second, ParticipantRemoved)
                assert (removed.user, removed.name) == (second.user, second_name)
                await host.share_post("the first stays")
                assert (await next_post(first, "the first stays")).post.text == "the first stays"
                await refused(second.join_space(space_id), "removed")
            await first.leave_space()  # still in the space, as itself


@pytest.mark.parametrize("name", ["hana", "HANA"])
async def test_a_guest_named_like_the_host_is_only_a_listener(server: ServerProcess, name: str) -> None:
    with trio.fail_after(30):
        async with connect_account(server.url, "hana") as host:
            space_id = (await host.create_space("The real host")).space.space_id
            with pytest.raises(RequestError) as taken:  # the host's handle, in any casing, is no guest's name
                async with connect(server.url, name):
                    pass
            assert taken.value.code == "handle_taken"
            async with connect(server.url, name + "_") as impostor:  # a look-alike name is only a label
                assert impostor.user != host.user and impostor.handle is None
                joined = await impostor.join_space(space_id)
                assert joined.role == Role.LISTENER
                assert (joined.space.host, joined.space.host_name) == (host.user, "hana")
                assert [(person.user, person.role) for person in joined.space.participants] == [(host.user, Role.HOST)]
                await assert_only_listens(impostor, host, space_id)
            assert not host.closed.is_set()


# -- (c): a guest listens, on the wire as a client from the protocol alone would see it --------------


async def test_a_guest_may_not_create_post_raise_a_hand_or_react_on_the_wire(server: ServerProcess) -> None:
    with trio.fail_after(30):
        async with connect_account(server.url, "hana") as host:
            space_id = (await host.create_space("Raw guest")).space.space_id
            async with open_websocket_url(server.url) as ws:
                welcome = await hello_guest(ws, "raw")
                assert welcome["user"].startswith("g-") and welcome["handle"] is None and welcome["guest_token"]
                for ref, request in enumerate(
                    (
                        {"type": "create_space", "title": "a guest's space"},
                        {"type": "join_space", "space_id": space_id},
                        {"type": "share_post", "text": "hello"},
                        {"type": "raise_hand"},
                        {"type": "react", "emoji": "👏"},
                        {"type": "create_space", "title": "still no"},
                    ),
                    start=1,
                ):
                    reply = await reply_to(ws, {**request, "ref": ref}, ("joined", "error"))
                    if request["type"] == "join_space":
                        assert (reply["type"], reply["ref"], reply["role"]) == ("joined", ref, "listener")
                        continue
                    assert set(reply) == {"type", "ref", "code", "message"}, reply  # no retry_after_ms
                    assert (reply["type"], reply["ref"], reply["code"]) == ("error", ref, "account_required")
            await host.share_post("nothing from the guest")
            seen = await events_until_post(host, "nothing from the guest")
            assert [type(e).__name__ for e in seen] == ["PostShared"], seen
            assert (await host.list_spaces("live")).live[0].space_id == space_id


# -- (d): a newcomer with a departed host's name gains nothing ------------------------------------------


async def test_a_new_account_shown_with_a_departed_hosts_name_gains_no_role(server: ServerProcess) -> None:
    with trio.fail_after(30):
        async with connect_account(server.url, "hana") as hana:
            space_id = (await hana.create_space("Who is the host")).space.space_id
            hana_id, hana_token = hana.user, hana.token
            await hana.leave_space()  # the host departs; the space stays live
        async with connect(server.url, "newcomer") as newcomer:
            for handle in ("hana", "HANA"):  # a handle is one account's, in any casing
                await refused(newcomer.register(handle, PASSWORD, "hana"), "handle_taken")
            await newcomer.register("hana_2", PASSWORD, "hana")  # shown as "hana"
            await newcomer.log_in("hana_2", PASSWORD)
            assert newcomer.user not in ("", hana_id) and newcomer.user.startswith("u")
            joined = await newcomer.join_space(space_id)
            assert joined.role == Role.LISTENER
            assert (joined.space.host, joined.space.host_name) == (hana_id, "hana")
            for attempt, code in (
                (newcomer.end_space(), "not_allowed"),
                (newcomer.set_role(newcomer.user, Role.SPEAKER), "not_allowed"),
                (newcomer.set_speaker_policy(joined.space.speaker_policy), "not_allowed"),
            ):
                await refused(attempt, code)
            async with connect(server.url, token=hana_token) as back:  # the host comes back by its token
                assert (await back.join_space(space_id)).role == Role.HOST
            async with connect(server.url, "hana_") as guest:  # nor does a guest with a look-alike name
                assert (await guest.join_space(space_id)).role == Role.LISTENER


# -- (e), (f): removed or blocked, back as a guest: only a listener ----------------------------------


async def test_a_removed_account_back_as_a_guest_only_listens(server: ServerProcess) -> None:
    with trio.fail_after(40):
        async with connect_account(server.url, "hana") as host, connect_account(server.url, "rex") as rex:
            space_id = (await host.create_space("Removals stick")).space.space_id
            await rex.join_space(space_id)
            rex_id = rex.user
            await host.remove(rex_id)
            await next_of(rex, ParticipantRemoved)
            await refused(rex.join_space(space_id), "removed")

            await rex.log_out()  # the same connection, now a new guest
            assert rex.user != rex_id and rex.user.startswith("g-") and rex.handle is None
            assert (await rex.join_space(space_id)).role == Role.LISTENER
            await assert_only_listens(rex, host, space_id)
            await rex.leave_space()
            async with connect(server.url, "rex_") as fresh:  # or a new connection under a look-alike name
                assert (await fresh.join_space(space_id)).role == Role.LISTENER
                await assert_only_listens(fresh, host, space_id)
            async with connect_account(server.url, "rex", register=False) as account:
                assert account.user == rex_id
                await refused(account.join_space(space_id), "removed")


async def test_a_blocked_account_back_as_a_guest_only_listens(server: ServerProcess) -> None:
    with trio.fail_after(40):
        async with connect_account(server.url, "hana") as host, connect_account(server.url, "bo") as bo:
            await host.block("bo")
            space_id = (await host.create_space("Blocks stick")).space.space_id
            await refused(bo.join_space(space_id), "blocked")
            async with connect(server.url, "bo_") as guest:
                assert (await guest.join_space(space_id)).role == Role.LISTENER
                await assert_only_listens(guest, host, space_id)
                # becoming the account again takes leaving the space first
                await refused(guest.log_in("bo", PASSWORD), "already_in_space")
                await guest.leave_space()
                await guest.log_in("bo", PASSWORD)
                await refused(guest.join_space(space_id), "blocked")


# -- (g): a guest keeps its id only with its guest token -------------------------------------------------


async def test_a_guest_token_keeps_the_id_and_the_place_and_a_forged_one_is_refused(server: ServerProcess) -> None:
    with trio.fail_after(30):
        async with connect_account(server.url, "hana") as host, connect(server.url, "sam") as first:
            space_id = (await host.create_space("Coming back")).space.space_id
            await first.join_space(space_id)
            user, token = first.user, first.guest_token
            assert token is not None and token.startswith(user)
            async with connect(server.url, guest_token=token) as again:
                assert (again.user, again.guest_token, again.handle) == (user, token, None)
                with trio.fail_after(5):
                    await first.closed.wait()
                assert first.ws.closed is not None and first.ws.closed.code == 4002
                joined = await again.join_space(space_id)  # within the 30 s of grace: the same place
                assert joined.role == Role.LISTENER and joined.space.listener_count == 1
                assert [person.user for person in joined.space.listeners] == [user]
                with trio.move_on_after(1.5):  # an audience announcement or two: nobody left, nobody came
                    while True:
                        event = await host.next_event()
                        if isinstance(event, AudienceChanged):
                            assert user not in [person.user for person in event.departed], event
                assert (await host.get_space(space_id)).space_id == space_id

            other_guest = await new_guest_id(server.url)
            signature = token.rpartition(".")[2]
            for forged in (
                f"{user}.{'0' * len(signature)}",  # the id with a made-up signature
                f"{other_guest}.{signature}",  # another id with this one's signature
                f"u1.{signature}",  # an account's id
                token[:-1] + ("0" if token[-1] != "0" else "1"),  # one character changed
                "not a token",
            ):
                with pytest.raises(RequestError) as invalid:
                    async with connect(server.url, guest_token=forged):
                        pass
                assert invalid.value.code == "guest_token_invalid", forged


async def new_guest_id(url: str) -> str:
    async with connect(url, "someone") as guest:
        return guest.user


async def test_a_guest_cannot_be_shown_under_an_accounts_handle(server: ServerProcess) -> None:
    """A guest's name is a label, but never an account's handle, in any casing; the control: another name."""
    with trio.fail_after(20):
        async with connect_account(server.url, "Ada"):
            pass
        async with open_websocket_url(server.url) as ws:
            for name in ("Ada", "ada", "ADA"):
                refused = await say(ws, {"type": "hello", "protocol": 2, "name": name})
                assert (refused["type"], refused["code"]) == ("error", "handle_taken"), refused
            welcome = await hello_guest(ws, "Ada_fan")
            assert welcome["name"] == "Ada_fan" and welcome["handle"] is None


def received_types(ws: wsproto.WSConnection) -> list[str]:
    return [msgpack.unpackb(e.data)["type"] for e in ws.events() if isinstance(e, wsproto.events.BytesMessage)]


async def test_a_handle_a_guest_goes_by_is_taken_until_that_guest_is_gone(server: ServerProcess) -> None:
    """The tester's case: a guest says hello as "lateName", then someone registers "latename". The guest
    would have been shown under the new account's handle; now the handle is taken while the guest is there
    (its own holder may still take it), and free once it has said goodbye. (Five registrations in all, the
    cap from one address at once: a refused one spends its token too.)"""
    with trio.fail_after(30):
        async with open_websocket_url(server.url) as guest, connect(server.url, "other") as other:
            await hello_guest(guest, "lateName")
            await refused(other.register("latename", PASSWORD, "Late"), "handle_taken")
            async with open_websocket_url(server.url) as copycat:  # and no other guest is refused the name
                assert (await hello_guest(copycat, "LATENAME"))["user"].startswith("g-")
            registered = await say(
                guest, {"type": "register", "ref": 1, "handle": "LateName", "password": PASSWORD, "display_name": "L"}
            )
            assert registered["type"] == "registered", "a guest may register the name it goes by"


async def test_a_dropped_guest_holds_its_name_for_its_resume_window_and_one_that_left_frees_it(
    server: ServerProcess,
) -> None:
    """A guest whose connection dropped keeps its place in the space for the resume window, shown by its name:
    the name stays held meanwhile. One that said goodbye frees it, moments after its connection ends (the
    server's cleanup follows the close: `register_when_free` waits for it, within the register budget)."""
    with trio.fail_after(30):
        async with connect_account(server.url, "late_host") as host, connect(server.url, "other") as other:
            space_id = (await host.create_space("Names")).space.space_id
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                hello = {"type": "hello", "protocol": 2, "name": "droppedName"}
                ws = raw_handshake(sock, hello, {"type": "join_space", "ref": 1, "space_id": space_id})
                while "joined" not in received_types(ws):
                    ws.receive_data(sock.recv(65536))
            # closed with no close frame: dropped, its place (and name) kept for the resume window
            await refused(other.register("droppedname", PASSWORD, "D"), "handle_taken")
            async with connect(server.url, "leftName") as left:
                await left.join_space(space_id)
            await register_when_free(other, "leftname", tries=3)


async def test_after_log_out_the_new_guest_has_nothing_of_the_account_not_even_its_name(
    server: ServerProcess,
) -> None:
    with trio.fail_after(20):
        async with open_websocket_url(server.url) as ws:
            logged_in = await hello_account(ws, "carol")
            await ws.send_message(msgpack.packb({"type": "log_out", "ref": 3}))
            welcome = msgpack.unpackb(await ws.get_message())
            assert welcome["type"] == "welcome" and welcome["user"].startswith("g-")
            assert welcome["user"] != logged_in["user"] and welcome["handle"] is None
            assert welcome["name"] == "guest", "the account's handle is not the new guest's label"
            assert msgpack.unpackb(await ws.get_message()) == {"type": "ok", "ref": 3}


async def test_an_errors_message_never_quotes_the_input_at_length(server: ServerProcess) -> None:
    """A refusal may quote the bad value, but at most 200 characters of message (the control: the code)."""
    with trio.fail_after(20):
        async with open_websocket_url(server.url, max_message_size=2**20) as ws:
            await hello_guest(ws, "long")
            reply = await say(ws, {"type": "list_spaces", "ref": 1, "kind": "x" * 60_000})
            assert (reply["type"], reply["code"], reply["ref"]) == ("error", "bad_message", 1)
            assert 0 < len(reply["message"]) <= 200
