"""What a space records, on the production path (`tests/space/sockets.py`: the Rust fan-out, the directory's
`TickPool` and the space's driver, every member on a real socket, real Opus on the real clock), read back by
Debian's opus-tools: only consented voices of people on the mic, from the next tick after a consent is
committed; a decline or withdrawal out before it is written down; the file kept across a crash of the space's
actor.

"From the next tick" is told by the file's own time: frame `k` of a part is the tick `k` 20 ms ticks after
the part started (its first tick is the next one after the start, within 20 ms), so a change committed
between wall-clock moments `t0` and `t1` must show from frame `(t1 - start) / 20 + 1` at the latest and not
before frame `(t0 - start) / 20 - 1` (one tick for the tick under way, one for the first tick's phase). The
space's frame `seq` cannot tell it: it counts only the ticks someone talks in, while a recording also
records the silent ones."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
import trio

from actors.runtime import ActorCrashed
from actors.space import Role, SpaceRef
from tests.audio import assert_tone_absent, assert_tone_present, decode_stream, encode_tone
from tests.recordings import assert_valid, decode_file, frame_levels
from tests.space.sockets import open_rust_directory, stream

pytestmark = pytest.mark.serial  # tones streamed at the 20 ms pace, recorded against the time they were spoken

A_HZ, B_HZ = 440.0, 1000.0


def part_file(data: Path, space_state_recording_id: str, part: int = 0) -> Path:
    return data / "recordings" / space_state_recording_id / f"part-{part}.opus"


async def recording_id_of(space: SpaceRef) -> str:
    recording = (await space.snapshot()).recording
    assert recording is not None
    return recording.recording_id


def frames_between(start_ms: int, t0: float, t1: float) -> tuple[int, int]:
    """The frames of a part started at `start_ms` a change committed between `t0` and `t1` (unix ms) may take
    effect in: none before the first, every one from the last on."""
    return math.floor((t0 - start_ms) / 20) - 1, math.ceil((t1 - start_ms) / 20) + 1


def wall_ms() -> float:
    return time.time() * 1000


class Crash:
    """A message no space understands: handling it crashes the space's actor."""


async def test_a_decliner_stays_live_and_enters_the_recording_from_the_tick_after_consenting(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with trio.fail_after(60):
        async with open_rust_directory(data_dir=data) as (directory, new_link):
            space = await directory.create("host", "Recorded")
            links = {user: new_link() for user in ("host", "alice", "bob", "li")}
            for user, link in links.items():
                await space.join(user, link)
            for user in ("alice", "bob"):
                await space.set_role("host", user, Role.SPEAKER)
            await space.set_recording("host", True)
            recording_id = await recording_id_of(space)
            part = directory._live[space.space_id].recorder.current
            assert part is not None and part.part == 0
            await space.set_consent("alice", True)
            await space.set_consent("bob", False)

            seconds = 4.0
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stream, space, "alice", encode_tone(A_HZ, seconds))
                nursery.start_soon(stream, space, "bob", encode_tone(B_HZ, seconds))
                await trio.sleep(seconds / 2)
                before = wall_ms()
                await space.set_consent("bob", True)
                after = wall_ms()
            await space.set_recording("host", False)
            heard = await links["li"].sync()

    listener = decode_stream([opus for _, opus in heard])
    assert_tone_present(listener, A_HZ)
    assert_tone_present(listener, B_HZ)

    path = part_file(data, recording_id)
    assert_valid(path)
    pcm = decode_file(path, tmp_path)
    cut, onset = frames_between(part.started_at, before, after)  # bob in no frame before `cut`, in all from onset
    a, b = frame_levels(pcm, A_HZ), frame_levels(pcm, B_HZ)
    talking = a > 0.3 * np.median(a[a > np.percentile(a, 50)])  # alice's tone: the frames with voices
    declined = [k for k in range(cut) if talking[k]]
    consented = [k for k in range(onset, len(b)) if talking[k]]
    assert len(declined) > 50 and len(consented) > 50, (len(declined), len(consented))
    assert_tone_present(pcm[declined[0] * 960 : declined[-1] * 960], A_HZ)
    assert_tone_absent(pcm[declined[0] * 960 : declined[-1] * 960], B_HZ, reference_hz=A_HZ)
    assert_tone_present(pcm[consented[0] * 960 : consented[-1] * 960], B_HZ)
    assert max(b[k] for k in declined) < 0.05 * np.median(b[consented]), "bob is out before his consent"
    # in every tick after it (a packet late on this shared machine is concealed: a dip, not his absence)
    assert np.mean(b[consented] > 0.3 * np.median(b[consented])) > 0.95


