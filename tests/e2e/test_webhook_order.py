"""The outbox of a real server replayed in order gives a space's people and roles as they were: a listener
brought on the mic at once, or who came, went on the mic and left within the audience's second, is joined
first, named, and gone when gone; the summary's peak counts the listeners who were there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from actors.space import Role
from gateway.client import connect_account
from tests.conftest import ServerProcess, start_server, stop_server

TOKEN = "admin-token-for-webhook-order"


async def space_events(server: ServerProcess, space_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}", timeout=10,
                                 headers={"authorization": f"Bearer {TOKEN}"}) as client:  # fmt: skip
        events = (await client.get("/admin/events?after=0&limit=1000")).json()["events"]
    return [e for e in events if e["space_id"] == space_id]


def replayed(events: list[dict[str, Any]]) -> dict[str, str]:
    people: dict[str, str] = {}
    for e in events:
        data = e["data"]
        if e["type"] == "space.started":
            people[data["host"]] = "host"
        elif e["type"] in ("participant.joined", "role.changed"):
            people[data["user"]] = data["role"]
        elif e["type"] == "participant.left":
            people.pop(data["user"], None)
    return people


async def test_the_outbox_replayed_in_order_has_the_right_people_roles_names_and_peak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOA_ADMIN_TOKEN", TOKEN)
    server = start_server(tmp_path / "data", "--webhook-record", "on")
    try:
        await the_tester_s_space(server)
    finally:
        assert stop_server(server) == 0


async def the_tester_s_space(server: ServerProcess) -> None:
    """outbox_order.py and outbox_name.py of the black-box tester, in one space."""
    with trio.fail_after(60):
        async with (
            connect_account(server.url, "host") as host,
            connect_account(server.url, "bea") as bea,
            connect_account(server.url, "cid") as cid,
            connect_account(server.url, "dot") as dot,
        ):
            space_id = (await host.create_space("Ordered")).space.space_id
            await bea.join_space(space_id)
            await host.set_role(bea.user, Role.SPEAKER)  # at once: within the audience's second
            await cid.join_space(space_id)
            await host.set_role(cid.user, Role.SPEAKER)
            await cid.leave_space()
            await dot.join_space(space_id)  # a listener who stays
            await trio.sleep(1.5)  # the audience's announcement is made meanwhile
            events = await space_events(server, space_id)
            assert replayed(events) == {host.user: "host", bea.user: "speaker", dot.user: "listener"}
            about_cid = [e["type"] for e in events if e["data"].get("user") == cid.user]
            assert about_cid == ["participant.joined", "role.changed", "participant.left"]
            joined = [e["data"] for e in events if e["type"] == "participant.joined"]
            assert [(j["name"], j["role"]) for j in joined] == [("bea", "listener"), ("cid", "listener"),
                                                                ("dot", "listener")]  # fmt: skip
            await host.end_space()
    summary = (await space_events(server, space_id))[-1]
    assert summary["type"] == "space.summary"
    assert (summary["data"]["peak_listeners"], summary["data"]["unique_listeners"]) == (1, 3)
