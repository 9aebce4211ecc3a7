"""Active-speaker gating as the space sees it: silence is neither mixed nor
encoded, a short pause keeps a talker in the mix, and only the ``max_mixed``
loudest talkers are heard."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from mixer import FRAME_SAMPLES, Encoder, Mixer, TickOutput
from tests.audio import assert_tone_absent, assert_tone_present, decode_stream, tone_frames

SETTLE = 10  # frames skipped before measuring: codec start-up
SILENCE = bytes(2 * FRAME_SAMPLES)


def encode(frames: Iterable[bytes]) -> list[bytes]:
    """One sender's packets: one encoder for the whole stream."""
    encoder = Encoder()
    return [encoder.encode(frame) for frame in frames]


def tone(freq_hz: float, ticks: int, amplitude: float = 0.25) -> list[bytes]:
    return tone_frames(freq_hz, ticks * 0.02, amplitude)


def hiss(ticks: int, amplitude: int = 20) -> list[bytes]:
    """A quiet open microphone: white noise within ±amplitude (about -70 dBFS)."""
    rng = np.random.default_rng(7)
    samples = rng.integers(-amplitude, amplitude + 1, size=ticks * FRAME_SAMPLES).astype("<i2")
    return [samples[i : i + FRAME_SAMPLES].tobytes() for i in range(0, len(samples), FRAME_SAMPLES)]


def talk(mixer: Mixer, streams: dict[int, list[bytes]], ticks: int) -> list[TickOutput]:
    outputs = []
    for seq in range(ticks):
        for input_id, packets in streams.items():
            assert mixer.push(input_id, seq, seq * 20_000, packets[seq])
        outputs.append(mixer.tick())
    return outputs


def mixer_with(*input_ids: int, **settings: int) -> Mixer:
    mixer = Mixer(**settings)
    for input_id in input_ids:
        mixer.add_input(input_id)
    return mixer


def heard(packets: list[bytes]) -> np.ndarray:
    return decode_stream(packets)[SETTLE * FRAME_SAMPLES :]


def test_silent_inputs_are_not_mixed_and_cost_no_encode() -> None:
    mixer = mixer_with(1, 2)
    outputs = talk(mixer, {1: encode([SILENCE] * 30), 2: encode(hiss(30))}, 30)
    for out in outputs:
        assert (out.kind, out.shared, out.minus, out.mixed) == ("silent", None, [], [])
        assert [input_id for input_id, _ in out.levels] == [1, 2], "both were decoded and measured"
        assert all(level < -55 for _, level in out.levels), out.levels
    assert mixer.stats().encodes == 0
    assert mixer.active, "packets of silence keep the caller ticking, through the hangover"


def test_dtx_packets_are_silence() -> None:
    mixer = mixer_with(1)
    for out in talk(mixer, {1: [b"\x48"] * 10}, 10):  # a TOC byte alone, as a sender in DTX sends
        assert out.kind == "silent"
    assert (mixer.stats().encodes, mixer.stats().decode_errors) == (0, 0)


def test_a_talker_beside_open_quiet_microphones_is_passed_through() -> None:
    mixer = mixer_with(1, 2, 3)
    voice = encode(tone(440, 20))
    outputs = talk(mixer, {1: encode(hiss(20)), 2: voice, 3: encode([SILENCE] * 20)}, 20)
    for out, packet in zip(outputs, voice, strict=True):
        assert (out.kind, out.shared, out.minus, out.mixed) == ("passthrough", packet, [], [2])
    assert mixer.stats().encodes == 0


def test_six_talkers_only_the_four_loudest_are_heard() -> None:
    # id: (Hz, amplitude). The loudest four are 3, 5, 1 and 6; 2 and 4 are quiet but above the threshold.
    talkers = {1: (350, 0.12), 2: (520, 0.015), 3: (730, 0.25), 4: (1130, 0.03), 5: (1470, 0.18), 6: (1910, 0.06)}
    mixer = mixer_with(*talkers, max_mixed=4)
    streams = {i: encode(tone(hz, 50, amplitude)) for i, (hz, amplitude) in talkers.items()}
    outputs = talk(mixer, streams, 50)
    for out in outputs:
        assert out.mixed == [1, 3, 5, 6]
        assert [input_id for input_id, _ in out.minus] == [1, 3, 5, 6]
        assert [input_id for input_id, _ in out.levels] == [1, 2, 3, 4, 5, 6]
    assert mixer.stats().encodes == 50 * 5

    shared = heard([out.shared for out in outputs if out.shared is not None])
    minus_5 = heard([dict(out.minus)[5] for out in outputs])
    for pcm in (shared, minus_5):
        assert_tone_present(pcm, 350)
        assert_tone_present(pcm, 1910)
        # Mixed, 520 Hz would be 24 dB and 1,130 Hz 18 dB under 730 Hz: these require 30.
        assert_tone_absent(pcm, 520, reference_hz=730)
        assert_tone_absent(pcm, 1130, reference_hz=730)
    assert_tone_absent(minus_5, 1470, reference_hz=730)


def test_a_talker_pausing_for_less_than_the_hold_stays_mixed() -> None:
    mixer = mixer_with(1, 2, hold_ticks=10)
    pausing = encode(tone(440, 20) + [SILENCE] * 9 + tone(440, 20) + [SILENCE] * 20)
    outputs = talk(mixer, {1: pausing, 2: encode(tone(1000, 69))}, 69)
    assert all(out.mixed == [1, 2] for out in outputs[: 49 + 10]), "a 9-tick pause is within the hold"
    assert all((out.kind, out.mixed) == ("passthrough", [2]) for out in outputs[49 + 11 :]), "a longer one is not"
    during_pause = heard([dict(out.minus)[2] for out in outputs[:49]])
    assert_tone_present(during_pause, 440)


def test_levels_follow_the_loudness_of_each_frame() -> None:
    mixer = mixer_with(1, 2, 3)
    outputs = talk(mixer, {1: encode(tone(440, 20, 0.25)), 2: encode(tone(1000, 20, 0.025))}, 20)
    levels = dict(outputs[-1].levels)
    assert set(levels) == {1, 2}, "3 played nothing"
    # A sine at a quarter of full scale: 20 log10(0.25 / sqrt 2) = -15 dBFS; a tenth of that, -35.
    assert -17 <= levels[1] <= -13
    assert -37 <= levels[2] <= -33
