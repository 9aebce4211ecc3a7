"""PyFanout: the plain Python send path, with the same interface as the Rust `mixer.Fanout`.

Each connection has an Outbox drained by its own writer task through trio-websocket's `send_message`:
a Python step per listener per message. It is the baseline the Rust fan-out is measured against
(`stoa serve --fanout python`), and a fallback that needs nothing but Trio.
"""

from __future__ import annotations

import itertools

from gateway.errors import CloseCode
from gateway.outbox import Outbox


class PyFanout:
    def __init__(self, *, max_queue_bytes: int = 256 * 1024, max_audio_messages: int = 64) -> None:
        self._max_bytes = max_queue_bytes
        self._max_audio = max_audio_messages
        self._ids = itertools.count(1)
        self.outboxes: dict[int, Outbox] = {}
        self._groups: dict[int, set[int]] = {}
        self._reported_drops: dict[int, int] = {}
        self._notices: list[tuple[int, str, int]] = []

    def register_outbox(self) -> tuple[int, Outbox]:
        conn = next(self._ids)
        outbox = Outbox(max_bytes=self._max_bytes, max_audio=self._max_audio)
        self.outboxes[conn] = outbox
        return conn, outbox

    def send(self, conn: int, payload: bytes) -> bool:
        outbox = self.outboxes.get(conn)
        if outbox is None or outbox.closed:  # closing: refused, as the Rust fan-out refuses it (no notice)
            return False
        if outbox.put(payload):
            return True
        self._notices.append((conn, "overflow", self._max_bytes))
        self.close(conn)
        return False

    def send_audio(self, conn: int, payload: bytes) -> None:
        outbox = self.outboxes.get(conn)
        if outbox is not None:
            outbox.put_audio(payload)

    def new_group(self) -> int:
        group = next(self._ids)
        self._groups[group] = set()
        return group

    def join_group(self, group: int, conn: int) -> None:
        if conn in self.outboxes and group in self._groups:
            self._groups[group].add(conn)

    def leave_group(self, group: int, conn: int) -> None:
        self._groups.get(group, set()).discard(conn)

    def drop_group(self, group: int) -> None:
        self._groups.pop(group, None)

    def broadcast(self, group: int, payload: bytes) -> list[int]:
        return [conn for conn in list(self._groups.get(group, ())) if not self.send(conn, payload)]

    def broadcast_audio(self, group: int, payload: bytes) -> int:
        members = self._groups.get(group, set())
        for conn in members:
            self.outboxes[conn].put_audio(payload)
        return len(members)

    def close(self, conn: int) -> None:
        outbox = self.outboxes.pop(conn, None)
        if outbox is None:
            return
        for members in self._groups.values():
            members.discard(conn)
        self._reported_drops.pop(conn, None)
        if not outbox.closed:
            outbox.close(CloseCode.NORMAL, "")

    def take_notices(self) -> list[tuple[int, str, int]]:
        notices, self._notices = self._notices, []
        for conn, outbox in self.outboxes.items():
            dropped = outbox.audio_dropped - self._reported_drops.get(conn, 0)
            if dropped:
                self._reported_drops[conn] = outbox.audio_dropped
                notices.append((conn, "lagging", dropped))
        return notices
