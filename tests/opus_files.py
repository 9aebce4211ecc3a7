"""Ogg Opus files read by independent tools: Debian's `opusinfo` (structure, CRCs, granule positions, playback
length) and `opusdec` (decoded to 48 kHz PCM), from opus-tools (installed by scripts/setup.sh)."""

from __future__ import annotations

import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trio

LENGTH = re.compile(r"Playback length:\s*(\d+)m:(\d+(?:\.\d+)?)s")


@dataclass(frozen=True)
class OpusInfo:
    duration_s: float
    report: str


async def opusinfo(path: Path) -> OpusInfo:
    """`opusinfo`'s report on `path`; fails the test if it exits non-zero or reports a warning or an error
    (a hole in the data, a bad CRC, a granule going backwards, a missing end of stream...)."""
    done = await trio.run_process(["opusinfo", str(path)], capture_stdout=True, capture_stderr=True, check=False)
    report = (done.stdout + done.stderr).decode()
    assert done.returncode == 0, f"opusinfo exited {done.returncode}:\n{report}"
    assert "WARNING" not in report and "ERROR" not in report, report
    length = LENGTH.search(report)
    assert length is not None, report
    return OpusInfo(duration_s=int(length[1]) * 60 + float(length[2]), report=report)


async def opusdec(path: Path) -> np.ndarray:
    """`path` decoded by `opusdec` (pre-skip and end trimming applied) as 48 kHz mono float samples."""
    wav = path.with_suffix(".wav")
    done = await trio.run_process(
        ["opusdec", "--quiet", "--rate", "48000", "--no-dither", str(path), str(wav)], capture_stderr=True, check=False
    )
    assert done.returncode == 0, f"opusdec exited {done.returncode}: {done.stderr.decode()}"
    with wave.open(str(wav), "rb") as decoded:
        assert (decoded.getframerate(), decoded.getnchannels(), decoded.getsampwidth()) == (48_000, 1, 2)
        pcm = decoded.readframes(decoded.getnframes())
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)
