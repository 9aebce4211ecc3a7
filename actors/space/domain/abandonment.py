"""Abandonment: a live space whose host and co-hosts have all been gone for the grace period ends.

`track` keeps `SpaceState.unmoderated_since` true after every change (the domain's `apply` calls it);
`check_abandoned` is the rule itself, a pure function of the state, the grace and the time.
"""

from __future__ import annotations

from actors.space.domain.authority import Result, replace
from actors.space.events import SpaceEnded
from actors.space.values import SpaceState, SpaceStatus


def moderator_present(state: SpaceState) -> bool:
    """The host or a co-host is in the space (they are on the mic: at most 13 to look at)."""
    return any(state.roles[user].moderates for user in state.on_mic)


def track(before: SpaceState, after: SpaceState, now_ms: int) -> SpaceState:
    """`after` with `unmoderated_since` set when its last moderator just left, cleared when one is back."""
    if moderator_present(after):
        since = None
    else:
        since = before.unmoderated_since if before.unmoderated_since is not None else now_ms
    return after if since == after.unmoderated_since else replace(after, unmoderated_since=since)


def check_abandoned(state: SpaceState, grace_ms: int, now_ms: int) -> Result:
    """End the space with reason `abandoned` if no moderator has been present for `grace_ms` or longer;
    otherwise change nothing. An ended space stays as it is."""
    since = state.unmoderated_since
    if state.status is SpaceStatus.ENDED or since is None or now_ms - since < grace_ms:
        return state, []
    seq = state.seq + 1
    new = replace(state, status=SpaceStatus.ENDED, seq=seq)
    return new, [SpaceEnded(state.space_id, seq, now_ms, "abandoned")]
