"""A turn's end on the harness's recorded speech (loadtest/speech): the 100 ms of loss concealment after a
speaker's last packet reach each connection whose decoder has been decoding that speaker's own packets as
one-byte stand-ins (an Opus frame of no data, which a decoder conceals), so it hears the concealment its own
decoder makes of the speaker's stream, and the mixer encodes nothing for it (mixer-rs/core/src/engine.rs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from stoa_protocol import audio_level

from loadtest.speech import Script, conversation
from mixer import Decoder, Mixer

AUDIENCE = -1  # a listener's connection; a speaker's is its input id


@dataclass(frozen=True)
class StandIn:
    """A stand-in a connection got: at which slot, for whose concealment, the how-manyth in a row."""

    conn: int
    slot: int
    whose: int
    nth: int
    pcm: np.ndarray  # what the connection's decoder made of it


def level_db(pcm: np.ndarray) -> float:
    """dBFS of a frame's RMS, -127 for digital silence (as the mixer's gate measures)."""
    rms = float(np.sqrt(np.mean(pcm.astype(float) ** 2)))
    return max(20 * float(np.log10(rms / 32768)), -127.0) if rms > 0 else -127.0


def play_a_loop(scripts: list[Script]) -> tuple[list[StandIn], int, int]:
    """The conversation once through a mixer, its speakers sending levels; each connection (the audience,
    each speaker) decodes what it is sent with one decoder, in order. Returns the stand-ins each got, the
    encodes made in ticks whose shared frame was one, and all the encodes."""
    mixer = Mixer()
    for speaker in range(len(scripts)):
        mixer.add_input(speaker)
    levels = []
    for packets, _ in scripts:
        decoder = Decoder()
        levels.append([audio_level(decoder.decode(packet)) for packet in packets])
    conns = [AUDIENCE, *range(len(scripts))]
    decoders = {conn: Decoder() for conn in conns}
    run = dict.fromkeys(conns, 0)
    stand_ins, encodes_for_them = [], 0
    for slot in range(len(scripts[0][1])):
        for speaker, (packets, plan) in enumerate(scripts):
            if plan[slot] >= 0:
                mixer.push(speaker, slot, slot * 20_000, packets[plan[slot]], levels[speaker][plan[slot]])
        if not mixer.active:
            continue
        before = mixer.stats().encodes
        out = mixer.tick()
        if out.shared is not None and len(out.shared) == 1:
            encodes_for_them += mixer.stats().encodes - before
        minus = dict(out.minus)
        for conn in conns:
            packet = minus.get(conn) if conn in out.mixed else out.shared
            if packet is None:
                continue
            pcm = np.frombuffer(decoders[conn].decode(packet), dtype="<i2")
            run[conn] = run[conn] + 1 if len(packet) == 1 else 0
            if len(packet) == 1:
                whose = next(s for s in out.mixed if s != conn)
                stand_ins.append(StandIn(conn, slot, whose, run[conn], pcm))
    return stand_ins, encodes_for_them, mixer.stats().encodes


def own_stream(script: Script, slot: int) -> Decoder:
    """The speaker's own stream up to `slot`: one decoder that decoded every packet it sent before."""
    packets, plan = script
    decoder = Decoder()
    for k in range(slot):
        if plan[k] >= 0:
            decoder.decode(packets[plan[k]])
    return decoder


def own_concealments(scripts: list[Script], stand_ins: list[StandIn]) -> list[np.ndarray]:
    """For each stand-in, what the speaker's own decoder makes of the `nth` slot after its last packet: its
    stream decoded up to that packet, then concealed `nth` times. The stand-ins after one packet (the
    audience's and the next speaker's, 1st to 5th) share that decoding: from the stream's start for each one,
    it was most of this module's time."""
    after: dict[tuple[int, int], tuple[Decoder, list[np.ndarray]]] = {}  # (speaker, its last slot) -> 1st, 2nd...
    owns = []
    for stand_in in stand_ins:
        plan = scripts[stand_in.whose][1]
        last = next((k for k in range(stand_in.slot - 1, -1, -1) if plan[k] >= 0), -1)
        if (stand_in.whose, last) not in after:
            after[stand_in.whose, last] = own_stream(scripts[stand_in.whose], last + 1), []
        decoder, concealed = after[stand_in.whose, last]
        while len(concealed) < stand_in.nth:
            concealed.append(np.frombuffer(decoder.decode(None), dtype="<i2"))
        owns.append(concealed[stand_in.nth - 1])
    return owns


def sounds_like(want: np.ndarray, got: np.ndarray) -> bool:
    """The same concealment to a listener: within 3 dB of level where it is audible (the mixer's threshold of
    silence, -50 dBFS, less a margin). Sample for sample is too strict: concealment adds noise from a seed
    each decoder carries from its own past (the Rust tests compare decoders of one past sample for sample)."""
    return level_db(want) < -55 or abs(level_db(got) - level_db(want)) <= 3


@dataclass(frozen=True)
class Played:
    """The conversation once through a mixer (`play_a_loop`), and each stand-in's own concealment."""

    stand_ins: list[StandIn]
    encodes_for_them: int
    encodes: int
    owns: list[np.ndarray]  # `own_concealments`, one for each stand-in


@pytest.fixture(scope="module")
def played() -> Played:
    """Played once for the module: both tests read the same stand-ins (the mixer and decoders are deterministic)."""
    scripts = conversation()
    stand_ins, encodes_for_them, encodes = play_a_loop(scripts)
    return Played(stand_ins, encodes_for_them, encodes, own_concealments(scripts, stand_ins))


def test_a_turns_end_is_concealed_by_each_listeners_own_decoder_with_no_encode(played: Played) -> None:
    stand_ins, encodes_for_them, encodes = played.stand_ins, played.encodes_for_them, played.encodes
    # 12 turns a loop, each ending with 5 frames of concealment: to the audience when nobody else talks;
    # to the next speaker, whose mix-minus was the last one's packets, when that one talks on.
    to_audience = [s for s in stand_ins if s.conn == AUDIENCE]
    to_speakers = [s for s in stand_ins if s.conn != AUDIENCE]
    assert len(to_audience) >= 25 and len(to_speakers) >= 25, (len(to_audience), len(to_speakers))
    assert {s.nth for s in stand_ins} == {1, 2, 3, 4, 5}
    assert encodes_for_them == 0 and encodes > 0
    # Each connection's decoder conceals what it decoded last, the speaker's own packets: it sounds as the
    # speaker's own decoder's concealment does.
    differ = [s for s, own in zip(stand_ins, played.owns, strict=True) if not sounds_like(own, s.pcm)]
    assert not differ, [(s.conn, s.slot, s.nth) for s in differ]
    audible = [own for own in played.owns if level_db(own) >= -50]
    assert len(audible) > len(stand_ins) / 2, "most of a turn's end is heard: it is worth concealing"


def test_a_listener_that_skipped_the_stand_ins_would_cut_each_turns_last_words(played: Played) -> None:
    # The control: a client that dropped one-byte frames (or a mixer that sent nothing) plays silence there.
    silence = np.zeros(960, dtype=np.int16)
    differ = [own for own in played.owns if not sounds_like(own, silence)]
    assert len(differ) > len(played.stand_ins) / 2
