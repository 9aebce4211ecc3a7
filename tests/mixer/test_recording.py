"""Recording through the real binding (`SpaceDriver.start_recording`, `set_consent`, `stop_recording`,
`repair_recording`): real Opus tones through the real mixer and tick pool, the file checked by independent
tools (`opusinfo`, `opusdec`) and its decoded audio by FFT. Real time: the recording keeps the space's time."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import trio

from mixer import Fanout, Mixer, MixerError, SpaceDriver, TickPool, repair_recording
from tests.audio import assert_tone_absent, assert_tone_present, encode_tone
from tests.opus_files import opusdec, opusinfo

CONSENTING, DECLINING = 1, 2
FRAME_S = 0.02
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Space:
    mixer: Mixer
    driver: SpaceDriver
    pool: TickPool


@contextmanager
def open_space() -> Iterator[Space]:
    """A space as the server runs one: a mixer on the pool's threads, its frames to an (empty) audience."""
    pool, mixer, fanout = TickPool(), Mixer(), Fanout()
    driver = SpaceDriver(pool, mixer, fanout, fanout.new_group())
    try:
        yield Space(mixer, driver, pool)
    finally:
        driver.stop()
        fanout.shutdown()


async def talk(space: Space, streams: dict[int, list[bytes]], first_seq: int = 0) -> None:
    """Each input sends its packets at the speaker's pace, one every 20 ms, as a client would."""
    start = trio.current_time()
    for n in range(max(len(packets) for packets in streams.values())):
        for input_id, packets in streams.items():
            if n < len(packets):
                space.mixer.push(input_id, first_seq + n, 1, packets[n])
        space.driver.notify()
        await trio.sleep_until(start + (n + 1) * FRAME_S)


