"""A restarted server process brings back its live spaces with their timelines, description, topics,
speaker policy and standing invitations, and never reuses an event number."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from actors.space import PostShared, Role, RoleChanged, SpeakerPolicy
from gateway.client import RequestError, connect, connect_account
from tests.conftest import start_server, stop_server
from tests.e2e.test_accounts import new_account


async def test_a_restart_keeps_live_spaces_timelines_and_event_numbers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    try:
        with trio.fail_after(30):
            async with connect_account(first.url, "ada") as ada, connect(first.url, "sam") as guest:
                joined = await ada.create_space("Survives restarts")
                space_id, ada_id = joined.space.space_id, ada.user
                await ada.share_post("before the restart")
                await ada.share_post("still before")
                event = await ada.next_event()
                while not isinstance(event, PostShared) or event.post.text != "still before":
                    event = await ada.next_event()
                last_seq = event.seq
                guest_id, guest_token = guest.user, guest.guest_token
    finally:
        assert stop_server(first) == 0

    second = start_server(data)
    try:
        with trio.fail_after(30):
            async with connect(second.url, guest_token=guest_token) as guest_again:  # signed with the store's key
                assert guest_again.user == guest_id and guest_again.guest_token == guest_token
            async with connect_account(second.url, "lena") as lena:
                snapshot = (await lena.join_space(space_id)).space
                assert snapshot.title == "Survives restarts"
                assert (snapshot.host, snapshot.host_name) == (ada_id, "ada")
                assert [(p.user, p.name, p.text) for p in snapshot.timeline] == [
                    (ada_id, "ada", "before the restart"),
                    (ada_id, "ada", "still before"),
                ]
                assert snapshot.seq > last_seq, "event numbers jump forward after a restart, never back"
                await lena.share_post("after the restart")
                event = await lena.next_event()
                while not isinstance(event, PostShared):
                    event = await lena.next_event()
                assert event.post.id == 3 and event.seq > snapshot.seq
                assert (event.post.user, event.post.name) == (lena.user, "lena")
            async with connect_account(second.url, "ada", register=False) as ada:
                assert ada.user == ada_id
                again = await ada.join_space(space_id)
                assert again.role == "host", "the host, rejoining, is host again"
    finally:
        assert stop_server(second) == 0


async def test_a_restart_keeps_the_details_the_speaker_policy_and_standing_invitations(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    try:
        with trio.fail_after(30):
            hana, finn, nora = [await new_account(first.url, name) for name in ("hana", "finn", "nora")]
            async with connect(first.url, token=hana) as host, connect(first.url, token=finn) as early:
                joined = await host.create_space(
                    "Invited only", SpeakerPolicy.FOLLOWING, description="Kept", topics=("radio",)
                )
                space_id = joined.space.space_id
                await host.set_speaker_policy(SpeakerPolicy.INVITED)
                await early.join_space(space_id)
                await host.invite_speaker("finn")
                await early.accept_invite()  # used up: not brought back
                event = await early.next_event()
                while not (isinstance(event, RoleChanged) and event.user == early.user):
                    event = await early.next_event()
                assert event.role == Role.SPEAKER
                await host.invite_speaker("nora")  # not in the space yet: the invitation stands
    finally:
        assert stop_server(first) == 0

    second = start_server(data)
    try:
        with trio.fail_after(30):
            async with connect(second.url, token=nora) as invited, connect(second.url, token=finn) as used:
                snapshot = (await invited.join_space(space_id)).space
                assert snapshot.speaker_policy == SpeakerPolicy.INVITED
                assert (snapshot.description, snapshot.topics) == ("Kept", ["radio"])
                [live] = (await invited.list_spaces("live")).live
                assert live.topics == ["radio"]
                await invited.accept_invite()
                await used.join_space(space_id)
                with pytest.raises(RequestError) as refused:
                    await used.accept_invite()
                assert refused.value.code == "not_invited"
    finally:
        assert stop_server(second) == 0
