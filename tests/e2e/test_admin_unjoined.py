"""A space the admin API makes for an account that is not connected holds nobody until its host joins, in
every view: the 201 answer, the admin's list of participants, a guest's `joined` snapshot, the live listing
the metrics (unmoderated) and the webhooks; the host's join then puts them on the mic everywhere."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from gateway.client import connect, connect_account
from tests.conftest import start_server, stop_server

TOKEN = "admin-token-for-unjoined-hosts"
METRICS = "metrics-token-for-unjoined-hosts"


async def test_an_admin_made_space_shows_no_one_on_the_mic_until_its_host_joins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOA_ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("STOA_METRICS_TOKEN", METRICS)
    server = start_server(tmp_path / "data", "--webhook-record", "on")
    base = f"http://127.0.0.1:{server.http_port}"
    try:
        with trio.fail_after(60):
            async with connect_account(server.url, "ada"):
                pass  # the account exists; it is not connected from here on
            async with httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {TOKEN}"}) as admin:
                made = await admin.post("/admin/spaces", json={"host": "ada", "title": "Made for ada"})
                assert made.status_code == 201, made.text
                space_id = made.json()["space_id"]
                assert made.json()["participants"] == 0
                listed = (await admin.get("/admin/spaces")).json()["spaces"]
                assert [s["participants"] for s in listed if s["space_id"] == space_id] == [0]
                people = f"/admin/spaces/{space_id}/participants"
                assert (await admin.get(people)).json()["participants"] == []
                metrics = await admin.get("/metrics", headers={"authorization": f"Bearer {METRICS}"})
                assert 'stoa_spaces{state="unmoderated"} 1' in metrics.text
                async with connect(server.url, "guest") as guest:
                    snapshot = (await guest.join_space(space_id)).space
                    assert (snapshot.participants, snapshot.listener_count) == ([], 1)
                    live = (await guest.list_spaces("live")).live
                    assert [s.speaker_count for s in live if s.space_id == space_id] == [0]
                    async with connect_account(server.url, "ada", register=False) as ada:
                        snapshot = (await ada.join_space(space_id)).space
                        assert [(p.user, p.role.value) for p in snapshot.participants] == [(ada.user, "host")]
                        on_mic = {p["user"]: p["on_mic"] for p in (await admin.get(people)).json()["participants"]}
                        assert on_mic == {guest.user: False, ada.user: True}
                        live = (await guest.list_spaces("live")).live
                        assert [s.speaker_count for s in live if s.space_id == space_id] == [1]
                        metrics = await admin.get("/metrics", headers={"authorization": f"Bearer {METRICS}"})
                        assert 'stoa_spaces{state="unmoderated"} 0' in metrics.text
                outbox = (await admin.get("/admin/events?after=0&limit=1000")).json()["events"]
                hooks = [(e["type"], e["data"].get("host_present"), e["data"].get("role")) for e in outbox
                         if e["space_id"] == space_id and e["data"].get("user", ada.user) == ada.user]  # fmt: skip
                assert hooks[:2] == [("space.started", False, None), ("participant.joined", None, "host")]
    finally:
        assert stop_server(server) == 0
