"""The Rust transport in a server run in this process, over real sockets: a speaker's `audio` goes from its socket
into the space's mixer through the Rust `Wire` (its own counters say so, and Python is handed only what the wire
leaves to it), every packet is counted once in `audio_stats()`, and audio with no route is refused per protocol at
most once a second, without a message per packet to Python. (The wire's framing, handshake, keepalive and
descriptor rules are tested in Rust, `mixer-rs/wire/tests/`; the behaviours clients see, end to end.)"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgpack
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from gateway.client import Client, connect, connect_account
from gateway.gateway_config import GatewayConfig
from gateway.server import Server, serve
from gateway.transport import open_listeners
from mixer import Wire, engine_failure
from tests.audio import assert_tone_present, decode_stream, encode_tone
from tests.e2e.wire import hello_guest, say

TONE_HZ = 660.0


@asynccontextmanager
async def hosted_space(tmp_path: Path) -> AsyncIterator[tuple[Server, Wire, str, str, Client]]:
    """A server with the Rust transport, in this process, and a space its host is in: (server, its wire, the
    url, the space id, the host's client)."""
    async with trio.open_nursery() as nursery:
        server: Server = await nursery.start(serve, GatewayConfig(port=0, data_dir=tmp_path / "data"))
        url = f"ws://127.0.0.1:{server.port}/"
        assert server.wire is not None
        try:
            async with connect_account(url, "host") as host:
                space_id = (await host.create_space("Wire")).space.space_id
                yield server, server.wire, url, space_id, host
        finally:
            await server.gateway.shut_down()
            nursery.cancel_scope.cancel()


async def stream(client: Client, packets: list[bytes], first_seq: int = 0) -> None:
    start = trio.current_time()
    for i, packet in enumerate(packets):
        await trio.sleep_until(start + i * 0.020)
        await client.send_audio(first_seq + i, time.time_ns() // 1000, packet)


async def next_error(client: Client) -> str:
    while True:
        event = await client.next_event()
        if hasattr(event, "code"):
            return str(event.code)


async def test_a_speakers_audio_goes_from_its_socket_to_the_mixer_and_every_packet_is_counted_once(
    tmp_path: Path,
) -> None:
    with trio.fail_after(40):
        async with hosted_space(tmp_path) as (server, wire, url, space_id, host):
            async with connect(url, "ear") as ear:
                await ear.join_space(space_id)
                messages_before = wire.stats().messages
                packets = encode_tone(TONE_HZ, 2.0)
                heard: list[bytes] = []

                async def listen() -> None:
                    while True:
                        heard.append((await ear.audio.receive()).opus)

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(listen)
                    await stream(host, packets)
                    # One audio message with a field a newer client adds: valid, but not the wire's to take.
                    extra = {"type": "audio", "seq": len(packets), "captured_at": 1, "opus": packets[0], "x": 1}
                    await host.ws.send_message(msgpack.packb(extra))
                    await trio.sleep(0.5)
                    nursery.cancel_scope.cancel()
            taken = wire.stats()
            stats = server.gateway.directory.audio_stats()
            assert taken.audio_routed == len(packets), "the wire pushed every packet itself"
            assert taken.messages - messages_before <= 3, "Python was handed the odd message, not the audio"
            assert stats.packets_in + stats.dropped_no_input + stats.dropped_refused == len(packets) + 1
            assert_tone_present(decode_stream(heard[len(heard) // 5 :]), TONE_HZ)


async def test_audio_with_no_route_is_refused_at_most_once_a_second_and_not_counted_as_the_spaces(
    tmp_path: Path,
) -> None:
    with trio.fail_after(40):
        async with hosted_space(tmp_path) as (server, wire, url, space_id, _):
            async with connect_account(url, "talker") as talker:
                await talker.join_space(space_id)
                messages_before = wire.stats().messages
                await stream(talker, encode_tone(TONE_HZ, 1.5))
                assert await next_error(talker) == "not_a_speaker"
                assert await next_error(talker) == "not_a_speaker"
                with trio.move_on_after(0.5):
                    await next_error(talker)
                    raise AssertionError("a third refusal within 1.5 s")
                assert wire.stats().audio_unrouted == 75
                assert wire.stats().messages == messages_before, "no message per packet to Python"
                stats = server.gateway.directory.audio_stats()
                assert stats.packets_in == 0 and stats.dropped == 0, "a listener's audio is refused, as before"


async def test_the_wire_listens_on_every_address_the_host_name_resolves_to_on_one_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host name with an IPv4 and an IPv6 address, as "localhost" often has (here the resolver's answer is
    given, with one address twice as getaddrinfo can: this machine's localhost is 127.0.0.1 alone): one socket
    per address, on one port, and clients reach the server on each."""
    real = socket.getaddrinfo

    def both_loopbacks(host: str, port: int, *args: object, **kwargs: object) -> list[Any]:
        assert host == "loopbacks"
        return [*real("127.0.0.1", port, type=socket.SOCK_STREAM), *real("::1", port, type=socket.SOCK_STREAM),
                *real("127.0.0.1", port, type=socket.SOCK_STREAM)]  # fmt: skip

    monkeypatch.setattr(socket, "getaddrinfo", both_loopbacks)
    listeners = open_listeners("loopbacks", 0)
    try:
        assert sorted(sock.family for sock in listeners) == [socket.AF_INET, socket.AF_INET6], "one per address"
        assert len({sock.getsockname()[1] for sock in listeners}) == 1, "the same port on both"
    finally:
        for sock in listeners:
            sock.close()
    async with trio.open_nursery() as nursery:
        config = GatewayConfig(host="loopbacks", port=0, data_dir=tmp_path / "data")
        server: Server = await nursery.start(serve, config)
        monkeypatch.setattr(socket, "getaddrinfo", real)  # the clients resolve literal addresses
        try:
            with trio.fail_after(20):
                for url in (f"ws://127.0.0.1:{server.port}/", f"ws://[::1]:{server.port}/"):
                    async with connect(url, "anywhere") as client:
                        assert client.user.startswith("g-"), url
        finally:
            await server.gateway.shut_down()
            nursery.cancel_scope.cancel()


async def test_a_panic_on_one_clients_bytes_closes_that_connection_with_1011_and_the_reader_goes_on(
    tmp_path: Path,
) -> None:
    """A fault of the Rust reader in one connection's bytes (a panic, injected in the real `Conn::handle`) ends
    at that connection: it is closed with 1011 and an incident id, another client's requests are still read and
    answered, and the server's engine is not failed (the server would exit: `gateway/engine_watch.py`)."""
    with trio.fail_after(20):
        async with hosted_space(tmp_path) as (server, wire, url, _, _):
            async with open_websocket_url(url) as faulty, open_websocket_url(url) as other:
                user = (await hello_guest(faulty, "faulty"))["user"]
                await hello_guest(other, "other")
                conn = next(c for c, session in server.gateway.connections.items() if session.user == user)
                wire._inject_panic(conn)
                await trio.sleep(0.1)  # the command reaches the reader before the next bytes
                await faulty.send_message(msgpack.packb({"type": "list_spaces", "ref": 1, "kind": "live"}))
                with pytest.raises(ConnectionClosed) as closed:
                    await faulty.get_message()
                assert closed.value.reason.code == 1011
                assert re.fullmatch(r"internal error \(incident [0-9a-f]{8}\)", closed.value.reason.reason or "")

                reply = await say(other, {"type": "list_spaces", "ref": 2, "kind": "live"})
                assert (reply["type"], reply["ref"]) == ("spaces", 2), reply
            assert engine_failure() is None, "a contained panic does not fail the engine"


async def test_once_the_wire_stops_listening_a_connect_is_refused_and_open_clients_are_still_served(
    tmp_path: Path,
) -> None:
    """A drain's last step (docs/operations.md, Draining): nothing answers upgrades after it, so none is taken."""
    with trio.fail_after(30):
        async with hosted_space(tmp_path) as (server, wire, url, space_id, host):
            wire.stop_listening()
            wire.stop_listening()  # idempotent
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
            await host.share_post("still served")  # returns once the server said ok: read, handled, answered
