"""The space's timeline: sharing posts, pinning them (at most 3), and emoji reactions (numbered, not kept)."""

from __future__ import annotations

from actors.space import errors
from actors.space.domain.authority import Result, member_role, replace
from actors.space.events import PostPinned, PostShared, PostUnpinned, Reacted, SpaceEvent
from actors.space.values import MAX_PINNED, MAX_POST_CHARS, REACTIONS, Post, SpaceState


def share_post(state: SpaceState, user: str, text: str, now_ms: int) -> Result:
    member_role(state, user)
    text = text.strip()
    if not text or len(text) > MAX_POST_CHARS:
        raise errors.BadArgument(f"a post has 1 to {MAX_POST_CHARS} characters")
    seq = state.seq + 1
    post = Post(id=len(state.timeline) + 1, user=user, text=text, at=now_ms, name=state.name_of(user))
    new = replace(state, timeline=(*state.timeline, post), seq=seq)
    return new, [PostShared(state.space_id, seq, now_ms, post)]


def pin_post(state: SpaceState, by: str, post_id: int, now_ms: int) -> Result:
    """Pin a post; with `MAX_PINNED` already pinned, the oldest pin goes first."""
    _require_pinner(state, by, post_id)
    if post_id in state.pinned:
        return state, []
    pinned, seq = state.pinned, state.seq
    events: list[SpaceEvent] = []
    if len(pinned) >= MAX_PINNED:
        seq += 1
        events.append(PostUnpinned(state.space_id, seq, now_ms, pinned[0], by))
        pinned = pinned[1:]
    seq += 1
    events.append(PostPinned(state.space_id, seq, now_ms, post_id, by))
    return replace(state, pinned=(*pinned, post_id), seq=seq), events


def unpin_post(state: SpaceState, by: str, post_id: int, now_ms: int) -> Result:
    _require_pinner(state, by, post_id)
    if post_id not in state.pinned:
        return state, []
    seq = state.seq + 1
    new = replace(state, pinned=tuple(p for p in state.pinned if p != post_id), seq=seq)
    return new, [PostUnpinned(state.space_id, seq, now_ms, post_id, by)]


def react(state: SpaceState, user: str, emoji: str, now_ms: int) -> Result:
    member_role(state, user)
    if emoji not in REACTIONS:
        raise errors.BadArgument("not one of the reactions listed in docs/protocol.md")
    seq = state.seq + 1
    return replace(state, seq=seq), [Reacted(state.space_id, seq, now_ms, user, emoji, state.name_of(user))]


def _require_pinner(state: SpaceState, by: str, post_id: int) -> None:
    if not member_role(state, by).on_mic:
        raise errors.NotAllowed("only the host, co-hosts and speakers pin posts")
    if not 1 <= post_id <= len(state.timeline):
        raise errors.NoSuchPost(f"no post {post_id} in this space")
