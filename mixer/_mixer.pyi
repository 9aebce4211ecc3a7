"""Types of the native mixer module (Rust, ``mixer-rs/src/lib.rs``)."""

from typing import Self, final

__all__ = [
    "FRAME_SAMPLES",
    "SAMPLE_RATE",
    "MAX_PACKET_BYTES",
    "MixerError",
    "Encoder",
    "Decoder",
    "TickOutput",
    "MixerStats",
    "Mixer",
]

FRAME_SAMPLES: int
"""Samples in one 20 ms mono frame: 960."""
SAMPLE_RATE: int
"""48000."""
MAX_PACKET_BYTES: int
"""1500: larger Opus packets are refused unread."""

class MixerError(ValueError):
    """A refused argument or packet, or a codec failure.

    ``code`` is one of ``"bad_pcm_length"``, ``"packet_too_large"``,
    ``"bad_argument"``, ``"codec_error"``; codes never change once published.
    """

    code: str

@final
class Encoder:
    """One Opus encoder (48 kHz mono, 20 ms, VOIP), for clients and tests."""

    def __new__(cls, *, bitrate: int = 32000, complexity: int = 5) -> Self: ...
    def encode(self, pcm: bytes) -> bytes:
        """Exactly 1920 bytes of s16le in, one Opus packet out."""

@final
class Decoder:
    """One Opus decoder (48 kHz mono) with loss concealment."""

    def __new__(cls) -> Self: ...
    def decode(self, packet: bytes | None) -> bytes:
        """1920 bytes of s16le out; ``None`` means the packet was lost."""

@final
class TickOutput:
    """One tick's packets. A listener whose id is in ``mixed`` gets its entry
    in ``minus`` (or nothing if it has none); everyone else gets ``shared``."""

    @property
    def seq(self) -> int:
        """0 for a mixer's first tick, then +1 per tick."""
    @property
    def kind(self) -> str:
        """``"silent"``, ``"passthrough"`` or ``"mixed"``."""
    @property
    def captured_at(self) -> int:
        """Smallest ``captured_at`` (µs) of the real packets in the mix; 0 if none."""
    @property
    def shared(self) -> bytes | None:
        """The one Opus packet for everyone not in the mix; ``None`` when silent."""
    @property
    def minus(self) -> list[tuple[int, bytes]]:
        """(input id, Opus packet of the mix without that input), in id order."""
    @property
    def mixed(self) -> list[int]:
        """Input ids whose voice is in this tick's mix, in id order."""

@final
class MixerStats:
    """A snapshot of a mixer's counters since it was made."""

    @property
    def ticks(self) -> int: ...
    @property
    def packets_in(self) -> int:
        """Packets accepted by ``push`` (the pushes that returned True)."""
    @property
    def packets_dropped(self) -> int:
        """Packets discarded unplayed: unknown input, queue overflow, input removed."""
    @property
    def packets_late(self) -> int:
        """Accepted packets whose seq was already played or queued."""
    @property
    def concealed(self) -> int:
        """Frames of loss concealment mixed (hangover or undecodable packet)."""
    @property
    def decode_errors(self) -> int: ...
    @property
    def encodes(self) -> int:
        """Opus encodes performed (shared and mix-minus)."""

@final
class Mixer:
    """A space's mixer: ``push`` from the event loop, ``tick`` from a worker thread.

    Membership changes and pushes never wait for a running ``tick``; they take
    effect from the next tick on.
    """

    def __new__(
        cls,
        *,
        bitrate: int = 32000,
        complexity: int = 5,
        max_queue: int = 6,
        hangover_ticks: int = 5,
    ) -> Self: ...
    def add_input(self, input_id: int) -> None:
        """A speaker becomes an input; no-op if present."""
    def remove_input(self, input_id: int) -> None:
        """Immediate: queued packets are dropped, the voice is absent from the next tick; no-op if absent."""
    def has_input(self, input_id: int) -> bool: ...
    def push(self, input_id: int, seq: int, captured_at: int, packet: bytes) -> bool:
        """Queue one Opus packet; False (packet dropped) if ``input_id`` is not an input.

        Raises ``MixerError("packet_too_large")`` over ``MAX_PACKET_BYTES``.
        A packet whose seq was already played or queued is dropped as late.
        """
    @property
    def active(self) -> bool:
        """True while any input has queued packets or is inside its hangover."""
    def tick(self) -> TickOutput:
        """One 20 ms tick; releases the GIL for all of its decode, mix and encode."""
    def stats(self) -> MixerStats: ...
