"""`SpaceLink`: how a space reaches one session (its `MemberLink`, actors/space/commands.py), made by the
request that joins or resumes a place; the session keeps it while it is in that space."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actors.space import SpaceEvent, SpaceRef, SpaceState
    from gateway.session import Session


class SpaceLink:
    """The session's MemberLink for one space, made by the request (`ref`) that joins it as `user`, or that
    resumes a place there (`resuming`)."""

    def __init__(self, session: Session, ref: int, space: SpaceRef, user: str, resuming: bool = False) -> None:
        self._session = session
        self._ref = ref
        self.space = space
        self.user = user
        self.resuming = resuming

    @property
    def conn(self) -> int:
        return self._session.conn

    def joined(self, state: SpaceState) -> None:
        self._session.entered(self, self._ref, state)

    def observe(self, event: SpaceEvent) -> None:
        self._session.observe(self, event)

    def resumed(self, state: SpaceState, missed: list[bytes] | None) -> None:
        self._session.resumed(self, self._ref, state, missed)
