"""The snapshot of a space's state that `joined` carries: the server's half of the protocol package's
`SpaceSnapshot` (which knows nothing of `SpaceState`), and `JoinedSnapshots`, which encodes it once per state.
`gateway/protocol.py` re-exports them."""

from __future__ import annotations

import msgspec
from stoa_protocol import SNAPSHOT_HANDS, SNAPSHOT_LISTENERS, ActiveRecording, SpaceSnapshot

from actors.space import RECENT_POSTS, Participant, Role, SpaceState, domain


def snapshot_of(state: SpaceState) -> SpaceSnapshot:
    """The space as it is after event `state.seq`, within the snapshot's caps (`docs/protocol.md`)."""
    recent: list[str] = []
    for user in reversed(state.roles):
        if len(recent) == SNAPSHOT_LISTENERS:
            break
        if not state.roles[user].on_mic:
            recent.append(user)
    return SpaceSnapshot(
        space_id=state.space_id,
        title=state.title,
        host=state.host,
        host_name=state.name_of(state.host),
        description=state.description,
        topics=list(state.topics),
        status=state.status,
        seq=state.seq,
        created_at=state.created_at,
        participants=[Participant(user, state.name_of(user), state.roles[user]) for user in state.on_mic],
        listener_count=state.listener_count,
        listeners=[state.person(user) for user in recent[::-1]],
        timeline=domain.latest_posts(state.timeline[::-1], RECENT_POSTS)[0],
        post_count=state.post_count,
        hands=[state.person(user) for user in state.hands[:SNAPSHOT_HANDS]],
        hand_count=len(state.hands),
        muted=list(state.muted),
        pinned=list(state.pinned),
        pinned_posts=list(state.pinned_posts),
        speaker_policy=state.speaker_policy,
        recording=active_recording(state),
    )


def active_recording(state: SpaceState) -> ActiveRecording | None:
    """The snapshot's `recording`: the consents of the people on the mic only (at most 13)."""
    recording = state.live_recording
    if recording is None:
        return None
    consents = {user: recording.consents[user] for user in state.on_mic if user in recording.consents}
    return ActiveRecording(recording.recording_id, recording.started_at / 1000, consents)


class _JoinedWire(msgspec.Struct, frozen=True, tag_field="type", tag="joined"):
    """`Joined` (without `resume`) with its snapshot already encoded: the same bytes, field for field."""

    ref: int
    role: Role
    space: msgspec.Raw


class JoinedSnapshots:
    """The `joined` reply, with the snapshot encoded once per state of a space: the joiners of one batch
    (`SpaceActor.handle_batch`) are all given the same state, and share its bytes. Only each reply's `ref`
    and `role` are encoded per joiner. Holds the latest state of at most `spaces` spaces."""

    __slots__ = ("_encoder", "_latest", "_spaces")

    def __init__(self, spaces: int = 64) -> None:
        self._encoder = msgspec.msgpack.Encoder()
        self._latest: dict[str, tuple[SpaceState, msgspec.Raw]] = {}
        self._spaces = spaces

    def encode(self, ref: int, role: Role, state: SpaceState) -> bytes:
        """The bytes of `Joined(ref, role, snapshot_of(state))`."""
        cached = self._latest.get(state.space_id)
        if cached is not None and cached[0] is state:
            snapshot = cached[1]
        else:
            snapshot = msgspec.Raw(self._encoder.encode(snapshot_of(state)))
            self._latest.pop(state.space_id, None)
            if len(self._latest) >= self._spaces:
                del self._latest[next(iter(self._latest))]  # the space whose state is the oldest kept
            self._latest[state.space_id] = (state, snapshot)
        return self._encoder.encode(_JoinedWire(ref, role, snapshot))
