"""A space the admin API makes for an account that is not connected holds nobody until its host joins, in
every view: the 201 answer, the admin's list of participants, a guest's `joined` snapshot, the live listing
the metrics (unmoderated) and the webhooks; the host's join then puts them on the mic everywhere. While its
host is away (not joined yet, or gone), the admin API still removes and mutes in the host's name."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from actors.space import AudienceChanged, MuteChanged, ParticipantLeft, ParticipantRemoved, Role
from gateway.client import Client, RequestError, connect, connect_account
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


async def next_of(client: Client, kind: type[object]) -> object:
    while not isinstance(event := await client.next_event(), kind):
        pass
    return event


async def test_an_admin_removes_and_mutes_while_the_host_is_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the host joins (a space the admin API made) and after the host left, the admin API removes and
    mutes, and a suspension removes: all were refused (`not_in_space`: the host, in whose name they act, was
    not there), and the suspended account was only let go."""
    monkeypatch.setenv("STOA_ADMIN_TOKEN", TOKEN)
    server = start_server(tmp_path / "data")
    try:
        with trio.fail_after(60):
            async with connect_account(server.url, "ada"):
                pass  # the account exists; it is not connected
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{server.http_port}", headers={"authorization": f"Bearer {TOKEN}"}
            ) as admin:
                made = await admin.post("/admin/spaces", json={"host": "ada", "title": "Away"})
                space_id = made.json()["space_id"]
                participant = f"/admin/spaces/{space_id}/participants/{{}}"
                async with connect(server.url, "gus") as gus, connect_account(server.url, "lena") as lena:
                    await gus.join_space(space_id)
                    await lena.join_space(space_id)
                    # not joined yet: a listener is removed for good
                    removed = await admin.post(participant.format(gus.user) + "/remove")
                    assert (removed.status_code, removed.json()) == (200, {"ok": True}), removed.text
                    event = await next_of(gus, ParticipantRemoved)
                    assert isinstance(event, ParticipantRemoved) and event.user == gus.user
                    with pytest.raises(RequestError) as refused:
                        await gus.join_space(space_id)
                    assert refused.value.code == "removed"
                    # the space's rules still answer: a listener is not on the mic to mute
                    listener = await admin.post(participant.format(lena.user) + "/mute")
                    assert (listener.status_code, listener.json()["error"]) == (409, "not_a_speaker")
                    # gone: the host put lena on the mic, then left
                    async with connect_account(server.url, "ada", register=False) as ada:
                        await ada.join_space(space_id)
                        await ada.set_role(lena.user, Role.SPEAKER)
                        await ada.leave_space()
                    left = await next_of(lena, ParticipantLeft)
                    assert isinstance(left, ParticipantLeft) and left.user == ada.user
                    muted = await admin.post(participant.format(lena.user) + "/mute")
                    assert (muted.status_code, muted.json()) == (200, {"ok": True}), muted.text
                    event = await next_of(lena, MuteChanged)
                    assert isinstance(event, MuteChanged) and (event.user, event.muted) == (lena.user, True)
                    people = (await admin.get(f"/admin/spaces/{space_id}/participants")).json()["participants"]
                    assert [(p["user"], p["on_mic"], p["muted"]) for p in people] == [(lena.user, True, True)]
                    # a suspension removes its account from such a space too (it was let go as `disconnected`,
                    # a listener's departure told in the next `audience_changed`)
                    async with connect_account(server.url, "sam") as sam:
                        await sam.join_space(space_id)
                        assert (await admin.post("/admin/accounts/sam/suspend")).status_code == 200
                        while not (
                            isinstance(event := await lena.next_event(), ParticipantRemoved)
                            or isinstance(event, AudienceChanged)
                            and sam.user in [person.user for person in event.departed]
                        ):
                            pass
                        assert isinstance(event, ParticipantRemoved) and event.user == sam.user, event
                    removed = await admin.post(participant.format(lena.user) + "/remove")
                    assert removed.status_code == 200, removed.text
                    assert (await admin.get(f"/admin/spaces/{space_id}/participants")).json()["participants"] == []
    finally:
        assert stop_server(server) == 0
