"""What back-ends are told: the webhook events made from a space's events, and the summary of an ended space.

Types (the `type` of each delivery; `data` as below, times in unix milliseconds):
- `space.started`: space_id, title, host, at, host_present (false for a space made for its host, until they join)
- `participant.joined`: user, name, role, at, listener_count (a listener's, from the commit that let them in)
- `participant.left`: user, reason ("left", "disconnected", "removed"), at, listener_count
- `role.changed`: user, role, by, at
- `post.shared`: post_id, user, name, text, at
- `hand.raised`: user, at
- `space.ended`: reason, at
- `space.summary`: duration_ms, peak_listeners, unique_listeners, speaking_ms (user -> ms on the mic), posts,
  hands_raised
- `account.suspended`, `account.restored`: user, handle, at
- `recording.started`: recording_id, by, at
- `recording.stopped`: recording_id, by (nil when the space's end stopped it), reason ("stopped",
  "space_ended"), at, duration_ms (wall clock since it started)
"""

from __future__ import annotations

from typing import Any

import msgspec

import store
from actors.space import (
    NO_CHURN,
    Churn,
    HandRaised,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantRemoved,
    PostShared,
    RecordingChanged,
    Role,
    RoleChanged,
    SpaceEnded,
    SpaceEvent,
    SpaceState,
)

_json = msgspec.json.encode


def _event(kind: str, space_id: str | None, **data: Any) -> store.NewWebhookEvent:
    return store.NewWebhookEvent(kind, _json(data).decode(), space_id)


def space_started(state: SpaceState) -> store.NewWebhookEvent:
    return _event("space.started", state.space_id, title=state.title, host=state.host, at=state.created_at,
                  host_present=state.host in state.roles)  # fmt: skip


def account_event(kind: str, user: str, handle: str, at: int) -> store.NewWebhookEvent:
    return _event(kind, None, user=user, handle=handle, at=at)


def from_space(
    before: SpaceState, after: SpaceState, events: list[SpaceEvent], churn: Churn = NO_CHURN
) -> list[store.NewWebhookEvent]:
    """The webhook events of one commit of a space (`before` -> `after`), in the order they happened.

    Listeners' arrivals and departures are written from the commit that made them (`churn`), each with the
    listener count just after it, never from `audience_changed` (a second later, netted and its names capped):
    so a listener's `participant.joined` precedes every other event about them, and one who came and went
    within that second has both, in order."""
    sid = after.space_id
    out = _churn_events(after, churn)
    for e in events:
        if isinstance(e, ParticipantJoined):
            out.append(_event("participant.joined", sid, user=e.user, name=e.name, role=e.role.value, at=e.at,
                              listener_count=after.listener_count))  # fmt: skip
        elif isinstance(e, ParticipantLeft):
            out.append(_event("participant.left", sid, user=e.user, reason=e.reason, at=e.at,
                              listener_count=after.listener_count))  # fmt: skip
        elif isinstance(e, ParticipantRemoved):
            out.append(_event("participant.left", sid, user=e.user, reason="removed", by=e.by, at=e.at,
                              listener_count=after.listener_count))  # fmt: skip
        elif isinstance(e, RoleChanged):
            out.append(_event("role.changed", sid, user=e.user, role=e.role.value, by=e.by, at=e.at))
        elif isinstance(e, PostShared):
            p = e.post
            out.append(_event("post.shared", sid, post_id=p.id, user=p.user, name=p.name, text=p.text, at=p.at))
        elif isinstance(e, HandRaised):
            out.append(_event("hand.raised", sid, user=e.user, at=e.at))
        elif isinstance(e, RecordingChanged):
            out.append(_recording_event(before, e.recording_id or "", e.on, e.by, e.at))
        elif isinstance(e, SpaceEnded):
            recording = before.live_recording
            if recording is not None:
                out.append(_recording_event(before, recording.recording_id, False, None, e.at))
            out.append(_event("space.ended", sid, reason=e.reason, at=e.at))
    return out


def _churn_events(after: SpaceState, churn: Churn) -> list[store.NewWebhookEvent]:
    """One row per listener a run of joins let in, or a run of leaves let go (a run is one or the other), each
    with the listener count as it was just after it."""
    sid, at, count = after.space_id, churn.at, after.listener_count
    arrived, departed = churn.arrived, churn.departed
    out = [_event("participant.joined", sid, user=user, name=after.name_of(user), role=Role.LISTENER.value, at=at,
                  listener_count=count - len(arrived) + 1 + i) for i, user in enumerate(arrived)]  # fmt: skip
    out += [_event("participant.left", sid, user=user, reason=why, at=at,
                   listener_count=count + len(departed) - 1 - i) for i, (user, why) in enumerate(departed)]  # fmt: skip
    return out


def _recording_event(before: SpaceState, recording_id: str, on: bool, by: str | None, at: int) -> store.NewWebhookEvent:
    sid = before.space_id
    if on:
        return _event("recording.started", sid, recording_id=recording_id, by=by, at=at)
    started = before.recording.started_at if before.recording is not None else at
    reason = "stopped" if by is not None else "space_ended"
    return _event("recording.stopped", sid, recording_id=recording_id, by=by, reason=reason, at=at,
                  duration_ms=max(0, at - started))  # fmt: skip


def summary(space_id: str, created_at: int, ended_at: int, rows: list[store.WebhookEvent]) -> store.NewWebhookEvent:
    """The `space.summary` of a space from its events in the outbox (so it holds across restarts).

    Speaking time is time on the mic (host, co-host or speaker role while present), not measured voice."""
    decode = msgspec.json.decode
    on_mic_since: dict[str, int] = {}
    speaking: dict[str, int] = {}
    listeners: set[str] = set()
    peak = posts = hands = 0

    def stop(user: str, at: int) -> None:
        since = on_mic_since.pop(user, None)
        if since is not None:
            speaking[user] = speaking.get(user, 0) + max(0, at - since)

    for row in rows:
        data = decode(row.data)
        at = int(data.get("at", ended_at))
        peak = max(peak, int(data.get("listener_count", 0)))
        if row.type == "space.started":
            if data.get("host_present", True):  # (rows written before it was said: the host was)
                on_mic_since[data["host"]] = at
        elif row.type == "participant.joined":
            if data["role"] == Role.LISTENER.value:
                listeners.add(data["user"])
            else:
                on_mic_since.setdefault(data["user"], at)
        elif row.type == "participant.left":
            stop(data["user"], at)
        elif row.type == "role.changed":
            if Role(data["role"]).on_mic:
                on_mic_since.setdefault(data["user"], at)
            else:
                stop(data["user"], at)
        elif row.type == "post.shared":
            posts += 1
        elif row.type == "hand.raised":
            hands += 1
    for user in list(on_mic_since):
        stop(user, ended_at)
    return _event("space.summary", space_id, duration_ms=max(0, ended_at - created_at), peak_listeners=peak,
                  unique_listeners=len(listeners), speaking_ms=speaking, posts=posts, hands_raised=hands)  # fmt: skip