def frame_levels(pcm: np.ndarray, freq_hz: float) -> np.ndarray:
    """The level of `freq_hz` in each 20 ms frame (a single-bin DFT per frame)."""
    frames = pcm[: len(pcm) // 960 * 960].reshape(-1, 960)
    t = np.arange(960) / 48_000
    return np.abs(frames @ np.exp(-2j * np.pi * freq_hz * t)) / 960


async def test_the_recording_holds_the_consenting_voice_not_the_declining_one_and_keeps_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "part-0.opus"
    with trio.fail_after(60), open_space() as space:
        space.mixer.add_input(CONSENTING)
        space.mixer.add_input(DECLINING)
        space.driver.set_consent(CONSENTING, True)
        started = time.monotonic()
        space.driver.start_recording(str(path), 0x51)
        await trio.sleep(0.5)  # nobody talks: recorded as silence, the space's time kept
        await talk(space, {CONSENTING: encode_tone(440, 2.0), DECLINING: encode_tone(1000, 2.0)})
        await trio.sleep(0.5)
        stats = space.driver.stop_recording()
        wall_s = time.monotonic() - started
    assert stats is not None
    assert stats.frames == stats.frames_shared + stats.frames_own + stats.frames_silent
    assert stats.frames_own >= 90, stats  # both talked: the recording mixed its own
    assert stats.frames_silent >= 35, stats
    assert (stats.bytes, stats.write_errors) == (path.stat().st_size, 0)

    info = await opusinfo(path)
    assert abs(info.duration_s - wall_s) < 0.1, f"{info.duration_s:.3f} s in the file, {wall_s:.3f} s of wall clock"
    assert abs(stats.duration_ms / 1000 - info.duration_s) < 0.002
    pcm = await opusdec(path)
    assert abs(len(pcm) / 48_000 - wall_s) < 0.1
    # Over the whole file: the consenting speaker is in it, the one who declined is not.
    assert_tone_present(pcm, 440)
    assert_tone_absent(pcm, 1000, reference_hz=440)


async def test_a_speaker_who_consents_mid_space_is_recorded_from_then_on(tmp_path: Path) -> None:
    """The control of the test above: the same 1,000 Hz voice, consenting halfway, is in the file from then."""
    path = tmp_path / "part-0.opus"
    with trio.fail_after(60), open_space() as space:
        space.mixer.add_input(CONSENTING)
        space.mixer.add_input(DECLINING)
        space.driver.set_consent(CONSENTING, True)
        space.driver.start_recording(path, 7)
        started = time.monotonic()
        a, b = encode_tone(440, 3.0), encode_tone(1000, 3.0)
        await talk(space, {CONSENTING: a[:75], DECLINING: b[:75]})
        consented_at = time.monotonic() - started
        space.driver.set_consent(DECLINING, True)
        await talk(space, {CONSENTING: a[75:], DECLINING: b[75:]}, first_seq=75)
        stats = space.driver.stop_recording()
    assert stats is not None and stats.frames_own > 50 and stats.frames_shared > 50, stats
    await opusinfo(path)
    pcm = await opusdec(path)
    cut = int(consented_at * 48_000)
    before, after = pcm[: cut - 4_800], pcm[cut + 4_800 :]  # 100 ms either side of the change
    assert_tone_absent(before, 1000, reference_hz=440)
    assert_tone_present(after, 1000)
    assert_tone_present(after, 440)
    # Where in the file the voice comes in: at the change, give or take the ticks' and the test's timing
    # (the cargo tests show it is exactly the next tick).
    levels = frame_levels(pcm, 1000)
    first = int(np.argmax(levels > 0.1 * levels.max())) * FRAME_S
    assert abs(first - consented_at) < 0.15, f"1,000 Hz from {first:.3f} s; consent given at {consented_at:.3f} s"


async def test_when_everyone_mixed_consented_the_listeners_packets_are_reused(tmp_path: Path) -> None:
    path = tmp_path / "part-0.opus"
    with trio.fail_after(30), open_space() as space:
        space.mixer.add_input(CONSENTING)
        space.driver.set_consent(CONSENTING, True)
        space.driver.start_recording(path, 1)
        await talk(space, {CONSENTING: encode_tone(440, 1.0)})
        live = space.driver.recording_stats()
        stats = space.driver.stop_recording()
    assert live is not None and live.frames % 50 == 0, "counted a page (a second) at a time, as written"
    assert stats is not None and stats.frames_shared >= 45 and stats.frames_own == 0, stats
    assert space.driver.recording_stats() is None
    assert_tone_present(await opusdec(path), 440)


def test_what_start_recording_refuses(tmp_path: Path) -> None:
    with open_space() as space:
        assert space.driver.stop_recording() is None
        assert space.driver.recording_stats() is None
        (tmp_path / "taken.opus").write_bytes(b"x")
        with pytest.raises(FileExistsError):
            space.driver.start_recording(tmp_path / "taken.opus", 1)
        assert (tmp_path / "taken.opus").read_bytes() == b"x", "an existing file is never replaced"
        with pytest.raises(FileNotFoundError):
            space.driver.start_recording(tmp_path / "missing" / "part-0.opus", 1)
        with pytest.raises(MixerError) as bad:
            space.driver.start_recording(tmp_path / "a.opus", 2**32)
        assert bad.value.code == "bad_argument"
        space.driver.start_recording(tmp_path / "a.opus", 2**32 - 1)
        with pytest.raises(ValueError, match="recording already"):
            space.driver.start_recording(tmp_path / "b.opus", 1)
        space.driver.stop()
        with pytest.raises(ValueError, match="stopped"):
            space.driver.start_recording(tmp_path / "c.opus", 1)
    assert not (tmp_path / "b.opus").exists() and not (tmp_path / "c.opus").exists()
    with pytest.raises(ValueError):
        repair_recording(tmp_path / "taken.opus")
    with pytest.raises(FileNotFoundError):
        repair_recording(tmp_path / "nothing.opus")


CHILD = """
import sys, time
from mixer import Encoder, Fanout, Mixer, SpaceDriver, TickPool
import numpy as np
pool, mixer, fanout = TickPool(), Mixer(), Fanout()
driver = SpaceDriver(pool, mixer, fanout, fanout.new_group())
mixer.add_input(1)
driver.set_consent(1, True)
encoder = Encoder()
t = np.arange(960) / 48000
driver.start_recording(sys.argv[1], 9)
start = time.monotonic()
print(start, flush=True)
n = 0
while True:
    if n % 150 < 100:  # 2 s talking, 1 s silent
        pcm = (8000 * np.sin(2 * np.pi * 440 * (t + n * 0.02))).astype("<i2").tobytes()
        mixer.push(1, n, 1, encoder.encode(pcm))
        driver.notify()
    n += 1
    time.sleep(max(0.0, start + n * 0.02 - time.monotonic()))
"""


async def test_a_recording_killed_at_any_moment_plays_up_to_seconds_before_the_kill(tmp_path: Path) -> None:
    rng = random.Random(11)
    for attempt in range(3):
        path = tmp_path / f"killed-{attempt}.opus"
        with trio.fail_after(40):
            child = await trio.lowlevel.open_process(
                [sys.executable, "-c", CHILD, str(path)], cwd=ROOT, stdout=subprocess.PIPE
            )
            try:
                assert child.stdout is not None
                line = b""
                while not line.endswith(b"\n"):
                    chunk = await child.stdout.receive_some()
                    assert chunk, "the recording process ended early"
                    line += chunk
                started = float(line)
                await trio.sleep(rng.uniform(1.5, 5.0))
                killed = time.monotonic()
                child.send_signal(signal.SIGKILL)
            finally:
                child.kill()
                await child.wait()
        recorded_s = killed - started
        duration_ms = repair_recording(path)
        info = await opusinfo(path)
        assert abs(info.duration_s - duration_ms / 1000) < 0.002
        assert recorded_s - 5 < info.duration_s <= recorded_s + 0.1, (recorded_s, info.duration_s)
        assert recorded_s - info.duration_s < 2.5, "at most the page being filled and one in flight are lost"
        pcm = await opusdec(path)
        assert abs(len(pcm) / 48_000 - info.duration_s) < 0.01
        assert_tone_present(pcm, 440)
        assert repair_recording(path) == duration_ms, "a second repair changes nothing"
