"""Moderation over the real server: a raised hand approved, a mute that stops audio, a removal for good."""

from __future__ import annotations

import time

import msgpack
import pytest
import trio
from trio_websocket import open_websocket_url

from actors.space import HandLowered, HandRaised, MuteChanged, ParticipantRemoved, Reacted, Role, RoleChanged
from gateway.client import Client, RequestError, connect_account
from gateway.protocol import CLIENT_TYPES
from tests.audio import encode_tone
from tests.conftest import ServerProcess


async def next_of(client: Client, kind: type) -> object:
    """The next event of `kind` (or `error`, when kind is RequestError), skipping the others."""
    while True:
        event = await client.next_event()
        if isinstance(event, kind) or (kind is RequestError and hasattr(event, "code")):
            return event


async def test_a_raised_hand_approved_muted_then_removed_listener_cannot_rejoin(server: ServerProcess) -> None:
    with trio.fail_after(40):
        async with connect_account(server.url, "host") as host, connect_account(server.url, "lena") as lena:
            space_id = (await host.create_space("Moderated")).space.space_id
            await lena.join_space(space_id)

            await lena.raise_hand()
            raised = await next_of(host, HandRaised)
            assert isinstance(raised, HandRaised) and (raised.user, raised.name) == (lena.user, "lena")

            await host.approve_request(lena.user)
            lowered = await next_of(lena, HandLowered)
            assert isinstance(lowered, HandLowered) and lowered.reason == "approved"
            role = await next_of(lena, RoleChanged)
            assert isinstance(role, RoleChanged)
            assert (role.user, role.role, role.by, role.name) == (lena.user, Role.SPEAKER, host.user, "lena")

            await host.mute(lena.user)
            muted = await next_of(lena, MuteChanged)
            assert isinstance(muted, MuteChanged)
            assert (muted.user, muted.muted, muted.by) == (lena.user, True, host.user)
            for i, packet in enumerate(encode_tone(440, 0.1)):
                await lena.send_audio(i, time.time_ns() // 1000, packet)
            refusal = await next_of(lena, RequestError)
            assert refusal.code == "muted" and refusal.ref is None  # type: ignore[attr-defined]

            await host.remove(lena.user)
            removed = await next_of(lena, ParticipantRemoved)
            assert isinstance(removed, ParticipantRemoved)
            assert (removed.user, removed.by, removed.name) == (lena.user, host.user, "lena")
            with pytest.raises(RequestError) as refused:
                await lena.share_post("still here?")
            assert refused.value.code == "not_in_space"
            with pytest.raises(RequestError) as refused:
                await lena.join_space(space_id)
            assert refused.value.code == "removed"


async def test_a_muted_speaker_moved_back_to_the_audience_is_told_unmuted(server: ServerProcess) -> None:
    """Everyone (here a listener decoding with `msgpack`) gets `role_changed` to listener, then `mute_changed`
    with `muted` false: the mute ends off the mic, and no client keeps showing it."""
    with trio.fail_after(30):
        async with connect_account(server.url, "host") as host, connect_account(server.url, "lena") as lena:
            space_id = (await host.create_space("Muted, then moved")).space.space_id
            await lena.join_space(space_id)
            await host.set_role(lena.user, Role.SPEAKER)
            await host.mute(lena.user)
            async with open_websocket_url(server.url) as ws:
                await ws.send_message(msgpack.packb({"type": "hello", "protocol": 2, "name": "watcher"}))
                await ws.send_message(msgpack.packb({"type": "join_space", "ref": 1, "space_id": space_id}))
                joined = {}
                while joined.get("type") != "joined":
                    joined = msgpack.unpackb(await ws.get_message())
                assert lena.user in joined["space"]["muted"]
                await host.set_role(lena.user, Role.LISTENER)
                events = []
                while len(events) < 2:
                    m = msgpack.unpackb(await ws.get_message())
                    if m["type"] in ("role_changed", "mute_changed"):
                        events.append(m)
            role, mute = events
            assert (role["user"], role["role"], role["by"]) == (lena.user, "listener", host.user)
            assert (mute["user"], mute["muted"], mute["by"], mute["seq"]) == (
                lena.user,
                False,
                host.user,
                role["seq"] + 1,
            )
            # The moved speaker's own client is told too: muted, then unmuted with the move.
            told = [await next_of(lena, MuteChanged), await next_of(lena, MuteChanged)]
            assert [(e.muted, e.by) for e in told] == [(True, host.user), (False, host.user)]  # type: ignore[attr-defined]


async def test_more_than_five_reactions_a_second_are_rate_limited(server: ServerProcess) -> None:
    with trio.fail_after(20):
        async with connect_account(server.url, "host") as host:
            await host.create_space("Applause")
            for _ in range(5):
                await host.react("👏")
            with pytest.raises(RequestError) as refused:
                await host.react("👏")
            assert refused.value.code == "rate_limited" and refused.value.retry_after_ms
            event = await next_of(host, Reacted)
            assert isinstance(event, Reacted) and event.emoji == "👏"


# Each message type takes the fields it knows and ignores the others (as the protocol says).
EVERY_FIELD = {
    "user": "someone",
    "role": "speaker",
    "title": "t",
    "text": "t",
    "space_id": "s",
    "post_id": 1,
    "emoji": "👏",
    "seq": 1,
    "captured_at": 1,
    "opus": b"\x00",
    "handle": "someone",
    "password": "correct horse battery staple",
    "display_name": "Someone",
    "protected": True,
    "to": "someone",
    "up_to_id": 1,
    "policy": "invited",
    "starts_at": 1,
    "scheduled_id": 1,
    "kind": "live",
    "query": "q",
    "last_seq": 1,
    "sdp": "v=0",
    "recording_id": "r-1",
    "visibility": "public",
    "on": True,
    "consent": True,
}


async def test_every_operation_but_hello_is_refused_before_hello(server: ServerProcess) -> None:
    with trio.fail_after(30):
        async with open_websocket_url(server.url) as ws:
            for ref, kind in enumerate(sorted(CLIENT_TYPES - {"hello"})):
                # More types than the connection's `requests` burst (50): paced at its refill (20 a second), so
                # that each is answered for what it is, not as rate_limited.
                await trio.sleep(0.05)
                await ws.send_message(msgpack.packb({"type": kind, "ref": ref, **EVERY_FIELD}))
                reply = msgpack.unpackb(await ws.get_message())
                assert (reply["type"], reply["code"]) == ("error", "not_authenticated"), kind
