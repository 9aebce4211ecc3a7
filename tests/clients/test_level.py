"""`stoa_protocol.audio_level`: the `level` a speaker sends with each packet (RFC 6464's -dBov of the packet's
RMS), by table, and the same figure the server's mixer measures when it decodes the packet instead."""

from __future__ import annotations

import numpy as np
import pytest
from stoa_protocol import MAX_AUDIO_LEVEL, audio_level

from mixer import FRAME_SAMPLES, Encoder, Mixer
from tests.audio import tone_frames


def pcm(samples: np.ndarray) -> bytes:
    return samples.astype("<i2").tobytes()


def square(amplitude: int) -> bytes:
    return pcm(np.resize([amplitude, -amplitude], FRAME_SAMPLES))


@pytest.mark.parametrize(
    ("frame", "level"),
    [
        (bytes(2 * FRAME_SAMPLES), MAX_AUDIO_LEVEL),  # digital silence
        (square(32767), 0),  # full scale
        (pcm(np.resize([-32768, 32767], FRAME_SAMPLES)), 0),
        (tone_frames(440.0, 0.02, amplitude=1.0)[0], 3),  # a full-scale sine
        (tone_frames(440.0, 0.02, amplitude=0.25)[0], 15),  # 20 log10(0.25 / sqrt 2) = -15.05
        (tone_frames(440.0, 0.02, amplitude=0.025)[0], 35),
        (square(3277), 20),  # a tenth of full scale
        (square(1), 90),  # the quietest square: -90.3 dBov
        (pcm(np.eye(1, FRAME_SAMPLES, 0)[0]), 120),  # one sample of 1: the quietest sound of 960 samples
    ],
    ids=[
        "silence",
        "full-scale",
        "most-negative",
        "tone-full",
        "tone-quarter",
        "tone-fortieth",
        "tenth",
        "lsb",
        "one-sample",
    ],  # fmt: skip
)
def test_the_level_is_the_dbov_of_the_rms_rounded_and_clamped(frame: bytes, level: int) -> None:
    assert audio_level(frame) == level


def test_the_level_sent_is_the_level_the_mixer_measures_when_it_decodes() -> None:
    """What the client sends stands in for what the server would decode: the same scale, the codec aside
    (within 1 dB), for loud and quiet speech alike."""
    for amplitude in (0.5, 0.25, 0.05, 0.005):
        frames = tone_frames(440.0, 0.4, amplitude=amplitude)
        encoder, mixer = Encoder(), Mixer()
        mixer.add_input(1)
        measured = []
        for seq, frame in enumerate(frames):
            mixer.push(1, seq, 1, encoder.encode(frame))
            measured += [level for _, level in mixer.tick().levels]
        sent = [audio_level(frame) for frame in frames]
        assert len(measured) >= len(frames) - 2 and len(set(sent)) == 1, "a steady tone has one level"
        assert abs(-measured[-1] - sent[-1]) <= 1, (amplitude, measured[-1], sent[-1])
