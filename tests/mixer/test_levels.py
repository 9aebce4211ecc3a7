"""Speakers' levels on recorded speech: an honest speaker stays believed.

A decoder that starts mid-stream plays quieter at first, for several packets on quiet passages. The mixer
once took the first such packet for a lie, and from then on decoded every packet of that speaker: in the
harness's conversation (loadtest/speech) one of three speakers was disbelieved within a loop, and the space
decoded 4 times as many packets as it needed (docs/protocol.md, `audio`'s `level`)."""

from __future__ import annotations

from stoa_protocol import audio_level

from loadtest.speech import conversation
from mixer import Decoder, Mixer

LOOPS = 4


def test_honest_speakers_taking_turns_stay_believed() -> None:
    scripts = conversation()
    levels = []
    for packets, _ in scripts:  # each speaker's client measures its own packets, one decoder for its stream
        decoder = Decoder()
        levels.append([audio_level(decoder.decode(packet)) for packet in packets])
    mixer = Mixer()
    for speaker in range(len(scripts)):
        mixer.add_input(speaker)
    slots, seq = len(scripts[0][1]), 0
    decodes, kinds = [], set()
    for _ in range(LOOPS):
        before = mixer.stats().decodes
        for slot in range(slots):
            for speaker, (packets, plan) in enumerate(scripts):
                if plan[slot] >= 0:
                    assert mixer.push(speaker, seq, 0, packets[plan[slot]], levels[speaker][plan[slot]])
            seq += 1
            if mixer.active:
                kinds.add(mixer.tick().kind)
        decodes.append(mixer.stats().decodes - before)
    stats = mixer.stats()
    assert {"passthrough", "mixed"} <= kinds
    assert stats.packets_with_level == stats.packets_in
    # Each loop the same turns and overlaps, so the same decodes: none from a speaker disbelieved.
    assert decodes == [decodes[0]] * LOOPS, decodes
    # What is decoded is the overlaps and the turns' ends (with their warm-ups), not the lone talkers.
    assert decodes[0] < 0.15 * stats.packets_in / LOOPS, (decodes, stats.packets_in)
