"""The Mixer as the space drives it: push packets, tick, send what comes out.
Audio assertions are on signal: each listener hears the right tones."""

from __future__ import annotations

import numpy as np
import pytest

from mixer import MAX_PACKET_BYTES, Mixer, MixerError, TickOutput
from tests.audio import assert_tone_absent, assert_tone_present, decode_stream, encode_tone

A, B = 11, 22
TICKS = 50
SETTLE = 10  # frames skipped before measuring: codec start-up


def talk(mixer: Mixer, streams: dict[int, list[bytes]], ticks: int) -> list[TickOutput]:
    outputs = []
    for seq in range(ticks):
        for input_id, packets in streams.items():
            assert mixer.push(input_id, seq, 1_000 + seq * 20_000, packets[seq])
        outputs.append(mixer.tick())
    return outputs


def heard(packets: list[bytes]) -> np.ndarray:
    return decode_stream(packets)[SETTLE * 960 :]


def two_speakers() -> tuple[Mixer, list[TickOutput]]:
    mixer = Mixer()
    mixer.add_input(A)
    mixer.add_input(B)
    outputs = talk(mixer, {A: encode_tone(440, 1.0), B: encode_tone(1000, 1.0)}, TICKS)
    return mixer, outputs


def test_the_audience_hears_both_speakers() -> None:
    _, outputs = two_speakers()
    assert {out.kind for out in outputs} == {"mixed"}
    assert all([input_id for input_id, _ in out.levels] == [A, B] for out in outputs)
    shared = heard([out.shared for out in outputs if out.shared is not None])
    assert_tone_present(shared, 440)
    assert_tone_present(shared, 1000)


def test_each_speaker_hears_the_other_but_not_themself() -> None:
    _, outputs = two_speakers()
    for out in outputs:
        assert out.mixed == [A, B]
        assert [input_id for input_id, _ in out.minus] == [A, B]
    minus_a = heard([dict(out.minus)[A] for out in outputs])
    minus_b = heard([dict(out.minus)[B] for out in outputs])
    assert_tone_present(minus_a, 1000)
    assert_tone_absent(minus_a, 440, reference_hz=1000)
    assert_tone_present(minus_b, 440)
    assert_tone_absent(minus_b, 1000, reference_hz=440)


def test_a_lone_speaker_is_passed_through_unchanged() -> None:
    mixer = Mixer()
    mixer.add_input(A)
    mixer.add_input(B)
    packets = encode_tone(440, 0.2)
    for out, packet in zip(talk(mixer, {B: packets}, len(packets)), packets, strict=True):
        assert (out.kind, out.shared, out.minus, out.mixed) == ("passthrough", packet, [], [B])
    assert mixer.stats().encodes == 0


def test_ticks_without_voices_are_silent_and_numbered() -> None:
    mixer = Mixer()
    mixer.add_input(A)
    outputs = [mixer.tick() for _ in range(3)]
    assert [out.seq for out in outputs] == [0, 1, 2]
    for out in outputs:
        assert (out.kind, out.shared, out.minus, out.mixed, out.captured_at) == ("silent", None, [], [], 0)
        assert out.levels == [], "no input played anything"


def test_captured_at_is_the_oldest_capture_in_the_mix() -> None:
    mixer = Mixer()
    mixer.add_input(A)
    mixer.add_input(B)
    [packet] = encode_tone(440, 0.02)
    mixer.push(A, 0, 5_000, packet)
    mixer.push(B, 0, 4_000, packet)
    assert mixer.tick().captured_at == 4_000


def test_the_mixer_is_active_while_anyone_talks_then_through_the_hangover() -> None:
    mixer = Mixer(hangover_ticks=2)
    mixer.add_input(A)
    assert not mixer.active
    talk(mixer, {A: encode_tone(440, 0.1)}, 5)
    kinds: list[str] = []
    while mixer.active:
        kinds.append(mixer.tick().kind)
    assert kinds == ["mixed", "mixed"], "two ticks of concealment, then idle"
    assert mixer.tick().kind == "silent"
    assert mixer.stats().concealed == 2


