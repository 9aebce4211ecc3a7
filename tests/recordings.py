"""Checking recordings with independent tools: Debian's opus-tools read and decode the Ogg Opus files the
server writes (`opusinfo` checks every page and packet; `opusdec` decodes them as any player would), and the
decoded signal is measured here (tones over the whole file, and per 20 ms frame)."""

from __future__ import annotations

import re
import subprocess
import wave
from pathlib import Path

import numpy as np

from mixer import FRAME_SAMPLES, SAMPLE_RATE

_LENGTH = re.compile(r"Playback length: (?:(\d+)h:)?(\d+)m:([\d.]+)s")


class OpusInfo:
    def __init__(self, path: Path) -> None:
        done = subprocess.run(["opusinfo", str(path)], capture_output=True, text=True, timeout=60, check=False)
        self.returncode = done.returncode
        self.output = done.stdout + done.stderr
        found = _LENGTH.search(self.output)
        self.length_s = None if found is None else int(found[1] or 0) * 3600 + int(found[2]) * 60 + float(found[3])

    @property
    def clean(self) -> bool:
        """opusinfo read the whole stream, found its end, and warned of nothing."""
        return (
            self.returncode == 0
            and self.length_s is not None
            and "WARNING" not in self.output
            and "ERROR" not in self.output.upper().replace("ERRORS: 0", "")
        )


def assert_valid(path: Path) -> OpusInfo:
    info = OpusInfo(path)
    assert info.clean, f"opusinfo finds fault with {path}:\n{info.output}"
    return info


def decode_file(path: Path, tmp: Path) -> np.ndarray:
    """The file decoded by `opusdec` at 48 kHz (its pre-skip removed, as any player does), as float samples."""
    out = tmp / (path.stem + ".wav")
    subprocess.run(
        ["opusdec", "--quiet", "--rate", str(SAMPLE_RATE), "--no-dither", str(path), str(out)],
        check=True,
        timeout=120,
        capture_output=True,
    )
    with wave.open(str(out), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)


def frame_levels(pcm: np.ndarray, freq_hz: float) -> np.ndarray:
    """The amplitude of `freq_hz` in each 20 ms frame (a single-bin DFT at exactly that frequency)."""
    frames = len(pcm) // FRAME_SAMPLES
    blocks = pcm[: frames * FRAME_SAMPLES].reshape(frames, FRAME_SAMPLES)
    t = np.arange(FRAME_SAMPLES) / SAMPLE_RATE
    probe = np.exp(-2j * np.pi * freq_hz * t)
    return np.asarray(np.abs(blocks @ probe) * 2 / FRAME_SAMPLES)


def loud_frames(pcm: np.ndarray, threshold: float = 300.0) -> np.ndarray:
    """Which 20 ms frames hold sound (RMS over `threshold`, of 32,767)."""
    frames = len(pcm) // FRAME_SAMPLES
    blocks = pcm[: frames * FRAME_SAMPLES].reshape(frames, FRAME_SAMPLES)
    return np.asarray(np.sqrt((blocks**2).mean(axis=1)) > threshold)
