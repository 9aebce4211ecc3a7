"""The timeline in memory: a space holds its latest `RECENT_POSTS` posts and its pinned ones, whatever the
length of its timeline; post ids count on; a page of posts stays within its byte budget."""

from __future__ import annotations

import pytest

from actors.space import errors
from actors.space.commands import PinPost, SharePost, UnpinPost
from actors.space.domain import POSTS_BYTES, apply, holds_post, latest_posts, new_space
from actors.space.events import PostShared
from actors.space.values import RECENT_POSTS, Post, SpaceState

NOW = 1_700_000_000_000


def with_posts(count: int) -> SpaceState:
    state = new_space("s1", "Title", "host", NOW)
    for i in range(count):
        state, _ = apply(state, SharePost("host", f"post {i + 1}"), NOW)
    return state


def test_a_space_holds_only_its_latest_posts_and_counts_them_all() -> None:
    state = with_posts(RECENT_POSTS + 25)
    assert [p.id for p in state.timeline] == list(range(26, RECENT_POSTS + 26))
    assert state.post_count == RECENT_POSTS + 25
    state, (event,) = apply(state, SharePost("host", "one more"), NOW)
    assert isinstance(event, PostShared) and event.post.id == RECENT_POSTS + 26
    assert len(state.timeline) == RECENT_POSTS and state.timeline[-1] == event.post


def test_a_short_timeline_is_held_whole() -> None:
    state = with_posts(3)
    assert [p.id for p in state.timeline] == [1, 2, 3] and state.post_count == 3


def test_a_pinned_post_stays_held_after_it_leaves_the_latest_posts() -> None:
    state = with_posts(1)
    state, _ = apply(state, PinPost("host", 1), NOW)
    for _ in range(RECENT_POSTS + 5):
        state, _ = apply(state, SharePost("host", "newer"), NOW)
    assert 1 not in [p.id for p in state.timeline]
    assert state.pinned == (1,) and [p.text for p in state.pinned_posts] == ["post 1"]
    state, _ = apply(state, UnpinPost("host", 1), NOW)
    assert state.pinned == () and state.pinned_posts == ()


def test_an_older_post_is_pinned_with_the_post_the_actor_read_from_the_store() -> None:
    state = with_posts(RECENT_POSTS + 10)
    assert not holds_post(state, 3)
    with pytest.raises(errors.NoSuchPost):
        apply(state, PinPost("host", 3), NOW)  # without the post itself, the rules cannot pin it
    older = Post(3, "host", "post 3", NOW)
    state, _ = apply(state, PinPost("host", 3, older), NOW)
    assert state.pinned == (3,) and state.pinned_posts == (older,) and holds_post(state, 3)


def test_a_post_id_beyond_the_last_post_is_no_such_post() -> None:
    state = with_posts(2)
    with pytest.raises(errors.NoSuchPost):
        apply(state, PinPost("host", 3), NOW)


def test_a_page_of_posts_stops_before_its_text_passes_the_budget_but_keeps_the_newest() -> None:
    longest = [Post(i, "u", "🔥" * 1000, NOW) for i in range(100, 0, -1)]  # 4,000 bytes each, newest first
    page, more = latest_posts(longest, 100)
    assert more and sum(len(p.text.encode()) for p in page) <= POSTS_BYTES
    assert len(page) == POSTS_BYTES // 4000 and page[-1].id == 100 and page[0].id < page[-1].id
    short = [Post(i, "u", "hi", NOW) for i in range(100, 0, -1)]
    control, more = latest_posts(short, 100)
    assert len(control) == 100 and not more, "control: short posts all fit"
    huge = [Post(1, "u", "x" * (POSTS_BYTES + 1), NOW)]
    assert latest_posts(huge, 10) == (huge, False), "the newest post always comes"
