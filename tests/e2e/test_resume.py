"""Clients that survive the network: connections cut by a TCP proxy in the test (real sockets, a real server
process) while the space goes on; the listener and the speaker resume (`resume`, docs/protocol.md). What
the listener receives is decoded with the independent `msgpack` package; what the speaker says goes
through the real Opus codec and is decoded on another listener."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import msgpack
import msgspec
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from actors.space import Event, ParticipantLeft, Role
from gateway.client import Client, Reconnected, connect, connect_account
from tests.audio import assert_tone_present, decode_stream, encode_tone
from tests.conftest import ServerProcess, start_server, stop_server
from tests.e2e.proxy import Proxy
from tests.e2e.test_metrics import samples, value
from tests.e2e.wire import hello_account, say

TONE_HZ = 440.0
REPLIES = {"ok", "joined", "resumed", "error"}


class Raw:
    """A client written from docs/protocol.md alone (trio-websocket and msgpack): it keeps every event of
    the space it is in, in the order they came."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.events: list[dict] = []
        self._ref = 100

    async def request(self, message: dict) -> dict:
        """Send `message` with a fresh `ref`; return its reply (events that come first are kept)."""
        self._ref += 1
        await self.ws.send_message(msgpack.packb({**message, "ref": self._ref}))
        while True:
            m = await self.next()
            if m.get("ref") == self._ref and m["type"] in REPLIES:
                return m

    async def next(self) -> dict:
        m = msgpack.unpackb(await self.ws.get_message())
        if "space_id" in m and "seq" in m and m["type"] not in REPLIES:
            self.events.append(m)
        return m

    async def until_post(self, text: str) -> None:
        while not any(e["type"] == "post_shared" and e["post"]["text"] == text for e in self.events):
            await self.next()


@asynccontextmanager
async def proxied(server: ServerProcess) -> AsyncIterator[Proxy]:
    proxy = Proxy(server.port)
    async with trio.open_nursery() as nursery:
        await nursery.start(proxy.run)
        yield proxy
        nursery.cancel_scope.cancel()


