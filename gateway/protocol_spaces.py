"""The snapshot of a space's state that `joined` carries: the server's half of the protocol package's
`SpaceSnapshot` (which knows nothing of `SpaceState`). `gateway/protocol.py` re-exports it."""

from __future__ import annotations

from stoa_protocol import SNAPSHOT_HANDS, SNAPSHOT_LISTENERS, SpaceSnapshot

from actors.space import RECENT_POSTS, Participant, SpaceState, domain


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
    )