async def test_a_withdrawal_leaves_the_recording_from_the_next_tick_and_the_speaker_stays_live(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with trio.fail_after(60):
        async with open_rust_directory(data_dir=data) as (directory, new_link):
            space = await directory.create("host", "Recorded", record=True)
            links = {user: new_link() for user in ("host", "bob", "li")}
            for user, link in links.items():
                await space.join(user, link)
            await space.set_role("host", "bob", Role.SPEAKER)
            await space.set_consent("bob", True)
            recording_id = await recording_id_of(space)
            part = directory._live[space.space_id].recorder.current
            assert part is not None
            seconds = 4.0
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stream, space, "bob", encode_tone(B_HZ, seconds))
                await trio.sleep(seconds / 2)
                before = wall_ms()
                await space.set_consent("bob", False)
                after = wall_ms()
            await space.end("host")
            heard = await links["li"].sync()

    listener = decode_stream([opus for _, opus in heard])
    assert_tone_present(listener[len(listener) * 3 // 5 :], B_HZ)  # still live after withdrawing
    pcm = decode_file(assert_valid_path(part_file(data, recording_id)), tmp_path)
    b = frame_levels(pcm, B_HZ)
    cut, gone = frames_between(part.started_at, before, after)
    loud = b[b > 0.3 * b.max()]
    assert len(loud) > 50, "bob was recorded while he consented"
    assert np.all(b[gone : gone + 50] < 0.05 * np.median(loud)), "out from the tick after the withdrawal"
    assert np.mean(b[cut - 50 : cut] > 0.3 * np.median(loud)) > 0.95, "the control: in until then"


def assert_valid_path(path: Path) -> Path:
    assert_valid(path)
    return path


async def test_a_crashed_actor_keeps_recording_into_the_same_file(tmp_path: Path) -> None:
    """The recorder is the space's: a crash and restart of its actor leaves the file, and its time, whole."""
    data = tmp_path / "data"
    seconds = 3.0
    with trio.fail_after(60):
        async with open_rust_directory(data_dir=data) as (directory, new_link):
            space = await directory.create("host", "Resilient", record=True)
            await space.join("host", new_link())
            recording_id = await recording_id_of(space)
            started = trio.current_time()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stream, space, "host", encode_tone(A_HZ, seconds))
                await trio.sleep(seconds / 2)
                with pytest.raises(ActorCrashed):
                    await space._actor.ask(Crash())
                await space.snapshot()  # answered by the restarted actor
                assert directory.restarts == 1
            await space.end("host")
            wall_s = trio.current_time() - started

    recordings = list((data / "recordings").iterdir())
    assert [r.name for r in recordings] == [recording_id]
    assert [f.name for f in recordings[0].iterdir()] == ["part-0.opus"], "one file across the restart"
    info = assert_valid(part_file(data, recording_id))
    assert info.length_s is not None and abs(info.length_s - wall_s) < 0.1 + 0.05, (info.length_s, wall_s)
    pcm = decode_file(part_file(data, recording_id), tmp_path)
    a = frame_levels(pcm, A_HZ)
    voiced = a > 0.3 * a.max()
    span = np.flatnonzero(voiced)
    assert span[-1] - span[0] > (seconds - 0.2) / 0.02 * 0.95, "the tone runs through the crash"
    assert voiced[span[0] : span[-1]].mean() > 0.98, "with no gap"
