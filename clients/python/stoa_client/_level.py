"""The audio level a speaker sends with each packet (`audio`'s `level`, docs/protocol.md): RFC 6464's value,
so that the server learns who talks, and how loud, without decoding a packet it only forwards."""

from __future__ import annotations

import array
import math
import operator
import sys

LEVEL_SILENT = 127
"""The level of digital silence, and of anything at -127 dBov or quieter."""


def audio_level(pcm: bytes) -> int:
    """The level of one packet's audio, from the PCM it encodes (16-bit signed little-endian mono, 960 samples
    for 20 ms at 48 kHz): `round(-20 log10(rms / 32768))`, clamped to 0 (full scale) .. 127 (`LEVEL_SILENT`).
    Pure Python: a small cost beside the encoding."""
    samples = array.array("h", pcm[: len(pcm) // 2 * 2])
    if sys.byteorder == "big":
        samples.byteswap()
    energy = sum(map(operator.mul, samples, samples))
    if energy == 0:
        return LEVEL_SILENT
    rms = math.sqrt(energy / len(samples))
    return min(LEVEL_SILENT, max(0, round(-20.0 * math.log10(rms / 32768.0))))
