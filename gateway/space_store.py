"""The spaces' `SpaceStore`, backed by the embedded SQLite store (`store/_spaces.py`)."""

from __future__ import annotations

from actors.space import Post, SpaceState
from actors.space.persistence import StoredSpace
from store import Database, _spaces as spaces


class SqliteSpaceStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def space_created(self, state: SpaceState) -> None:
        await spaces.create_space(self._db, state.space_id, state.title, state.host, state.created_at, state.seq)

    async def post_shared(self, space_id: str, post: Post) -> None:
        await spaces.add_post(self._db, space_id, spaces.StoredPost(post.id, post.user, post.text, post.at))

    async def participant_removed(self, space_id: str, user: str) -> None:
        await spaces.add_removal(self._db, space_id, user)

    async def space_ended(self, space_id: str, at: int) -> None:
        await spaces.end_space(self._db, space_id, at)

    async def reserve_seq(self, space_id: str, up_to: int) -> None:
        await spaces.reserve_seq(self._db, space_id, up_to)

    async def live_spaces(self) -> list[StoredSpace]:
        return [
            StoredSpace(
                space_id=s.space_id,
                title=s.title,
                host=s.host,
                created_at=s.created_at,
                seq_reserved=s.seq_reserved,
                timeline=tuple(Post(p.id, p.user, p.text, p.at) for p in s.posts),
                removed=s.removed,
            )
            for s in await spaces.live_spaces(self._db)
        ]