async def stream_tone(client: Client, seconds: float) -> None:
    start = trio.current_time()
    for i, packet in enumerate(encode_tone(TONE_HZ, seconds)):
        await trio.sleep_until(start + i * 0.020)
        await client.send_audio(i, time.time_ns() // 1000, packet)


async def collect_audio(client: Client, seconds: float) -> list[bytes]:
    frames = []
    with trio.move_on_after(seconds):
        async for frame in client.audio:
            frames.append(frame.opus)
    return frames


async def next_of(client: Client, kind: type, where: Callable[[object], bool] = lambda e: True) -> object:
    while True:
        event = await client.next_event()
        if isinstance(event, kind) and where(event):
            return event


async def test_a_cut_listener_and_speaker_resume_with_every_missed_event_once_and_the_speaker_is_heard(
    server: ServerProcess,
) -> None:
    """The listener's link goes silent (a blackhole: the server keeps writing into it) and its client
    reconnects; the speaker's is reset and its client reconnects by itself. Meanwhile the space goes on:
    posts, a hand raised and approved, a role taken back, reactions. The listener gets every missed event
    exactly once and in order (the same events, byte for byte as maps, as a listener who never left), its
    raised hand still up; the speaker is still a speaker, and is heard again on another listener."""
    with trio.fail_after(90):
        async with (
            proxied(server) as to_lena,
            proxied(server) as to_sam,
            connect_account(server.url, "host") as host,
            connect_account(server.url, "otto") as otto,
            connect(server.url, "ears") as ears,
            connect(server.url, "witness") as witness,
        ):
            space_id = (await host.create_space("Through a proxy")).space.space_id
            async with connect_account(to_sam.url, "sam") as sam, open_websocket_url(to_lena.url) as lena_ws:
                # Everyone in; sam on the mic; lena (an account, through the proxy) with her hand raised.
                await sam.join_space(space_id)
                await host.set_role(sam.user, Role.SPEAKER)
                lena_login = await hello_account(lena_ws, "lena")
                lena_token, lena_user = lena_login["token"], lena_login["user"]
                lena = Raw(lena_ws)
                lena_joined = await lena.request({"type": "join_space", "space_id": space_id})
                assert lena_joined["type"] == "joined"
                assert (await lena.request({"type": "raise_hand"}))["type"] == "ok"
                await witness.join_space(space_id)
                await ears.join_space(space_id)
                await otto.join_space(space_id)
                await host.share_post("before the cut")
                await lena.until_post("before the cut")
                seen = max(e["seq"] for e in lena.events)

                # The network fails: lena's link silently, sam's loudly.
                assert to_lena.blackhole() == 1
                assert to_sam.cut() == 1
                await host.share_post("while you were away")
                await otto.raise_hand()
                await host.approve_request(otto.user)
                await host.share_post("otto speaks")
                await host.set_role(otto.user, Role.LISTENER)
                await otto.react("👏")
                await host.share_post("one more")

                # sam's client comes back by itself and resumes: still a speaker.
                back = await next_of(sam, Reconnected)
                assert isinstance(back, Reconnected) and back.resumed and back.role is Role.SPEAKER, back
                assert sam.role is Role.SPEAKER and sam.reconnects == 1

                # lena reconnects (the old link is still open, and silent) and resumes after what she saw.
                async with open_websocket_url(to_lena.url) as again:
                    welcome = await say(again, {"type": "hello", "protocol": 2, "token": lena_token})
                    assert welcome["type"] == "welcome" and welcome["user"] == lena_user
                    lena2 = Raw(again)
                    resumed = await lena2.request({"type": "resume", "space_id": space_id, "last_seq": seen})
                    assert resumed["type"] == "resumed", resumed
                    assert resumed["role"] == "listener" and resumed["muted"] is False
                    await host.share_post("welcome back")
                    await lena2.until_post("welcome back")

                    # Exactly once and in order: the resumed events, then the live ones, with no gap.
                    missed = resumed["events"]
                    after = [*missed, *lena2.events]
                    seqs = [e["seq"] for e in after]
                    assert seqs == list(range(seen + 1, seen + 1 + len(seqs))), seqs
                    assert resumed["seq"] == seen + len(missed)
                    kinds = [e["type"] for e in missed]
                    for kind in ("post_shared", "hand_raised", "hand_lowered", "role_changed", "reaction"):
                        assert kind in kinds, (kind, kinds)
                    # The same events as a listener who never left, map for map.
                    witnessed: list[object] = []
                    while not (witnessed and witnessed[-1] == after[-1]):
                        event = await witness.next_event()
                        if isinstance(event, Event) and event.seq > seen:
                            witnessed.append(msgspec.to_builtins(event))
                    assert after == witnessed

                    # lena's hand is still raised: the host can approve it.
                    await host.approve_request(lena_user)
                    # sam is heard again: real Opus through the mixer, decoded on another listener.
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(stream_tone, sam, 3.0)
                        heard = await collect_audio(ears, 3.5)
                    assert len(heard) > 100, f"only {len(heard)} frames of sam's voice arrived"
                    pcm = decode_stream(heard)
                    assert_tone_present(pcm[len(pcm) // 5 : len(pcm) * 4 // 5], TONE_HZ)
                    # Both resumes (sam's client's by itself, lena's by hand) are counted as such.
                    found = await trio.to_thread.run_sync(samples, server)
                    assert value(found, "stoa_resumes_total", result="resumed") == 2


async def raw_account(url: str, handle: str, stack: AsyncExitStack) -> tuple[Raw, str, str]:
    """An account's raw client: (client, its token, its user id)."""
    ws = await stack.enter_async_context(open_websocket_url(url))
    logged_in = await hello_account(ws, handle)
    return Raw(ws), logged_in["token"], logged_in["user"]


async def come_back(url: str, token: str, stack: AsyncExitStack) -> Raw:
    """A new connection of the same account (the `hello` with its token)."""
    ws = await stack.enter_async_context(open_websocket_url(url))
    welcome = await say(ws, {"type": "hello", "protocol": 2, "token": token})
    assert welcome["type"] == "welcome", welcome
    return Raw(ws)


async def test_past_the_window_a_resume_is_a_new_arrival_with_a_snapshot(tmp_path: Path) -> None:
    """With a 0.5 s window: a speaker cut for longer comes back as a listener, told `window_passed`, with a
    snapshot; within the window a `last_seq` the space never reached gets the snapshot too
    (`events_gone`), and the place (the mic) is kept."""
    server = start_server(tmp_path / "data", "--resume-window", "0.5")
    try:
        with trio.fail_after(60):
            async with proxied(server) as proxy, AsyncExitStack() as stack:
                host = await stack.enter_async_context(connect_account(server.url, "host"))
                space_id = (await host.create_space("Short memory")).space.space_id
                kim, kim_token, kim_user = await raw_account(proxy.url, "kim", stack)
                assert (await kim.request({"type": "join_space", "space_id": space_id}))["type"] == "joined"
                await host.set_role(kim_user, Role.SPEAKER)

                # Within the window, a bogus `last_seq`: a snapshot, the mic kept.
                proxy.cut()
                kim = await come_back(proxy.url, kim_token, stack)
                gone = await kim.request({"type": "resume", "space_id": space_id, "last_seq": 10**9})
                assert gone["type"] == "joined" and gone["resume"] == "events_gone", gone
                assert gone["role"] == "speaker"

                # Past the window: the place was let go (the others saw kim leave); a new arrival.
                proxy.cut()
                left = await next_of(host, ParticipantLeft, lambda e: e.user == kim_user)  # type: ignore[attr-defined]
                assert left.reason == "disconnected"  # type: ignore[attr-defined]
                kim = await come_back(proxy.url, kim_token, stack)
                late = await kim.request({"type": "resume", "space_id": space_id, "last_seq": gone["space"]["seq"]})
                assert late["type"] == "joined" and late["resume"] == "window_passed", late
                assert late["role"] == "listener" and late["space"]["seq"] >= left.seq  # type: ignore[attr-defined]
                assert late["space"]["listener_count"] == 1
                # A plain join's reply has no `resume`.
                guest = await stack.enter_async_context(open_websocket_url(server.url))
                await say(guest, {"type": "hello", "protocol": 2, "name": "plain"})
                plain = await Raw(guest).request({"type": "join_space", "space_id": space_id})
                assert plain["type"] == "joined" and "resume" not in plain
                # Each resume is counted by how it ended (the control: none was one with the missed events).
                found = await trio.to_thread.run_sync(samples, server)
                counted = {r: value(found, "stoa_resumes_total", result=r)
                           for r in ("events_gone", "window_passed", "resumed")}  # fmt: skip
                assert counted == {"events_gone": 1, "window_passed": 1, "resumed": 0}
    finally:
        assert stop_server(server) == 0


async def test_a_resume_is_refused_where_this_user_holds_no_place(server: ServerProcess) -> None:
    """Only the user whose place it is may take it back: another account (or a guest) asking to resume a
    space it was never in is refused (`not_resumable`) and gets nothing of it; an invalid token never
    becomes anyone; nothing before `hello`. The place's owner resumes it (the control)."""
    with trio.fail_after(30):
        async with proxied(server) as proxy, AsyncExitStack() as stack:
            host = await stack.enter_async_context(connect_account(server.url, "host"))
            space_id = (await host.create_space("Not yours")).space.space_id
            lena, lena_token, lena_user = await raw_account(proxy.url, "lena", stack)
            joined = await lena.request({"type": "join_space", "space_id": space_id})
            await host.set_role(lena_user, Role.SPEAKER)
            proxy.cut()

            mallory, _, _ = await raw_account(server.url, "mallory", stack)
            refused = await mallory.request({"type": "resume", "space_id": space_id, "last_seq": 0})
            assert refused["type"] == "error" and refused["code"] == "not_resumable", refused
            guest = await stack.enter_async_context(open_websocket_url(server.url))
            assert (await say(guest, {"type": "hello", "protocol": 2, "name": "lurker"}))["type"] == "welcome"
            refused = await Raw(guest).request({"type": "resume", "space_id": space_id, "last_seq": 0})
            assert refused["code"] == "not_resumable", refused
            forged = await stack.enter_async_context(open_websocket_url(server.url))
            early = await Raw(forged).request({"type": "resume", "space_id": space_id, "last_seq": 0})
            assert early["code"] == "not_authenticated"
            welcome = await say(forged, {"type": "hello", "protocol": 2, "token": lena_token[:-4] + "AAAA"})
            assert welcome["type"] == "error" and welcome["code"] == "token_invalid"

            lena = await come_back(proxy.url, lena_token, stack)
            resumed = await lena.request({"type": "resume", "space_id": space_id, "last_seq": joined["space"]["seq"]})
            assert resumed["type"] == "resumed" and resumed["role"] == "speaker", resumed


async def test_a_removed_or_blocked_user_cannot_resume(server: ServerProcess) -> None:
    """Three listeners are cut; while they are away the host removes one and blocks another: those two are
    refused (`removed`, `blocked`), the third resumes (the control)."""
    with trio.fail_after(30):
        async with proxied(server) as proxy, AsyncExitStack() as stack:
            host = await stack.enter_async_context(connect_account(server.url, "host"))
            space_id = (await host.create_space("House rules")).space.space_id
            away = {}
            for handle in ("vic", "bea", "carl"):
                raw, token, user = await raw_account(proxy.url, handle, stack)
                joined = await raw.request({"type": "join_space", "space_id": space_id})
                away[handle] = (token, user, joined["space"]["seq"])
            assert proxy.cut() == 3
            await host.remove(away["vic"][1])
            await host.block("bea")
            outcomes = {}
            for handle, (token, _, seq) in away.items():
                back = await come_back(proxy.url, token, stack)
                reply = await back.request({"type": "resume", "space_id": space_id, "last_seq": seq})
                outcomes[handle] = reply["type"] if reply["type"] != "error" else reply["code"]
            assert outcomes == {"vic": "removed", "bea": "blocked", "carl": "resumed"}


async def test_a_resume_from_last_seq_0_gets_the_snapshot_though_the_space_holds_every_event(
    server: ServerProcess,
) -> None:
    """A space's `seq` 1 is its creation, in every snapshot and no event message: a client that resumes from
    0 holds nothing of the space and gets the snapshot (`events_gone`, the place kept), even while the space
    holds every event it ever sent; from the creation's snapshot (1) it gets them all (the control)."""
    with trio.fail_after(30):
        async with AsyncExitStack() as stack:
            ada, token, _ = await raw_account(server.url, "ada", stack)
            created = await ada.request({"type": "create_space", "title": "From the start"})
            assert created["type"] == "joined" and created["space"]["seq"] == 1, created
            space_id = created["space"]["space_id"]
            for text in ("first", "second"):
                assert (await ada.request({"type": "share_post", "text": text}))["type"] == "ok"

            ada = await come_back(server.url, token, stack)  # the old connection is replaced: the place is kept
            gone = await ada.request({"type": "resume", "space_id": space_id, "last_seq": 0})
            assert (gone["type"], gone["resume"], gone["role"]) == ("joined", "events_gone", "host"), gone
            assert [post["text"] for post in gone["space"]["timeline"]] == ["first", "second"]

            ada = await come_back(server.url, token, stack)
            resumed = await ada.request({"type": "resume", "space_id": space_id, "last_seq": 1})
            assert resumed["type"] == "resumed", resumed
            seqs = [event["seq"] for event in resumed["events"]]
            assert seqs == list(range(2, resumed["seq"] + 1)), "every event from the first"
            shared = [e["post"]["text"] for e in resumed["events"] if e["type"] == "post_shared"]
            assert shared == ["first", "second"]
