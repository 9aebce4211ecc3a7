"""Encoder and Decoder: a tone survives the round trip, loss is concealed,
and wrong input is refused with a stable error code."""

from __future__ import annotations

import numpy as np
import pytest

from mixer import FRAME_SAMPLES, MAX_PACKET_BYTES, SAMPLE_RATE, Decoder, Encoder, MixerError
from tests.audio import assert_tone_absent, assert_tone_present, encode_tone, tone_frames


def pcm_of(frames: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(frames), dtype="<i2").astype(np.float64)


def test_round_trip_keeps_a_440_hz_tone() -> None:
    decoder = Decoder()
    decoded = pcm_of([decoder.decode(p) for p in encode_tone(440, 1.0)])[10 * FRAME_SAMPLES :]
    assert_tone_present(decoded, 440)
    assert_tone_absent(decoded, 1000, reference_hz=440)
    spectrum = np.abs(np.fft.rfft(decoded * np.hanning(len(decoded))))
    peak_hz = np.fft.rfftfreq(len(decoded), 1 / SAMPLE_RATE)[spectrum.argmax()]
    assert abs(peak_hz - 440) < 3


def test_each_packet_decodes_to_one_frame_of_s16le() -> None:
    packet = Encoder().encode(tone_frames(440, 0.02)[0])
    assert 0 < len(packet) <= MAX_PACKET_BYTES
    assert len(Decoder().decode(packet)) == 2 * FRAME_SAMPLES


def test_a_lost_packet_is_concealed_with_more_of_the_tone() -> None:
    decoder = Decoder()
    for packet in encode_tone(440, 0.4):
        decoder.decode(packet)
    concealed = [decoder.decode(None) for _ in range(3)]
    assert [len(frame) for frame in concealed] == [2 * FRAME_SAMPLES] * 3
    assert_tone_present(pcm_of(concealed), 440)


@pytest.mark.parametrize("length", [0, 1, 1918, 1921, 3840])
def test_pcm_of_the_wrong_length_is_refused(length: int) -> None:
    with pytest.raises(MixerError) as caught:
        Encoder().encode(b"\0" * length)
    assert caught.value.code == "bad_pcm_length"


@pytest.mark.parametrize(
    ("packet", "code"),
    [
        (b"", "codec_error"),
        (b"\x03", "codec_error"),
        (b"\0" * (MAX_PACKET_BYTES + 1), "packet_too_large"),
    ],
)
def test_a_bad_packet_is_refused_by_the_decoder(packet: bytes, code: str) -> None:
    with pytest.raises(MixerError) as caught:
        Decoder().decode(packet)
    assert caught.value.code == code


@pytest.mark.parametrize(
    "settings",
    [{"bitrate": 0}, {"bitrate": -1}, {"bitrate": 10**30}, {"complexity": 11}, {"complexity": -1}],
)
def test_out_of_range_encoder_settings_are_bad_arguments(settings: dict[str, int]) -> None:
    with pytest.raises(MixerError) as caught:
        Encoder(**settings)
    assert caught.value.code == "bad_argument"
