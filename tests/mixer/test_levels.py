"""Speakers' levels on recorded speech: an honest speaker stays believed, a liar does not.

A decoder that starts mid-stream plays quieter at first, for several packets on quiet passages. The mixer
once took the first such packet for a lie, and from then on decoded every packet of that speaker: in the
harness's conversation (loadtest/speech) one of three speakers was disbelieved within a loop, and the space
decoded 4 times as many packets as it needed (docs/protocol.md, `audio`'s `level`)."""

from __future__ import annotations

from stoa_protocol import audio_level

from loadtest.speech import conversation
from mixer import Decoder, Encoder, Mixer

LOOPS = 4


def decodes_per_loop(liar: int | None = None, before_encoding: bool = False) -> tuple[list[int], int]:
    """The conversation played `LOOPS` times through a real mixer, each speaker sending its packets' levels
    as a client measures them: of each packet decoded (one decoder for its stream), or `before_encoding`,
    of the samples it encodes, as the web client and `stoa speak` do (the speech is then decoded and
    encoded again, so the level and the packet differ by the codec's delay); `liar` says every packet of
    its is full scale. The mixer's decodes in each loop, and the packets it took in all."""
    scripts = conversation()
    levels = []
    for speaker, (packets, plan) in enumerate(scripts):
        decoder = Decoder()
        pcm = [decoder.decode(packet) for packet in packets]
        if before_encoding:
            encoder = Encoder()
            scripts[speaker] = ([encoder.encode(frame) for frame in pcm], plan)
        levels.append([0 if speaker == liar else audio_level(frame) for frame in pcm])
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
    return decodes, stats.packets_in


def test_honest_speakers_taking_turns_stay_believed() -> None:
    decodes, packets = decodes_per_loop()
    # Each loop the same turns and overlaps, so the same decodes: none from a speaker disbelieved.
    assert decodes == [decodes[0]] * LOOPS, decodes
    # What is decoded is the overlaps and the turns' ends (with their warm-ups), not the lone talkers.
    assert decodes[0] < 0.15 * packets / LOOPS, (decodes, packets)


def test_levels_measured_before_encoding_are_believed_too() -> None:
    decodes, packets = decodes_per_loop(before_encoding=True)
    assert decodes == [decodes[0]] * LOOPS, decodes
    assert decodes[0] < 0.15 * packets / LOOPS, (decodes, packets)


def test_a_speaker_who_says_every_packet_is_full_scale_is_measured_instead() -> None:
    # The control: the same conversation, one speaker lying. Once its mixed packets have shown it, each of
    # its packets is decoded, alone or not: the decodes of the loops after grow by about its share.
    honest, packets = decodes_per_loop()
    lying, _ = decodes_per_loop(liar=0)
    assert lying[-1] > honest[-1] + 0.2 * packets / LOOPS, (honest, lying)