def test_a_removed_speaker_is_gone_from_the_next_tick() -> None:
    mixer = Mixer()
    mixer.add_input(A)
    mixer.add_input(B)
    talk(mixer, {A: encode_tone(440, 0.1), B: encode_tone(1000, 0.1)}, 3)
    [packet] = encode_tone(440, 0.02)
    mixer.push(A, 3, 0, packet)
    mixer.remove_input(A)
    assert not mixer.has_input(A)
    assert mixer.push(A, 4, 0, packet) is False
    assert A not in mixer.tick().mixed
    mixer.remove_input(A)  # no-op when absent


def test_push_to_an_unknown_input_returns_false() -> None:
    mixer = Mixer()
    assert mixer.push(99, 0, 0, b"\xf8\xff\xfe") is False
    assert mixer.stats().packets_dropped == 1


@pytest.mark.parametrize("input_id", [A, 99])
def test_a_packet_over_the_limit_raises_packet_too_large(input_id: int) -> None:
    mixer = Mixer()
    mixer.add_input(A)
    with pytest.raises(MixerError) as caught:
        mixer.push(input_id, 0, 0, b"\0" * (MAX_PACKET_BYTES + 1))
    assert caught.value.code == "packet_too_large"


def test_late_and_duplicate_packets_are_dropped_and_counted() -> None:
    mixer = Mixer()
    mixer.add_input(A)
    packets = encode_tone(440, 0.1)
    mixer.push(A, 1, 0, packets[1])
    mixer.push(A, 1, 0, packets[2])  # duplicate of a queued seq
    assert mixer.tick().shared == packets[1]
    mixer.push(A, 0, 0, packets[0])  # older than what was played
    stats = mixer.stats()
    assert (stats.packets_in, stats.packets_late, stats.ticks) == (3, 1, 1)
    mixer.tick()
    assert mixer.stats().packets_late == 2


def test_a_packet_skipped_to_shed_a_bursts_delay_is_dropped_and_counted() -> None:
    # A burst left 4 queued and the sender keeps pace: after 25 ticks that deep, the next packet that says it
    # is quiet is skipped (seq 40: a pause in the talk, level -100 dBov).
    mixer = Mixer()
    mixer.add_input(A)
    packets = encode_tone(440, 1.3)
    for seq in range(4):
        mixer.push(A, seq, 0, packets[seq])
    passed = []
    for seq in range(4, 60):
        mixer.push(A, seq, 0, packets[seq], level=100 if seq == 40 else None)
        passed.append(packets.index(mixer.tick().shared))
    stats = mixer.stats()
    assert (stats.dropped_skipped, stats.packets_dropped) == (1, 1)
    assert set(range(passed[-1])) - set(passed) == {40}, passed


@pytest.mark.parametrize(
    "settings",
    [
        {"max_queue": 0},
        {"max_queue": -1},
        {"hangover_ticks": -1},
        {"bitrate": 100},
        {"complexity": 42},
        {"max_mixed": 0},
        {"max_mixed": 14},
        {"silence_dbfs": 1},
        {"silence_dbfs": -128},
        {"hold_ticks": -1},
    ],
)
def test_bad_mixer_settings_are_bad_arguments(settings: dict[str, int]) -> None:
    with pytest.raises(MixerError) as caught:
        Mixer(**settings)
    assert caught.value.code == "bad_argument"


def test_a_negative_input_id_is_a_bad_argument() -> None:
    with pytest.raises(MixerError) as caught:
        Mixer().add_input(-1)
    assert caught.value.code == "bad_argument"


def test_tick_output_and_stats_are_read_only() -> None:
    mixer = Mixer()
    out, stats = mixer.tick(), mixer.stats()
    with pytest.raises(AttributeError):
        out.kind = "mixed"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        stats.ticks = 0  # type: ignore[misc]
