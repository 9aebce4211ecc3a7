"""AudioIngress: how a speaker's packets reach its space's mixer, never through the actor's mailbox.

It belongs to the space, not to one incarnation of its actor (as the `Audience` does): it holds the space's
mixer and the input of each person allowed to send audio, which the actor keeps in step with the state
(only unmuted people on the mic have an input: the authority on who is heard). With the Rust
transport a packet goes from the speaker's socket to the mixer's ingress in Rust (`mixer.Wire`, through the
routes the ticker keeps: `SpaceDriver.route`), and `push` serves only messages Python decoded (the Python
transport's, and any the wire did not take); either way audio never waits behind a command, a store write,
or a restart, and every packet that is not played is counted, by reason, in `AudioStats`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

from actors.space.ticking import Ticker
from mixer import Mixer, MixerError

log = logging.getLogger("actors.space")


@dataclass(frozen=True, slots=True)
class AudioStats:
    """Speakers' packets since a space (or, summed, a server) started. Every packet pushed is counted
    once in `packets_in`, `dropped_no_input` or `dropped_refused`; an accepted one that is never played
    is counted once more, in `dropped_overflow`, `dropped_late`, `dropped_removed` or `dropped_skipped`.
    `dropped` is every packet pushed and not played."""

    packets_in: int = 0
    """Accepted by the mixer."""
    dropped_no_input: int = 0
    """The sender has no input: not on the mic, muted, or the space is over."""
    dropped_refused: int = 0
    """Refused by the mixer before queueing (over `MAX_PACKET_BYTES`, a bad number)."""
    dropped_overflow: int = 0
    """Pushed out, oldest first, by a full queue (the sender sends faster than the space plays)."""
    dropped_late: int = 0
    """A `seq` already played or already queued: late or duplicate."""
    dropped_removed: int = 0
    """Still queued when the sender's input was removed (moved off the mic, muted, reconnected)."""
    dropped_skipped: int = 0
    """Skipped unheard: the sender's queue stood deeper than the mixer keeps (after a burst); a packet of silence
    after 25 ticks of that, any after 100."""
    concealed: int = 0
    """Frames of loss concealment played in place of a missing packet."""
    concealed_gaps: int = 0
    """Of those, the frames a later packet of the same talk spurt ended (packets lost, late for their tick or
    undecodable while the talker went on); the rest are the hangover after a spurt's last packet."""
    with_level: int = 0
    """Accepted packets that came with the sender's level (`audio`'s `level`)."""
    decoded: int = 0
    """Packets the mixer decoded: each one without a level; one with a level only to mix it with others."""

    def __add__(self, other: AudioStats) -> AudioStats:
        return AudioStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def dropped(self) -> int:
        return (
            self.dropped_no_input
            + self.dropped_refused
            + self.dropped_overflow
            + self.dropped_late
            + self.dropped_removed
            + self.dropped_skipped
        )


class AudioIngress:
    __slots__ = ("_closed", "_input_of", "_next_input", "_no_input", "_refused", "mixer", "space_id", "ticker")

    def __init__(self, space_id: str, mixer: Mixer, ticker: Ticker) -> None:
        self.space_id = space_id
        self.mixer = mixer
        self.ticker = ticker
        """What ticks `mixer` (see `ticking.py`): woken by every accepted packet."""
        self._input_of: dict[str, int] = {}
        self._next_input = 1
        self._closed = False
        self._no_input = 0
        self._refused = 0

    def push(self, user: str, seq: int, captured_at: int, opus: bytes, level: int | None = None) -> None:
        """One packet from `user`, straight into the mixer; dropped (and counted) if `user` has no input."""
        input_id = self._input_of.get(user)
        if input_id is None:
            self._no_input += 1
            return
        try:
            accepted = self.mixer.push(input_id, seq, captured_at, opus, level)
        except MixerError as e:
            self._refused += 1
            log.debug("space %s: packet from %s refused: %s", self.space_id, user, e)
            return
        if accepted:
            self.ticker.notify()

    def count_without_input(self, packets: int) -> None:
        """`packets` from someone without an input, dropped before they got here (the Rust wire found no
        route for them): counted as `push` counts its own."""
        self._no_input += packets

    # -- who has an input (the actor keeps this in step with the state) -----------------------------------

    @property
    def users(self) -> frozenset[str]:
        return frozenset(self._input_of)

    def inputs(self) -> dict[str, int]:
        """Each user with an input, and its mixer input id."""
        return dict(self._input_of)

    def add(self, user: str) -> None:
        if user not in self._input_of:
            self._input_of[user] = self._next_input
            self.mixer.add_input(self._next_input)
            self.ticker.name_input(self._next_input, user)
            self._next_input += 1

    def remove(self, user: str) -> None:
        """Silent from the next tick on: its queued packets are dropped, and later ones refused."""
        input_id = self._input_of.pop(user, None)
        if input_id is not None:
            self.mixer.remove_input(input_id)
            self.ticker.forget_input(input_id)

    def restart_stream(self, user: str) -> None:
        """`user` sends a new stream (a new connection, whose `seq` starts again): a fresh input, so its
        first packet is played rather than taken as late against the old stream's numbers."""
        if user in self._input_of:
            self.remove(user)
            self.add(user)

    def close(self) -> None:
        """The space is over: every later packet is dropped as having no input, and the ticker stops."""
        for user in list(self._input_of):
            self.remove(user)
        if not self._closed:
            self._closed = True
            self.ticker.close()

    def stats(self) -> AudioStats:
        m = self.mixer.stats()
        return AudioStats(
            packets_in=m.packets_in,
            dropped_no_input=self._no_input + m.dropped_no_input,
            dropped_refused=self._refused,
            dropped_overflow=m.dropped_overflow,
            dropped_late=m.packets_late,
            dropped_removed=m.dropped_removed,
            dropped_skipped=m.dropped_skipped,
            concealed=m.concealed,
            concealed_gaps=m.concealed_gaps,
            with_level=m.packets_with_level,
            decoded=m.decodes,
        )
