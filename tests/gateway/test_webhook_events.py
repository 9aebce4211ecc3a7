"""The webhook events of a space's commits, replayed in order by a back-end, give the space's people and roles
as they are: a listener's arrival comes before anything else about them, one who came and went is both, in
order, and the summary's peak counts the listeners who were there."""

from __future__ import annotations

import json

from actors.space import NO_CHURN, Churn, Role, SpaceEvent, SpaceState
from actors.space.commands import EndSpace, Join, Leave, SetRole
from actors.space.domain import announce_audience, apply, apply_joins, apply_leaves, listener_churn, new_space
from gateway.webhooks import _events
from store import NewWebhookEvent, WebhookEvent
from tests.space.fakes import NoLink


class Space:
    """A space's commits, as its actor makes them, and the webhook rows each writes."""

    def __init__(self, host_present: bool = True) -> None:
        self.state = new_space("s1", "Hooked", "host", 0, host_name="Host", host_present=host_present)
        self.rows: list[NewWebhookEvent] = [_events.space_started(self.state)]
        self.now = 0

    def commit(self, state: SpaceState, events: list[SpaceEvent], churn: Churn = NO_CHURN) -> None:
        self.rows += _events.from_space(self.state, state, events, churn)
        self.state = state

    def join(self, user: str, name: str) -> None:
        self.now += 10
        state, events, _ = apply_joins(self.state, [Join(user, NoLink(), name)], self.now)
        self.commit(state, events, listener_churn(self.state, state, [(user, name)], self.now))

    def leave(self, user: str) -> None:
        self.now += 10
        state, events, _ = apply_leaves(self.state, [Leave(user)], self.now)
        self.commit(state, events, listener_churn(self.state, state, [(user, "left")], self.now))

    def apply(self, command: SetRole | EndSpace) -> None:
        self.now += 10
        self.commit(*apply(self.state, command, self.now))

    def announce(self) -> None:
        self.now += 1000
        self.commit(*announce_audience(self.state, self.now))

    def replayed(self) -> dict[str, str]:
        """Who is present with which role, by replaying the rows in order (as a back-end would)."""
        people: dict[str, str] = {}
        for row in self.rows:
            data = json.loads(row.data)
            if row.type == "space.started" and data["host_present"]:
                people[data["host"]] = Role.HOST.value
            elif row.type in ("participant.joined", "role.changed"):
                people[data["user"]] = data["role"]
            elif row.type == "participant.left":
                people.pop(data["user"], None)
        return people

    def truth(self) -> dict[str, str]:
        return {user: role.value for user, role in self.state.roles.items()}


def test_a_listener_brought_on_the_mic_at_once_is_replayed_as_a_speaker() -> None:
    space = Space()
    space.join("b", "B")
    space.apply(SetRole("host", "b", Role.SPEAKER))
    space.announce()
    assert [r.type for r in space.rows] == ["space.started", "participant.joined", "role.changed"]
    assert space.replayed() == space.truth() == {"host": "host", "b": "speaker"}


def test_a_listener_who_came_went_on_the_mic_and_left_is_joined_then_left_with_their_name() -> None:
    space = Space()
    space.join("c", "C")
    space.apply(SetRole("host", "c", Role.SPEAKER))
    space.leave("c")
    space.join("d", "D")
    space.leave("d")
    space.announce()
    kinds = [(r.type, json.loads(r.data).get("user")) for r in space.rows[1:]]
    assert kinds == [("participant.joined", "c"), ("role.changed", "c"), ("participant.left", "c"),
                     ("participant.joined", "d"), ("participant.left", "d")]  # fmt: skip
    assert [json.loads(r.data)["name"] for r in space.rows if r.type == "participant.joined"] == ["C", "D"]
    assert space.replayed() == space.truth() == {"host": "host"}


def test_the_summary_counts_the_peak_of_listeners_present() -> None:
    space = Space()
    for user in ("a", "b", "c"):
        space.join(user, user.upper())
    space.leave("a")
    space.announce()
    space.apply(EndSpace("host"))
    stored = [WebhookEvent(i, r.type, r.data, r.space_id, i, space.now) for i, r in enumerate(space.rows, 1)]
    summary = json.loads(_events.summary("s1", 0, space.now, stored).data)
    assert (summary["peak_listeners"], summary["unique_listeners"]) == (3, 3)
    counts = [json.loads(r.data)["listener_count"] for r in space.rows if r.type.startswith("participant.")]
    assert counts == [1, 2, 3, 2]


def test_a_host_who_joins_the_space_made_for_them_is_replayed_and_timed_on_the_mic_from_their_join() -> None:
    space = Space(host_present=False)
    space.join("b", "B")
    assert space.replayed() == space.truth() == {"b": "listener"}
    space.now = 5_000
    space.join("host", "Host")
    assert space.replayed() == space.truth() == {"b": "listener", "host": "host"}
    space.apply(EndSpace("host"))
    stored = [WebhookEvent(i, r.type, r.data, r.space_id, i, space.now) for i, r in enumerate(space.rows, 1)]
    summary = json.loads(_events.summary("s1", 0, space.now, stored).data)
    assert summary["speaking_ms"] == {"host": space.now - 5_010}
