"""Webhooks from a real server process to a real receiver (a Trio HTTP server in this test): the receiver is
down for the first 10 s, and the server is killed with SIGKILL meanwhile and started again; once the receiver
is up it gets every event of the outbox, in order, none missing, each signature valid, and the space's
summary."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from actors.space import Role
from gateway.client import connect_account
from tests.conftest import ServerProcess, start_server, stop_server

TOKEN = "admin-token-for-webhook-tests"
DOWN_S = 10.0


class Receiver:
    """A minimal HTTP/1.1 server: records each request's headers and body, answers 200."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.changed = trio.Event()

    async def handle(self, stream: trio.SocketStream) -> None:
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                data = await stream.receive_some(65536)
                if not data:
                    return
                buffer += data
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            assert lines[0].startswith("POST /hook "), lines[0]
            headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
            length = int(headers.get("content-length", "0"))
            while len(buffer) < length:
                buffer += await stream.receive_some(65536)
            body, buffer = buffer[:length], buffer[length:]
            self.deliveries.append((headers, body))
            self.changed.set()
            self.changed = trio.Event()
            await stream.send_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def valid_signature(key: bytes, headers: dict[str, str], body: bytes) -> bool:
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [part.split(",", 1)[1] for part in headers["webhook-signature"].split() if part.startswith("v1,")]
    return any(hmac.compare_digest(expected, g) for g in given)


async def outbox(server: ServerProcess) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}", timeout=10,
                                 headers={"authorization": f"Bearer {TOKEN}"}) as client:  # fmt: skip
        return list((await client.get("/admin/events?after=0&limit=1000")).json()["events"])


async def test_a_receiver_down_for_10_s_gets_every_event_in_order_across_a_sigkill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = os.urandom(32)
    port = free_port()
    monkeypatch.setenv("STOA_ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("STOA_WEBHOOKS_URLS", f"http://127.0.0.1:{port}/hook")
    monkeypatch.setenv("STOA_WEBHOOKS_SECRET", "whsec_" + base64.b64encode(key).decode())
    monkeypatch.setenv("STOA_WEBHOOKS_RETRY_MAX", "0.5")
    data = tmp_path / "data"
    receiver = Receiver()
    started = time.monotonic()
    server = start_server(data)
    acknowledged: list[str] = []
    try:
        with trio.fail_after(120):
            async with connect_account(server.url, "host") as host, connect_account(server.url, "lena") as lena:
                space_id = (await host.create_space("Hooked")).space.space_id
                await lena.join_space(space_id)
                await lena.raise_hand()
                await host.set_role(lena.user, Role.SPEAKER)
                for text in ("first", "second"):
                    await host.share_post(text)
                    acknowledged.append(text)
                server.proc.kill()  # SIGKILL: no drain, no goodbye
                server.proc.wait()
            server = start_server(data)
            async with connect_account(server.url, "host", register=False) as host:
                await host.join_space(space_id)
                await host.share_post("after the kill")
                acknowledged.append("after the kill")
                await host.end_space()
            async with httpx.AsyncClient(timeout=10, headers={"authorization": f"Bearer {TOKEN}"}) as admin:
                await admin.post(f"http://127.0.0.1:{server.http_port}/admin/accounts/lena/suspend")
            expected = await outbox(server)
            assert not receiver.deliveries
            await trio.sleep(max(0.0, started + DOWN_S - time.monotonic()))  # the receiver has been down 10 s
            async with trio.open_nursery() as nursery:
                listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
                nursery.start_soon(trio.serve_listeners, receiver.handle, listeners)
                while len({h["webhook-id"] for h, _ in receiver.deliveries}) < len(expected):
                    await receiver.changed.wait()
                nursery.cancel_scope.cancel()
    finally:
        stop_server(server)

    # At least once: a delivery acknowledged just before the kill may come again, with the same id.
    first: dict[str, dict[str, Any]] = {}
    for headers, body in receiver.deliveries:
        assert valid_signature(key, headers, body), headers
        event = json.loads(body)
        assert headers["webhook-id"] == f"msg_{event['id']}"
        first.setdefault(headers["webhook-id"], event)
    received = list(first.values())
    assert [e["id"] for e in received] == [e["id"] for e in expected]  # every one, in order, none missing
    assert [e["id"] for e in received] == sorted(e["id"] for e in received)
    for e, x in zip(received, expected, strict=True):
        assert (e["type"], e["space_seq"], e["data"]) == (x["type"], x["space_seq"], x["data"])
    seqs = [e["space_seq"] for e in received if e["space_id"] == space_id]
    assert seqs == list(range(1, len(seqs) + 1))  # the space's own numbering: no gap
    kinds = [e["type"] for e in received]
    assert kinds[0] == "space.started" and kinds[-3:] == ["space.ended", "space.summary", "account.suspended"]
    posts = [e["data"]["text"] for e in received if e["type"] == "post.shared"]
    assert posts == acknowledged  # every post the server acknowledged, the ones before the kill too
    assert {"participant.joined", "role.changed", "hand.raised"} <= set(kinds)
    summary = next(e["data"] for e in received if e["type"] == "space.summary")
    assert (summary["posts"], summary["hands_raised"]) == (3, 1)
    assert summary["duration_ms"] > 0 and summary["speaking_ms"]
