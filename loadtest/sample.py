"""Sampled listeners: Python clients that decode the mix and check that the speakers are heard."""

from __future__ import annotations

import numpy as np
import trio

from gateway.client import connect
from loadtest.audio import tone_hz
from mixer import SAMPLE_RATE, Decoder


class SampleListener:
    def __init__(self, url: str, user: str, space_id: str) -> None:
        self.url, self.user, self.space_id = url, user, space_id
        self.frames: list[tuple[int, bytes]] = []

    async def run(self, *, task_status: trio.TaskStatus[None]) -> None:
        async with connect(self.url, self.user) as client:
            await client.join_space(self.space_id)
            task_status.started()
            async for frame in client.audio:
                self.frames.append((frame.seq, frame.opus))

    def check(self, speakers: int) -> dict[str, object]:
        """Decode what arrived, in order, and find which speakers' tones are in it."""
        frames = sorted(self.frames)
        decoder = Decoder()
        pcm = np.frombuffer(b"".join(decoder.decode(opus) for _, opus in frames), dtype="<i2").astype(float)
        result: dict[str, object] = {"user": self.user, "frames": len(frames)}
        if len(pcm) < SAMPLE_RATE:
            result.update(ok=False, why="less than a second of audio arrived")
            return result
        middle = pcm[len(pcm) // 4 : len(pcm) * 3 // 4]
        spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
        freqs = np.fft.rfftfreq(len(middle), 1 / SAMPLE_RATE)
        floor = float(np.median(spectrum)) + 1e-9
        heard = [
            i
            for i in range(speakers)
            if spectrum[(freqs > tone_hz(i) - 8) & (freqs < tone_hz(i) + 8)].max() > 100 * floor
        ]
        rms = float(np.sqrt(np.mean(middle**2)))
        result.update(rms=round(rms, 1), speakers_heard=heard, ok=bool(heard) and rms > 100)
        return result
