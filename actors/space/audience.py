"""Who is connected to a space right now, and delivery to them.

The Audience belongs to the space, not to one incarnation of its actor: it outlives a crash, so the
restarted actor keeps reaching every connection, and the directory can still tell everyone when the space
fails for good. Events and audio are encoded once and the same bytes are queued for every member.
"""

from __future__ import annotations

import logging

import msgspec

from actors.space.commands import MemberLink
from actors.space.events import Audio, MixFrame, SpaceEvent

log = logging.getLogger("actors.space")

_encoder = msgspec.msgpack.Encoder()


class Audience:
    def __init__(self, space_id: str) -> None:
        self.space_id = space_id
        self.links: dict[str, MemberLink] = {}
        self.last_seq = 0

    def attach(self, user: str, link: MemberLink) -> None:
        self.links[user] = link

    def detach(self, user: str, link: MemberLink | None = None) -> None:
        """Forget `user`'s link (only if it is still `link`, when given: a newer connection may have replaced it)."""
        if link is None or self.links.get(user) is link:
            self.links.pop(user, None)

    def broadcast(self, events: list[SpaceEvent]) -> list[str]:
        """Queue each event for every member, in order; returns the users whose links were too slow."""
        too_slow: list[str] = []
        for event in events:
            self.last_seq = event.seq
            data = _encoder.encode(event)
            for user, link in list(self.links.items()):
                if not link.deliver_event(event, data):
                    too_slow.append(user)
        for user in too_slow:
            log.info("space %s: %s's connection takes no more events (closed or too slow)", self.space_id, user)
            self.links.pop(user, None)
        return too_slow

    def send_mix(
        self,
        seq: int,
        captured_at: int,
        shared: bytes | None,
        minus: list[tuple[int, bytes]],
        mixed: list[int],
        input_of: dict[str, int],
    ) -> None:
        """Give each member the mix it should hear this tick.

        A speaker whose voice is in the mix hears its own mix-minus (nothing when no one else talks);
        everyone else hears the one shared frame. Each distinct frame is encoded once.
        """
        shared_data = _encode_frame(seq, captured_at, shared) if shared is not None else None
        minus_data = {input_id: _encode_frame(seq, captured_at, opus) for input_id, opus in minus}
        in_mix = set(mixed)
        for user, link in self.links.items():
            input_id = input_of.get(user)
            if input_id is not None and input_id in in_mix:
                data = minus_data.get(input_id)
            else:
                data = shared_data
            if data is not None:
                link.deliver_audio(data)


def _encode_frame(seq: int, captured_at: int, opus: bytes) -> bytes:
    return _encoder.encode(Audio([MixFrame(seq, captured_at, opus)]))
