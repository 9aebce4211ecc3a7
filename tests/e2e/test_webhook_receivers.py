"""Webhook receivers registered through the admin API, on a real server process, delivering to real receivers
(Trio HTTP servers in this test): each gets the events committed after its registration, in order, signed with
its own secret; one removed gets nothing more; a registered one survives a restart; `stoa admin` wraps it."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from gateway.client import connect_account
from tests.conftest import ServerProcess, run_stoa, start_server, stop_server
from tests.e2e.test_metrics import samples, value
from tests.e2e.test_webhooks import Receiver, valid_signature

TOKEN = "admin-token-for-receiver-tests"


def admin(server: ServerProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}", timeout=10,
                             headers={"authorization": f"Bearer {TOKEN}"})  # fmt: skip


@asynccontextmanager
async def receiving(*receivers: Receiver) -> AsyncIterator[list[str]]:
    """Serve each receiver on its own loopback port; yields their URLs."""
    async with trio.open_nursery() as nursery:
        urls = []
        for receiver in receivers:
            listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
            urls.append(f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}/hook")
            nursery.start_soon(trio.serve_listeners, receiver.handle, listeners)
        yield urls
        nursery.cancel_scope.cancel()


def events(receiver: Receiver) -> list[dict[str, Any]]:
    """What it received, each id once (at least once: a delivery may come twice), in order of arrival."""
    seen: dict[str, dict[str, Any]] = {}
    for headers, body in receiver.deliveries:
        seen.setdefault(headers["webhook-id"], json.loads(body))
    return list(seen.values())


async def until(receiver: Receiver, done: Callable[[list[dict[str, Any]]], bool]) -> None:
    while not done(events(receiver)):
        await receiver.changed.wait()


def has_post(text: str) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda got: any(e["type"] == "post.shared" and e["data"]["text"] == text for e in got)


def posts(got: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["text"] for e in got if e["type"] == "post.shared"]


async def backlog_when(server: ServerProcess, wanted: Callable[[float], bool]) -> float:
    """`stoa_webhook_backlog`, read from /metrics until `wanted` says yes."""
    while True:
        found = value(await trio.to_thread.run_sync(samples, server), "stoa_webhook_backlog")
        if wanted(found):
            return found
        await trio.sleep(0.1)


def key_of(secret: str) -> bytes:
    assert secret.startswith("whsec_")
    return base64.b64decode(secret[len("whsec_") :])


async def test_registered_receivers_get_the_events_after_their_creation_in_order_with_their_own_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOA_ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("STOA_WEBHOOKS_RETRY_MAX", "0.5")
    data = tmp_path / "data"
    server = start_server(data)  # no receiver in the settings, no record: nothing is written until one registers
    first, second = Receiver(), Receiver()
    try:
        with trio.fail_after(90):
            async with receiving(first, second) as (first_url, second_url), admin(server) as api:
                async with connect_account(server.url, "host") as host:
                    space_id = (await host.create_space("Hooked later")).space.space_id
                    await host.share_post("before any receiver")
                    answer = await api.post("/admin/webhooks", json={"url": first_url})
                    assert answer.status_code == 201, answer.text
                    made_first = answer.json()
                    await host.share_post("first only")
                    await until(first, has_post("first only"))
                    made_second = (await api.post("/admin/webhooks", json={"url": second_url})).json()
                    assert made_second["secret"] != made_first["secret"]
                    assert made_second["starts_after"] > made_first["starts_after"]
                    await host.share_post("both")
                    async with connect_account(server.url, "lena") as lena:
                        await lena.join_space(space_id)
                        await host.share_post("both again")
                        await until(first, has_post("both again"))
                        await until(second, has_post("both again"))

                    listed = await api.get("/admin/webhooks")
                    assert "whsec_" not in listed.text  # a secret is shown once, at its creation
                    rows = {row["id"]: row for row in listed.json()["webhooks"]}
                    assert set(rows) == {made_first["id"], made_second["id"]}
                    assert rows[made_first["id"]]["url"] == first_url
                    # (its cursor moves once the receiver's 200 is read: at most what the receiver has seen)
                    delivered = rows[made_first["id"]]["delivered_id"]
                    assert made_first["starts_after"] < delivered <= events(first)[-1]["id"]

                    removed = await api.delete(f"/admin/webhooks/{made_first['id']}")
                    assert removed.status_code == 200, removed.text
                    again = await api.delete(f"/admin/webhooks/{made_first['id']}")
                    assert (again.status_code, again.json()["error"]) == (404, "not_found")
                    bad = await api.post("/admin/webhooks", json={"url": "ftp://example.org/"})
                    assert (bad.status_code, bad.json()["error"]) == (400, "bad_argument")
                    await host.share_post("second only")
                    await until(second, has_post("second only"))
                    await trio.sleep(0.5)  # what the first would have got by now, if it still got anything
                    outbox = (await api.get("/admin/events?after=0&limit=1000")).json()["events"]

                # Across a restart the registered receiver is still there, with its secret and its cursor.
                assert stop_server(server) == 0
                server = start_server(data)
                async with admin(server) as api2, connect_account(server.url, "host", register=False) as host:
                    assert [row["id"] for row in (await api2.get("/admin/webhooks")).json()["webhooks"]] == [
                        made_second["id"]
                    ]
                    await host.join_space(space_id)
                    await host.share_post("after the restart")
                    await host.end_space()
                    await until(second, lambda got: bool(got) and got[-1]["type"] == "space.summary")
    finally:
        stop_server(server)

    got_first, got_second = events(first), events(second)
    # Each got exactly the outbox's events from after its registration, in order (the first until its removal).
    assert "before any receiver" not in posts(outbox)  # with no receiver, nothing was written
    assert [e["id"] for e in got_first] == [e["id"] for e in outbox if e["id"] > made_first["starts_after"]][
        : len(got_first)
    ]
    assert posts(got_first) == ["first only", "both", "both again"]
    last_before_restart = outbox[-1]["id"]
    assert [e["id"] for e in got_second if e["id"] <= last_before_restart] == [
        e["id"] for e in outbox if e["id"] > made_second["starts_after"]
    ]
    assert posts(got_second) == ["both", "both again", "second only", "after the restart"]
    assert {"participant.joined", "space.ended", "space.summary"} <= {e["type"] for e in got_second}
    for got in (got_first, got_second):
        ids = [e["id"] for e in got]
        assert ids == sorted(ids)
        seqs = [e["space_seq"] for e in got if e["space_id"] == space_id]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # in order per space, none missing
    # Each delivery is signed with its own receiver's secret, not another's (the control).
    for receiver, mine, other in ((first, made_first, made_second), (second, made_second, made_first)):
        for headers, body in receiver.deliveries:
            assert valid_signature(key_of(mine["secret"]), headers, body)
            assert not valid_signature(key_of(other["secret"]), headers, body)


async def test_stoa_admin_registers_lists_and_removes_receivers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOA_ADMIN_TOKEN", TOKEN)
    server = start_server(tmp_path / "data", "--webhook-url", "http://127.0.0.1:9/from-settings")
    url = f"http://127.0.0.1:{server.http_port}"

    async def stoa_admin(*args: str) -> subprocess.CompletedProcess[str]:
        return await run_stoa("admin", "--url", url, *args)

    try:
        with trio.fail_after(60):
            added = await stoa_admin("add-webhook", "http://127.0.0.1:9/registered")
            assert added.returncode == 0, added.stderr
            made = json.loads(added.stdout)
            assert made["secret"].startswith("whsec_")
            # Both receivers are down (nothing listens on port 9): the events wait, and the metric shows them.
            async with connect_account(server.url, "host") as host:
                await host.create_space("Nobody hears this")
                await host.share_post("waiting")
            backlog = await backlog_when(server, lambda n: n >= 4)  # each receiver: at least started and post
            listed = json.loads((await stoa_admin("webhooks")).stdout)["webhooks"]
            assert [(row["id"], row["url"]) for row in listed] == [
                (None, "http://127.0.0.1:9/from-settings"),  # the settings' receiver: listed, not removable
                (made["id"], "http://127.0.0.1:9/registered"),
            ]
            assert (await stoa_admin("remove-webhook", str(made["id"]))).returncode == 0
            missing = await stoa_admin("remove-webhook", str(made["id"]))
            assert missing.returncode == 1 and "not_found" in missing.stderr
            listed = json.loads((await stoa_admin("webhooks")).stdout)["webhooks"]
            assert [row["id"] for row in listed] == [None]
            assert listed[0]["backlog"] * 2 >= backlog and listed[0]["failures"] > 0
            await backlog_when(server, lambda n: 0 < n < backlog)  # the removed one's events no longer count
    finally:
        assert stop_server(server) == 0
