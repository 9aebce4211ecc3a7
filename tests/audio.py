"""Test audio: tones through the real Opus codec, and spectral checks on what comes back."""

from __future__ import annotations

import numpy as np

from mixer import FRAME_SAMPLES, SAMPLE_RATE, Decoder, Encoder


def tone_frames(freq_hz: float, seconds: float, amplitude: float = 0.25) -> list[bytes]:
    """A sine as 20 ms frames of 16-bit little-endian PCM."""
    n = int(seconds * SAMPLE_RATE) // FRAME_SAMPLES * FRAME_SAMPLES
    t = np.arange(n) / SAMPLE_RATE
    pcm = (np.sin(2 * np.pi * freq_hz * t) * amplitude * 32767).astype("<i2")
    return [pcm[i : i + FRAME_SAMPLES].tobytes() for i in range(0, n, FRAME_SAMPLES)]


def encode_tone(freq_hz: float, seconds: float) -> list[bytes]:
    encoder = Encoder(bitrate=32000, complexity=5)
    return [encoder.encode(frame) for frame in tone_frames(freq_hz, seconds)]


def encode_silence(seconds: float) -> list[bytes]:
    """Real Opus packets of digital silence (a microphone that is on but hears nothing)."""
    encoder = Encoder(bitrate=32000, complexity=5)
    return [encoder.encode(bytes(FRAME_SAMPLES * 2)) for _ in range(round(seconds / 0.020))]


def decode_stream(packets: list[bytes]) -> np.ndarray:
    decoder = Decoder()
    return np.frombuffer(b"".join(decoder.decode(p) for p in packets), dtype="<i2").astype(np.float64)


def tone_level(pcm: np.ndarray, freq_hz: float) -> float:
    """Magnitude of the spectrum around `freq_hz` (a Hann window, the peak within ±10 Hz)."""
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    freqs = np.fft.rfftfreq(len(pcm), 1 / SAMPLE_RATE)
    band = (freqs > freq_hz - 10) & (freqs < freq_hz + 10)
    return float(spectrum[band].max())


def noise_floor(pcm: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    return float(np.median(spectrum)) + 1e-9


def assert_tone_present(pcm: np.ndarray, freq_hz: float) -> None:
    level, floor = tone_level(pcm, freq_hz), noise_floor(pcm)
    assert level > 100 * floor, f"{freq_hz} Hz should be audible: level {level:.0f}, floor {floor:.1f}"


def assert_tone_absent(pcm: np.ndarray, freq_hz: float, reference_hz: float) -> None:
    """`freq_hz` at least 30 dB under the tone at `reference_hz` that is present in the same signal."""
    level, ref = tone_level(pcm, freq_hz), tone_level(pcm, reference_hz)
    assert level * 31.6 < ref, f"{freq_hz} Hz should be absent: {level:.0f} vs {ref:.0f} at {reference_hz} Hz"
