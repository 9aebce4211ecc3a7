"""Stoa's audio mixer: per 20 ms tick, one shared Opus packet for the audience
and one mix-minus packet per speaker. A thin re-export of the native
``mixer._mixer`` (Rust, ``mixer-rs/``); it imports nothing of Stoa."""

from mixer._mixer import (
    FRAME_SAMPLES,
    MAX_PACKET_BYTES,
    SAMPLE_RATE,
    BatchPolicy,
    Decoder,
    Encoder,
    Fanout,
    FanoutStats,
    ListenerPool,
    ListenerStats,
    Mixer,
    MixerError,
    MixerStats,
    PoolStats,
    SpaceDriver,
    SpeakerPool,
    TickOutput,
    TickPool,
    TickPoolStats,
)

__all__ = [
    "FRAME_SAMPLES",
    "MAX_PACKET_BYTES",
    "SAMPLE_RATE",
    "BatchPolicy",
    "Decoder",
    "Encoder",
    "Fanout",
    "FanoutStats",
    "ListenerPool",
    "ListenerStats",
    "Mixer",
    "MixerError",
    "MixerStats",
    "PoolStats",
    "SpaceDriver",
    "SpeakerPool",
    "TickOutput",
    "TickPool",
    "TickPoolStats",
]
