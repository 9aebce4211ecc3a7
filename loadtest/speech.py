"""Conversations for the harness: three voices taking turns on recorded speech, with some overlap.

The speech is in `loadtest/speech/` (made once by `make.sh` with espeak-ng and opusenc; one Ogg
Opus file per sentence, 20 ms packets). Each sentence is trimmed to its voiced packets (decoded
level at least `VOICED_DBFS`), so every packet a speaker sends is one the server's level gate
plays: a speaker sends only while it talks, as a client with voice activity detection does.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np

from mixer import Decoder

SPEECH = Path(__file__).resolve().parent / "speech"
VOICES = "abc"
SENTENCES = 4
VOICED_DBFS = -40.0  # the server mixes a packet from -50 dBFS up (`silence_dbfs`): 10 dB of margin
# How each turn starts after the previous one ends, in 20 ms slots: negative is an overlap (the next
# speaker starts before the last has finished), positive a pause.
TURN_STARTS = (-15, 8, -5, 12, -25, 4)

Script = tuple[list[bytes], list[int]]  # (packets, plan), as `mixer.SpeakerPool` takes it


def ogg_packets(path: Path) -> list[bytes]:
    """The audio packets of an Ogg Opus file (RFC 7845): its pages' packets after the two headers."""
    data, pos, packets, partial = path.read_bytes(), 0, [], b""
    while pos < len(data):
        if data[pos : pos + 4] != b"OggS":
            raise ValueError(f"{path}: no Ogg page at byte {pos}")
        segments = data[pos + 26]
        lacing = data[pos + 27 : pos + 27 + segments]
        pos += 27 + segments
        for size in lacing:
            partial += data[pos : pos + size]
            pos += size
            if size < 255:
                packets.append(partial)
                partial = b""
    if packets[:1] == [] or not packets[0].startswith(b"OpusHead"):
        raise ValueError(f"{path}: not Ogg Opus")
    return packets[2:]  # OpusHead, OpusTags


def level_dbfs(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(float)
    rms = math.sqrt(float(np.mean(samples**2))) if len(samples) else 0.0
    return 20 * math.log10(rms / 32768) if rms > 0 else -math.inf


def sentence(path: Path) -> list[bytes]:
    """A sentence's packets, from its first voiced packet to its last."""
    packets = ogg_packets(path)
    decoder = Decoder()
    voiced = [level_dbfs(decoder.decode(p)) >= VOICED_DBFS for p in packets]
    first, last = voiced.index(True), len(voiced) - 1 - voiced[::-1].index(True)
    return packets[first : last + 1]


def conversation(phase: int = 0) -> list[Script]:
    """The three speakers' scripts: rounds of A, B, C, each turn starting as `TURN_STARTS` says after
    the last one ended, then a pause of 200 ms, then again from the start. `phase` rotates the
    loop, so spaces given different phases do not all change turns on the same tick."""
    turns: list[tuple[int, int, list[bytes]]] = []  # (speaker, start slot, packets)
    end, gaps = 0, itertools.cycle(TURN_STARTS)
    for n in range(1, SENTENCES + 1):
        for speaker, voice in enumerate(VOICES):
            packets = sentence(SPEECH / f"{voice}{n}.opus")
            start = max(0, end + next(gaps)) if turns else 0
            turns.append((speaker, start, packets))
            end = start + len(packets)
    length = max(start + len(packets) for _, start, packets in turns) + 10
    scripts: list[Script] = [([], [-1] * length) for _ in VOICES]
    for speaker, start, packets in turns:
        own, plan = scripts[speaker]
        for i, packet in enumerate(packets):
            if plan[start + i] >= 0:
                raise ValueError("a speaker's turns overlap")
            plan[start + i] = len(own)
            own.append(packet)
    return [(own, rotated(plan, phase)) for own, plan in scripts]


def rotated(plan: list[int], shift: int) -> list[int]:
    """A speaker's plan started `shift` slots into its loop (and round again)."""
    shift %= len(plan)
    return plan[shift:] + plan[:shift]


def talking(scripts: list[Script]) -> float:
    """The share of a loop's slots in which someone talks."""
    plans = [plan for _, plan in scripts]
    return sum(any(p[k] >= 0 for p in plans) for k in range(len(plans[0]))) / len(plans[0])


__all__ = ["Script", "conversation", "ogg_packets", "rotated", "sentence", "talking"]
