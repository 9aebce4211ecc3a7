"""What a WebRTC speaker's RTP header becomes in the mixer's terms: the 16-bit sequence number extended to
the `seq` of a `SendAudio` (64 bits, never wrapping), the 32-bit RTP timestamp mapped to `captured_at` (µs of
the server's unix clock), and the packet budget that keeps a flood from reaching the mixer.

Pure values and arithmetic (no I/O, no clock of its own): `gateway/webrtc/peer.py` feeds it each packet.
"""

from __future__ import annotations

from dataclasses import dataclass

RTP_CLOCK_HZ = 48_000
"""Opus' RTP clock rate (RFC 7587), whatever the sampling rate of the audio."""
SEQ_BASE = 1 << 16
"""The first packet's `seq` is its 16-bit number plus this: room below it for packets that arrive late (a
late packet's `seq` stays positive, and the mixer drops it as late)."""
_HALF_SEQ = 1 << 15
_HALF_TS = 1 << 31


def forward(previous: int, current: int, bits: int) -> int:
    """How far `current` is after `previous` on a counter of `bits` bits that wraps: in (-2^(bits-1),
    2^(bits-1)], negative for a packet older than `previous`."""
    size = 1 << bits
    step = (current - previous) % size
    return step - size if step > size // 2 else step


class RtpStream:
    """One speaker's RTP stream, as `SendAudio` numbers.

    - `seq`: the RTP sequence number, extended past its 16-bit wrap (every 21 minutes at 50 packets a
      second) by counting wraps from the highest number seen (RFC 3550, A.1): a packet within 32,768 of
      it is taken as before or after it, whichever is nearer. A new SSRC (the browser restarted its
      sender) continues the count after the highest `seq` so far, so the mixer plays its first packet.
    - `captured_at`: the server's unix time (µs) when the stream's first packet arrived, plus the RTP
      timestamp's advance since that packet (extended past its 32-bit wrap, 48,000 per second). The
      sender's own clock is never trusted nor needed; the first packet's network delay is not counted.
    """

    __slots__ = ("_anchor_us", "_seq_shift", "_ssrc", "_top_seq", "_top_ts", "_ts_origin")

    def __init__(self) -> None:
        self._ssrc: int | None = None
        self._top_seq = 0  # the highest sequence number so far, extended in the stream's own numbering
        self._seq_shift = 0  # added to that to make `seq` (moves each later stream after the earlier ones)
        self._top_ts = 0  # the highest RTP timestamp so far, extended
        self._ts_origin = 0  # the extended timestamp of the stream's first packet
        self._anchor_us = 0  # the server's time when the stream's first packet arrived

    def numbers(self, ssrc: int, seq16: int, timestamp: int, arrival_us: int) -> tuple[int, int]:
        """The (`seq`, `captured_at`) of a packet that arrived at `arrival_us` (server unix time, µs)."""
        if ssrc != self._ssrc:
            self._restart(ssrc, seq16, timestamp, arrival_us)
        step = forward(self._top_seq & 0xFFFF, seq16, 16)
        seq = self._top_seq + step
        if step > 0:
            self._top_seq = seq
        ts_step = forward(self._top_ts & 0xFFFFFFFF, timestamp, 32)
        ts = self._top_ts + ts_step
        if ts_step > 0:
            self._top_ts = ts
        captured_at = self._anchor_us + (ts - self._ts_origin) * 1_000_000 // RTP_CLOCK_HZ
        return seq + self._seq_shift, max(captured_at, 0)

    def _restart(self, ssrc: int, seq16: int, timestamp: int, arrival_us: int) -> None:
        """A new stream (its first packet, or a new SSRC): numbered on from the highest `seq` so far."""
        first = self._ssrc is None
        highest = self._top_seq + self._seq_shift
        self._ssrc = ssrc
        self._top_seq = SEQ_BASE + seq16  # the low 16 bits stay the packet's own
        self._seq_shift = 0 if first else highest + 1 - self._top_seq
        self._top_ts = (1 << 32) + timestamp  # extended timestamps stay positive, however far back a packet is
        self._ts_origin = self._top_ts
        self._anchor_us = arrival_us


@dataclass(slots=True)
class PacketBudget:
    """A token bucket of packets: a speaker sends 50 a second; a sender beyond `per_s` (on average, with
    `burst` at once) has the excess dropped before the mixer, and counted."""

    per_s: float
    burst: float
    tokens: float = 0.0
    at: float = 0.0
    started: bool = False

    def take(self, now: float) -> bool:
        if not self.started:
            self.started, self.tokens, self.at = True, self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_s)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True
