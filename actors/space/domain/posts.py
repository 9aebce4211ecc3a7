"""The space's timeline: sharing posts, pinning them (at most 3), and emoji reactions (numbered, not kept).

The state keeps only the latest `RECENT_POSTS` posts and the pinned ones; older posts are in the store."""

from __future__ import annotations

from collections.abc import Sequence

from actors.space import errors
from actors.space.domain.authority import Result, checked_text, member_role, replace
from actors.space.events import PostPinned, PostShared, PostUnpinned, Reacted, SpaceEvent
from actors.space.values import MAX_PINNED, MAX_POST_CHARS, REACTIONS, RECENT_POSTS, Post, SpaceState

POSTS_BYTES = 64 * 1024
"""At most this many bytes of post text (UTF-8) in one server message (a snapshot's timeline, a page of
`get_posts`, a space's record), the newest post of it aside: with posts of at most 1,000 characters, a
message of posts stays far below a connection's 256 KiB send queue."""


def latest_posts(newest_first: Sequence[Post], limit: int) -> tuple[list[Post], bool]:
    """The newest of `newest_first` that fit one message: at most `limit`, and no more than `POSTS_BYTES`
    of text (the newest always comes), oldest first; and whether any of those given were left out."""
    page: list[Post] = []
    size = 0
    for post in newest_first[:limit]:
        size += len(post.text.encode())
        if page and size > POSTS_BYTES:
            break
        page.append(post)
    page.reverse()
    return page, len(page) < len(newest_first)


def share_post(state: SpaceState, user: str, text: str, now_ms: int) -> Result:
    member_role(state, user)
    text = checked_text("a post", text, MAX_POST_CHARS, lines=True)
    seq = state.seq + 1
    post = Post(id=state.post_count + 1, user=user, text=text, at=now_ms, name=state.name_of(user))
    timeline = (*state.timeline[-(RECENT_POSTS - 1) :], post)
    new = replace(state, timeline=timeline, post_count=post.id, seq=seq)
    return new, [PostShared(state.space_id, seq, now_ms, post)]


def pin_post(state: SpaceState, by: str, post_id: int, now_ms: int, older: Post | None = None) -> Result:
    """Pin a post; with `MAX_PINNED` already pinned, the oldest pin goes first. A post older than the
    state's recent ones must come as `older` (the actor reads it from the store)."""
    _require_pinner(state, by, post_id)
    if post_id in state.pinned:
        return state, []
    post = _find(state, post_id, older)
    pinned, pinned_posts, seq = state.pinned, state.pinned_posts, state.seq
    events: list[SpaceEvent] = []
    if len(pinned) >= MAX_PINNED:
        seq += 1
        events.append(PostUnpinned(state.space_id, seq, now_ms, pinned[0], by))
        pinned, pinned_posts = pinned[1:], pinned_posts[1:]
    seq += 1
    events.append(PostPinned(state.space_id, seq, now_ms, post_id, by))
    return replace(state, pinned=(*pinned, post_id), pinned_posts=(*pinned_posts, post), seq=seq), events


def unpin_post(state: SpaceState, by: str, post_id: int, now_ms: int) -> Result:
    _require_pinner(state, by, post_id)
    if post_id not in state.pinned:
        return state, []
    seq = state.seq + 1
    pinned_posts = tuple(p for p in state.pinned_posts if p.id != post_id)
    new = replace(state, pinned=tuple(p.id for p in pinned_posts), pinned_posts=pinned_posts, seq=seq)
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
    if not 1 <= post_id <= state.post_count:
        raise errors.NoSuchPost(f"no post {post_id} in this space")


def holds_post(state: SpaceState, post_id: int) -> bool:
    """Whether the state holds post `post_id` itself (one of the latest posts, or a pinned one)."""
    return (bool(state.timeline) and post_id >= state.timeline[0].id) or post_id in state.pinned


def _find(state: SpaceState, post_id: int, older: Post | None) -> Post:
    if state.timeline and post_id >= state.timeline[0].id:
        return state.timeline[post_id - state.timeline[0].id]
    if older is not None and older.id == post_id:
        return older
    raise errors.NoSuchPost(f"post {post_id} is not kept by this space")
