"""The `joined` reply is encoded with one snapshot per state of a space, shared by the joiners of a batch:
the bytes are exactly those of `Joined` encoded whole, and read the same with the independent msgpack."""

from __future__ import annotations

import msgpack
import pytest

from actors.space import Role, SpaceState
from actors.space.domain.membership import join_all, new_space
from gateway import protocol as p, protocol_spaces


def crowded(listeners: int) -> SpaceState:
    state = new_space("s1", "Crowded", "u1", 1_000, description="about", topics=["a", "b"], host_name="Ada")
    state, _, _ = join_all(state, [(f"g-{i}", f"guest {i}") for i in range(listeners)], 2_000)
    return state


@pytest.mark.parametrize("listeners", [0, 5, 300])
def test_the_shared_snapshot_gives_the_bytes_of_joined_encoded_whole(listeners: int) -> None:
    state = crowded(listeners)
    snapshots = p.JoinedSnapshots()
    for ref, role in [(1, Role.LISTENER), (70000, Role.HOST), (2**40, Role.SPEAKER)]:
        whole = p.encode(p.Joined(ref=ref, role=role, space=p.snapshot_of(state)))
        shared = snapshots.encode(ref, role, state)
        assert shared == whole
        decoded = msgpack.unpackb(shared)
        assert decoded["type"] == "joined" and decoded["ref"] == ref and decoded["role"] == role.value
        assert decoded["space"]["listener_count"] == listeners


def test_the_snapshot_is_made_once_per_state_and_again_when_the_state_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[int] = []
    of = protocol_spaces.snapshot_of
    monkeypatch.setattr(protocol_spaces, "snapshot_of", lambda s: made.append(1) or of(s))
    snapshots = p.JoinedSnapshots(spaces=2)
    first = crowded(3)
    for ref in range(50):
        snapshots.encode(ref, Role.LISTENER, first)
    assert len(made) == 1
    second, _, _ = join_all(first, [("g-new", "new")], 3_000)
    assert msgpack.unpackb(snapshots.encode(1, Role.LISTENER, second))["space"]["listener_count"] == 4
    assert len(made) == 2
    other = new_space("s2", "Other", "u2", 0)
    third = new_space("s3", "Third", "u3", 0)
    snapshots.encode(1, Role.HOST, other)
    snapshots.encode(1, Role.HOST, third)  # at most 2 spaces kept: s1's is let go
    snapshots.encode(1, Role.LISTENER, second)
    assert len(made) == 5
