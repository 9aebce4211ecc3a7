"""TURN credentials end to end: a real server process given TURN servers and the secret it shares with them
(`webrtc.turn`, `STOA_WEBRTC_TURN_SECRET`) hands each account, over its WebSocket, a credential of its own that
expires (`get_rtc_config`), in the TURN REST API scheme coturn checks with `use-auth-secret`; guests get none,
and neither the secret nor any credential is in `/config.json`. The credentials are checked as a TURN server
checks them: the HMAC recomputed here from the username and the secret, with the standard library; and by a
real coturn on loopback (`tests/e2e/coturn.py`), which allocates a relay for them and refuses a forged or
expired one, and through which chromium, allowed to use nothing but relayed candidates, speaks to the server.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import trio
from aioice.stun import TransactionFailed
from aioice.turn import create_turn_endpoint
from trio_websocket import open_websocket_url

from gateway.client import RequestError, connect, connect_account
from gateway.protocol import RtcIceServer
from gateway.webrtc import turn_credential
from tests.conftest import ServerProcess, start_server, stop_server
from tests.e2e.coturn import coturn
from tests.e2e.test_startup import serve_refused
from tests.e2e.test_webrtc_browser import ANSWER, OFFER, assert_hears_the_tone, browser_on_the_mic
from tests.e2e.wire import hello_account, hello_guest, say

SECRET = "north-wind-7c1e"
TURN = "turn:127.0.0.1:3478?transport=udp"
TURNS = "turns:turn.example.org:443?transport=tcp"
STUN = "stun:127.0.0.1:3478"
TTL_S = 600


def turn_password(secret: str, username: str) -> str:
    """What a TURN server with `use-auth-secret` expects as the password of `username` (coturn's check)."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


@pytest.fixture
def turn_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerProcess]:
    """A server told of TURN servers (never contacted: no offer is made) and their shared secret."""
    monkeypatch.setenv("STOA_WEBRTC_TURN_SECRET", SECRET)
    server = start_server(tmp_path / "data", "--stun", STUN, "--turn", TURN, "--turn", TURNS, "--turn-ttl", str(TTL_S))
    try:
        yield server
    finally:
        assert stop_server(server) == 0


async def test_each_account_gets_its_own_expiring_turn_credential_that_the_secret_verifies(
    turn_server: ServerProcess,
) -> None:
    with trio.fail_after(30):
        async with connect_account(turn_server.url, "ada") as ada, connect_account(turn_server.url, "bob") as bob:
            before = int(time.time())
            mine, theirs = await ada.rtc_config(), await bob.rtc_config()
            after = int(time.time())
    assert [s.urls for s in mine.ice_servers] == [[STUN], [TURN, TURNS]]
    stun, turn = mine.ice_servers
    assert stun.username is None and stun.credential is None
    assert turn.username is not None and turn.credential is not None
    expiry, user = turn.username.split(":", 1)
    assert user == ada.user  # the server-issued id, never a name the client picked
    assert before + TTL_S <= int(expiry) <= after + TTL_S
    assert mine.expires_at == int(expiry) * 1000
    # What the TURN server computes from the username and the secret it shares with Stoa:
    assert turn.credential == turn_password(SECRET, turn.username)
    # ... and the control: any other secret, or the same password under another user's name, fails.
    assert turn.credential != turn_password(SECRET + "x", turn.username)
    other = theirs.ice_servers[1]
    assert other.username is not None and other.username.endswith(f":{bob.user}")
    assert other.credential == turn_password(SECRET, other.username) != turn.credential


async def test_the_credential_is_a_reply_on_the_websocket_and_guests_get_none(turn_server: ServerProcess) -> None:
    """Read with the independent msgpack package, as docs/protocol.md describes it."""
    with trio.fail_after(30):
        async with open_websocket_url(turn_server.url) as ws:
            await hello_account(ws, "raw")
            reply = await say(ws, {"type": "get_rtc_config", "ref": 7})
        async with open_websocket_url(turn_server.url) as ws:
            await hello_guest(ws, "lurker")
            refused = await say(ws, {"type": "get_rtc_config", "ref": 8})
        async with connect(turn_server.url, "lurker2") as guest:
            with pytest.raises(RequestError) as error:
                await guest.rtc_config()
    assert (reply["type"], reply["ref"]) == ("rtc_config", 7)
    assert reply["ice_servers"][0] == {"urls": [STUN]}
    turn = reply["ice_servers"][1]
    assert set(turn) == {"urls", "username", "credential"}
    assert turn["credential"] == turn_password(SECRET, turn["username"])
    assert reply["expires_at"] == int(turn["username"].split(":")[0]) * 1000
    assert (refused["type"], refused["ref"], refused["code"]) == ("error", 8, "account_required")
    assert error.value.code == "account_required"


def test_config_json_holds_neither_the_secret_nor_a_turn_server(turn_server: ServerProcess) -> None:
    url = f"http://127.0.0.1:{turn_server.http_port}/config.json"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read()
    assert json.loads(body)["ice_servers"] == [{"urls": STUN}]
    assert SECRET.encode() not in body and b"turn" not in body


async def test_without_turn_servers_only_the_stun_servers_and_no_expiry(server: ServerProcess) -> None:
    with trio.fail_after(30):
        async with connect_account(server.url, "ada") as ada:
            config = await ada.rtc_config()
    assert (config.ice_servers, config.expires_at) == ([], None)


