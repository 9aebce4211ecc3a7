"""Fakes for testing spaces without sockets: a fan-out that records, and links that point into it."""

from __future__ import annotations

import itertools

import msgspec

from actors.space import Audio, SpaceEvent, SpaceState
from gateway.protocol import SERVER_DECODER


class RecordingFanout:
    """The space's Fanout protocol, keeping every message each connection would have been sent."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.groups: dict[int, set[int]] = {}
        self.sent: dict[int, list[bytes]] = {}

    def send(self, conn: int, payload: bytes) -> bool:
        self.sent.setdefault(conn, []).append(payload)
        return True

    def send_audio(self, conn: int, payload: bytes) -> None:
        self.send(conn, payload)

    def new_group(self) -> int:
        group = next(self._ids)
        self.groups[group] = set()
        return group

    def join_group(self, group: int, conn: int) -> None:
        self.groups[group].add(conn)

    def leave_group(self, group: int, conn: int) -> None:
        self.groups.get(group, set()).discard(conn)

    def drop_group(self, group: int) -> None:
        self.groups.pop(group, None)

    def broadcast(self, group: int, payload: bytes) -> list[int]:
        for conn in self.groups.get(group, ()):
            self.send(conn, payload)
        return []

    def broadcast_audio(self, group: int, payload: bytes) -> int:
        members = self.groups.get(group, set())
        for conn in members:
            self.send(conn, payload)
        return len(members)


class NoLink:
    """A MemberLink for the pure rules, which never use it."""

    conn = 0

    def joined(self, state: SpaceState) -> None:
        pass

    def observe(self, event: SpaceEvent) -> None:
        pass


class RecordingLink:
    """A MemberLink whose messages land in a RecordingFanout under its own connection id."""

    _ids = itertools.count(1000)

    def __init__(self, fanout: RecordingFanout) -> None:
        self._fanout = fanout
        self._conn = next(self._ids)
        self.snapshots: list[SpaceState] = []
        self.observed: list[SpaceEvent] = []

    @property
    def conn(self) -> int:
        return self._conn

    def joined(self, state: SpaceState) -> None:
        self.snapshots.append(state)

    def observe(self, event: SpaceEvent) -> None:
        self.observed.append(event)

    def _messages(self) -> list[msgspec.Struct]:
        return [SERVER_DECODER.decode(data) for data in self._fanout.sent.get(self._conn, [])]

    @property
    def events(self) -> list[SpaceEvent]:
        return [m for m in self._messages() if not isinstance(m, Audio)]  # type: ignore[misc]

    @property
    def frames(self) -> list[tuple[int, bytes]]:
        return [(f.seq, f.opus) for m in self._messages() if isinstance(m, Audio) for f in m.frames]
