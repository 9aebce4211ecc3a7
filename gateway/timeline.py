"""A space's timeline over the wire: `get_posts`, a page of older posts read from the store, for a live or
an ended space (the snapshot and a space's record carry only the latest posts)."""

from __future__ import annotations

import store
from actors.space import errors as space_errors
from gateway import protocol as p, space_store


async def get_posts(db: store.Database, m: p.GetPosts) -> p.Posts:
    """Open to every connection, as `get_space` is. Error handling: `NoSuchSpace` when no space ever had
    that id."""
    page = await space_store.posts_before(db, m.space_id, m.before_id, m.limit)
    if page is None:
        raise space_errors.NoSuchSpace(f"no space {m.space_id!r}")
    posts, more = page
    return p.Posts(ref=m.ref, space_id=m.space_id, posts=posts, more=more)