def test_turn_servers_without_their_secret_are_refused_at_start_up(tmp_path: Path) -> None:
    line = serve_refused(tmp_path / "data", "--port", "0", "--http-port", "0", "--turn", TURN)
    assert "webrtc.turn: needs webrtc.turn_secret" in line, line


@pytest.fixture
def relayed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ServerProcess, int]]:
    """A coturn on loopback, and a Stoa server whose TURN server it is (the same secret)."""
    monkeypatch.setenv("STOA_WEBRTC_TURN_SECRET", SECRET)
    with coturn(tmp_path / "turn", SECRET) as port:
        server = start_server(tmp_path / "data", "--turn", f"turn:127.0.0.1:{port}?transport=udp")
        try:
            yield server, port
        finally:
            assert stop_server(server) == 0


async def allocate(port: int, username: str, password: str) -> tuple[str, int]:
    """A TURN allocation on the coturn at `port` (aioice's TURN client, as a browser's ICE agent makes one);
    returns the relayed address. Raises aioice's `TransactionFailed` when coturn refuses the credential."""
    transport, _ = await create_turn_endpoint(asyncio.DatagramProtocol, ("127.0.0.1", port), username, password)
    try:
        relayed: tuple[str, int] = transport.get_extra_info("sockname")
        return relayed
    finally:
        transport.close()


async def allocated(port: int, username: str, password: str) -> tuple[str, int] | str:
    """`allocate` in a worker thread's own asyncio loop: the relayed address, or the error code coturn gave."""

    async def attempt() -> tuple[str, int] | str:
        try:
            return await allocate(port, username, password)
        except TransactionFailed as refused:
            code, reason = refused.response.attributes["ERROR-CODE"]
            return f"{code} {reason}"

    return await trio.to_thread.run_sync(asyncio.run, attempt())


async def test_coturn_relays_for_the_credential_and_refuses_a_forged_or_expired_one(
    relayed: tuple[ServerProcess, int],
) -> None:
    server, port = relayed
    with trio.fail_after(60):
        async with connect_account(server.url, "ada") as ada:
            turn = (await ada.rtc_config()).ice_servers[0]
    assert turn.urls == [f"turn:127.0.0.1:{port}?transport=udp"]
    assert turn.username is not None and turn.credential is not None
    with trio.fail_after(60):
        address = await allocated(port, turn.username, turn.credential)
        assert isinstance(address, tuple) and address[0] == "127.0.0.1", address
        # The controls: the same username with a password made from another secret; another user's name with
        # this password; a credential made with the right secret whose expiry has passed.
        forged = turn_password(SECRET + "x", turn.username)
        assert await allocated(port, turn.username, forged) == "401 Unauthorized"
        other_user = turn.username.split(":")[0] + ":u999"
        assert await allocated(port, other_user, turn.credential) == "401 Unauthorized"
        expired = turn_credential(SECRET, ada.user, time.time() - 2 * TTL_S, TTL_S)
        assert await allocated(port, expired.username, expired.password) == "401 Unauthorized"


# The type of the local candidate the connection runs over: the transport's selected pair, which chromium's
# stats may name a moment after the connection state says "connected" (so the page asks again until they do).
SELECTED = """async () => {
  for (;;) {
    const stats = await window.pc.getStats();
    for (const s of stats.values()) {
      const pair = s.type === "transport" && s.selectedCandidatePairId && stats.get(s.selectedCandidatePairId);
      if (pair && pair.state === "succeeded") {
        return stats.get(pair.localCandidateId).candidateType;
      }
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}"""


def relay_only(ice_servers: list[dict[str, object]]) -> dict[str, object]:
    """The RTCConfiguration of a browser that may use nothing but relayed candidates (TURN)."""
    return {"iceServers": ice_servers, "iceTransportPolicy": "relay"}


def candidate_types(sdp: str) -> list[str]:
    return [line.split(" typ ")[1].split()[0] for line in sdp.splitlines() if line.startswith("a=candidate:")]


@pytest.mark.serial  # a browser's microphone over WebRTC, heard within deadlines
async def test_a_browser_that_can_only_relay_speaks_through_turn_with_its_own_credential(
    relayed: tuple[ServerProcess, int], tmp_path: Path
) -> None:
    """Chromium with `iceTransportPolicy: "relay"` (as behind a firewall that lets nothing through but the TURN
    server) gathers a relayed candidate only if coturn takes its credential; its microphone then reaches a
    WebSocket listener through coturn. The control: with a forged password it gathers no candidate at all."""
    server, _ = relayed
    with trio.fail_after(120):
        async with browser_on_the_mic(server, tmp_path, "Through TURN") as s:
            servers = [as_dictionary(entry) for entry in (await s.ada.rtc_config()).ice_servers]
            forged = [{**entry, "credential": turn_password("not the secret", str(entry["username"]))}
                      for entry in servers]  # fmt: skip
            assert candidate_types(await s.browser.evaluate(OFFER, relay_only(forged))) == []
            offer = await s.browser.evaluate(OFFER, relay_only(servers))
            assert candidate_types(offer) and set(candidate_types(offer)) == {"relay"}, offer
            assert await s.browser.evaluate(ANSWER, await s.ada.rtc_offer(offer)) == "connected"
            assert await s.browser.evaluate(SELECTED) == "relay"
            await assert_hears_the_tone(s.lis)


def as_dictionary(entry: RtcIceServer) -> dict[str, object]:
    """An `rtc_config` entry as the page's `RTCIceServer` dictionary (its fields; nil ones left out)."""
    return {k: v for k, v in msgspec.structs.asdict(entry).items() if v is not None}
