"""What a space keeps of its latest events, so that a client whose connection dropped can be given exactly
the events it missed (`resume`, see `docs/protocol.md`).

The log is a value of the space's state (`SpaceState.log`), not of any connection: frozen, made of plain
bytes (each event encoded once, as its members were sent it), so it is stashed across an actor restart and
serialisable for the nodes to come. It is bounded twice: at most `MAX_LOG_EVENTS` events and
`MAX_LOG_BYTES` bytes of them, the oldest dropped first, so a `resumed` reply (which carries the missed
events) stays well under a connection's send queue. A client that missed more than the log holds gets a
fresh snapshot instead. The log holds consecutive events only: a jump in `seq` (a space brought back after
a server restart numbers its events above every number it gave out before) starts it again.
"""

from __future__ import annotations

import msgspec

from actors.space.events import SpaceEvent

MAX_LOG_EVENTS = 1000
"""The most events a space keeps for resumes."""

MAX_LOG_BYTES = 96 * 1024
"""The most bytes (msgpack, as sent) of events a space keeps for resumes; a single larger event is still kept."""

_encoder = msgspec.msgpack.Encoder()


class EventLog(msgspec.Struct, frozen=True):
    """The latest events of a space, encoded: `entries[i]` is event `first_seq + i`; `size` their bytes."""

    first_seq: int = 1
    entries: tuple[bytes, ...] = ()
    size: int = 0

    @property
    def last_seq(self) -> int:
        """The number of the last event kept (`first_seq - 1` while the log is empty)."""
        return self.first_seq + len(self.entries) - 1

    def appended(self, events: list[SpaceEvent]) -> EventLog:
        """This log with `events` added at the end, trimmed to its bounds from the oldest."""
        if not events:
            return self
        first, entries, size = self.first_seq, list(self.entries), self.size
        for event in events:
            if event.seq != first + len(entries):  # not the next number: start again from this event
                first, entries, size = event.seq, [], 0
            data = _encoder.encode(event)
            entries.append(data)
            size += len(data)
        drop = 0
        while len(entries) - drop > MAX_LOG_EVENTS or (size > MAX_LOG_BYTES and len(entries) - drop > 1):
            size -= len(entries[drop])
            drop += 1
        return EventLog(first + drop, tuple(entries[drop:]), size)

    def since(self, last_seq: int, seq: int) -> list[bytes] | None:
        """The events after `last_seq` up to `seq` (the space's last event), in order; None when the log no
        longer holds (or never held) all of them, or `last_seq` is beyond `seq`, or 0: event 1, the space's
        creation, is in every snapshot and no event message, so a client that holds nothing of the space needs
        the snapshot whatever the log holds (docs/protocol.md, *Reconnecting and resuming*)."""
        if last_seq == seq:
            return []
        if last_seq < 1 or last_seq > seq or self.last_seq != seq or last_seq < self.first_seq - 1:
            return None
        return list(self.entries[last_seq - self.first_seq + 1 :])
