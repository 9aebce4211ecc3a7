"""Who is connected to a space right now, and delivery to them through the server's fan-out.

The Audience belongs to the space, not to one incarnation of its actor: it outlives a crash, so the
restarted actor keeps reaching every connection, and the directory can still tell everyone when the space
fails for good. Every event and every batch of frames is encoded once; the fan-out queues the same bytes
for each connection (the Rust fan-out writes them with no Python step per listener; with the Rust driver,
the audience's frames go through its group's stream, ARCHITECTURE.md).

Two groups per space: `everyone` (events) and `audience` (members who hear the shared mix: everyone not
on the mic). A member on the mic gets its own stream: its mix-minus while its voice is in the mix, the
shared mix otherwise, one frame a message. The audience's frames are batched, as many a message as the
space's `BatchPolicy` chooses from the audience's size (`mixer-rs/driver/src/batching.rs`).
"""

from __future__ import annotations

import logging
from typing import Protocol

import msgspec

from actors.space.commands import MemberLink
from actors.space.events import Audio, MixFrame, SpaceEnded, SpaceEvent
from mixer import BatchPolicy

log = logging.getLogger("actors.space")

_encoder = msgspec.msgpack.Encoder()


class Fanout(Protocol):
    """What a space needs of the server's fan-out (`mixer.Fanout` in Rust, or the gateway's Python one)."""

    def send(self, conn: int, payload: bytes) -> bool: ...
    def send_audio(self, conn: int, payload: bytes) -> None: ...
    def new_group(self) -> int: ...
    def join_group(self, group: int, conn: int) -> None: ...
    def leave_group(self, group: int, conn: int) -> None: ...
    def drop_group(self, group: int) -> None: ...
    def broadcast(self, group: int, payload: bytes) -> list[int]: ...
    def broadcast_audio(self, group: int, payload: bytes) -> int: ...


class Audience:
    """A space's connections. Every live space has one, idle or not: slots, and the batches of the Python
    audio path are made only when a frame is batched."""

    __slots__ = ("_batched_ticks", "_everyone", "_shared", "audio_group", "batching", "fanout", "frames_per_message",
                 "last_seq", "links", "next_audio_seq", "space_id")  # fmt: skip

    def __init__(self, space_id: str, fanout: Fanout, batching: BatchPolicy | None = None) -> None:
        self.space_id = space_id
        self.links: dict[str, MemberLink] = {}
        self.last_seq = 0
        self.fanout = fanout
        self._everyone = fanout.new_group()
        self.audio_group = fanout.new_group()
        """The members who hear the shared mix: everyone not on the mic."""
        self.batching = batching or BatchPolicy()
        self.frames_per_message = self.batching.initial
        """Frames per message of the shared stream now (the Python path's; the Rust driver keeps its own)."""
        self._shared: list[MixFrame] | None = None
        self._batched_ticks = 0
        self.next_audio_seq = 0

    @property
    def everyone_group(self) -> int:
        """The fan-out group of every member: events, and who is speaking (`speaking`)."""
        return self._everyone

    # -- membership -------------------------------------------------------------------------------------

    def attach(self, user: str, link: MemberLink, on_mic: bool) -> None:
        """Add (or replace) a member's connection. Events broadcast from now on reach it."""
        old = self.links.get(user)
        if old is not None and old is not link:
            self._leave_groups(old.conn)
        self.links[user] = link
        self.fanout.join_group(self._everyone, link.conn)
        self._place(user, on_mic)

    def detach(self, user: str) -> None:
        link = self.links.pop(user, None)
        if link is not None:
            self._leave_groups(link.conn)

    def set_on_mic(self, user: str, on_mic: bool) -> None:
        if user in self.links:
            self._place(user, on_mic)

    def close(self) -> None:
        """The space is over: forget every member and free the groups."""
        self.fanout.drop_group(self._everyone)
        self.fanout.drop_group(self.audio_group)
        self.links.clear()

    def _place(self, user: str, on_mic: bool) -> None:
        conn = self.links[user].conn
        if on_mic:
            self.fanout.leave_group(self.audio_group, conn)
        else:
            self.fanout.join_group(self.audio_group, conn)

    def _leave_groups(self, conn: int) -> None:
        self.fanout.leave_group(self._everyone, conn)
        self.fanout.leave_group(self.audio_group, conn)

    # -- events -----------------------------------------------------------------------------------------

    def broadcast(self, events: list[SpaceEvent]) -> None:
        """Queue each event for every member, in order; tell the members an event is about."""
        for event in events:
            self.last_seq = event.seq
            for conn in self.fanout.broadcast(self._everyone, _encoder.encode(event)):
                log.info("space %s: connection %d overflowed its queue; it is closed", self.space_id, conn)
            subject = self.links.get(getattr(event, "user", ""))
            if subject is not None:
                subject.observe(event)
            if isinstance(event, SpaceEnded):
                for link in self.links.values():
                    link.observe(event)

    # -- audio ------------------------------------------------------------------------------------------

    def send_mix(
        self,
        seq: int,
        captured_at: int,
        shared: bytes | None,
        minus: list[tuple[int, bytes]],
        mixed: list[int],
        routes: dict[int, int],
    ) -> None:
        """Send each speaker's own frame now; add the shared frame to the audience's batch, sent every
        `frames_per_message` ticks.

        `routes` maps each speaker's mixer input to its connection: a speaker whose voice is in the mix
        gets its mix-minus there (nothing when no one else talks), any other speaker the shared frame;
        the audience group gets the shared frame. Each message is encoded once.
        (This is the Python path; `mixer.SpaceDriver` does the same in Rust.)
        """
        self.next_audio_seq = seq + 1
        minus_of = dict(minus)
        in_mix = set(mixed)
        for input_id, conn in routes.items():
            opus = minus_of.get(input_id) if input_id in in_mix else shared
            if opus is not None:
                self.fanout.send_audio(conn, _encoder.encode(Audio([MixFrame(seq, captured_at, opus)])))
        if shared is not None:
            if self._shared is None:
                self._shared = []
            self._shared.append(MixFrame(seq, captured_at, shared))
        self._batched_ticks += 1
        if self._batched_ticks >= self.frames_per_message:
            self.flush()

    def flush(self) -> None:
        """Send the audience's batch now (also when the mix goes quiet, so no frame waits for the next
        talk); the next message's frame count follows the audience this one reached."""
        self._batched_ticks = 0
        if self._shared:
            reached = self.fanout.broadcast_audio(self.audio_group, _encoder.encode(Audio(self._shared)))
            self.frames_per_message = self.batching.next(self.frames_per_message, reached)
        self._shared = None
