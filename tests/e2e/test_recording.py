"""Recording end to end: real server processes, real sockets, real Opus, and the files read back by Debian's
opus-tools (`opusinfo`, `opusdec`). A consenting speaker's 440 Hz is recorded and a declining speaker's
1,000 Hz is not, while listeners hear both; the decliner's tone enters from the tick their consent takes
effect; every file is valid and lasts as long as the wall clock ran, silences included; a server killed with
SIGKILL mid-recording leaves every part playable up to a few seconds before the kill, and the restarted
space records on into a new part."""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import trio
from stoa_protocol import MixFrame

from actors.space import Consent, RecordingChanged, Role
from gateway.client import Client, connect, connect_account
from tests.audio import assert_tone_absent, assert_tone_present, decode_stream, encode_tone
from tests.conftest import ServerProcess, slow_enabled, start_server, stop_server
from tests.recordings import assert_valid, decode_file, frame_levels

# A recording's audio against the time it was spoken: those tests run alone. A space created or scheduled to
# record (what the store and the webhooks hold) runs beside the other tests.
against_the_clock = pytest.mark.serial

A_HZ, B_HZ = 440.0, 1000.0
TICK_MS = 20
FIRST_S = 2.0  # the two speakers' talk in the first recording: 100 frames each, heard live, one recorded


def now_ms() -> float:
    return time.time() * 1000


async def wait_for(client: Client, wanted: Callable[[object], bool]) -> object:
    while True:
        event = await client.next_event()
        if wanted(event):
            return event


async def recording_changed(client: Client, on: bool) -> RecordingChanged:
    event = await wait_for(client, lambda e: isinstance(e, RecordingChanged) and e.on == on)
    assert isinstance(event, RecordingChanged)
    return event


async def stream(client: Client, packets: list[bytes], first: int = 0) -> None:
    """Send packets at the real 20 ms pace, numbered from `first` (a client's packets on one connection are
    numbered on: a number already played is dropped as late), each stamped with its capture time."""
    start = trio.current_time()
    for i, packet in enumerate(packets):
        await trio.sleep_until(start + i * 0.020)
        await client.send_audio(first + i, time.time_ns() // 1000, packet)


async def collect(client: Client, into: list[MixFrame]) -> None:
    while True:
        into.append(await client.audio.receive())


def part_path(data: Path, recording_id: str, part: int = 0) -> Path:
    return data / "recordings" / recording_id / f"part-{part}.opus"


def rows(data: Path, query: str, *args: object) -> list[tuple[object, ...]]:
    """Read the server's store with SQLite alone (read-only; WAL lets it run beside the server)."""
    conn = sqlite3.connect(f"file:{data / 'stoa.db'}?mode=ro", uri=True)
    try:
        return conn.execute(query, args).fetchall()
    finally:
        conn.close()


@against_the_clock
async def test_a_decliner_is_heard_live_and_kept_out_of_the_recording_until_they_consent(
    server: ServerProcess, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    url = server.url
    heard: list[MixFrame] = []
    with trio.fail_after(90):
        async with (
            connect_account(url, "host") as host,
            connect_account(url, "alice") as alice,
            connect_account(url, "bob") as bob,
            connect(url, "listener") as listener,
        ):
            space_id = (await host.create_space("Recorded tones")).space.space_id
            for c in (alice, bob, listener):
                await c.join_space(space_id)
            await host.set_role(alice.user, Role.SPEAKER)
            await host.set_role(bob.user, Role.SPEAKER)

            # Recording 1: bob declines throughout.
            await host.set_recording(True)
            on1 = await recording_changed(host, True)
            await alice.recording_consent(True)
            await bob.recording_consent(False)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(collect, listener, heard)
                async with trio.open_nursery() as talking:
                    talking.start_soon(stream, alice, encode_tone(A_HZ, FIRST_S))
                    talking.start_soon(stream, bob, encode_tone(B_HZ, FIRST_S))
                await trio.sleep(0.5)
                nursery.cancel_scope.cancel()
            await trio.sleep(1.0)  # a silence, recorded as silence
            await host.set_recording(False)
            off1 = await recording_changed(host, False)
            assert off1.recording_id == on1.recording_id

            # Recording 2: consent is asked anew; bob consents half way.
            await host.set_recording(True)
            on2 = await recording_changed(host, True)
            assert on2.recording_id != on1.recording_id
            await alice.recording_consent(True)
            await bob.recording_consent(False)
            async with trio.open_nursery() as talking:
                talking.start_soon(stream, alice, encode_tone(A_HZ, 4.0), 1000)
                talking.start_soon(stream, bob, encode_tone(B_HZ, 4.0), 1000)
                await trio.sleep(2.0)
                asked = now_ms()
                await bob.recording_consent(True)
                answered = now_ms()
            live = await host.list_spaces("live")
            assert [s.recording for s in live.live if s.space_id == space_id] == [True]
            async with connect(url, "late") as late:
                snapshot = (await late.join_space(space_id)).space
                assert snapshot.recording is not None and snapshot.recording.recording_id == on2.recording_id
                assert abs(snapshot.recording.since * 1000 - on2.at) < 1
                given = {host.user: Consent.GIVEN, alice.user: Consent.GIVEN, bob.user: Consent.GIVEN}
                assert snapshot.recording.consents == given
            await trio.sleep(1.0)
            await host.set_recording(False)
            off2 = await recording_changed(host, False)

    # Listeners heard both tones while bob was kept out of recording 1.
    live_pcm = decode_stream([f.opus for f in heard])
    assert_tone_present(live_pcm, A_HZ)
    assert_tone_present(live_pcm, B_HZ)

    first, second = part_path(data, on1.recording_id), part_path(data, on2.recording_id)
    for path, on, off in ((first, on1, off1), (second, on2, off2)):
        info = assert_valid(path)
        wall_s = (off.at - on.at) / 1000
        print(f"recording {on.recording_id}: {info.length_s} s in the file, {wall_s:.3f} s on the wall clock")
        assert info.length_s is not None and abs(info.length_s - wall_s) < 0.1, (path.name, info.length_s, wall_s)

    pcm = decode_file(first, tmp_path)  # the whole file
    assert_tone_present(pcm, A_HZ)
    assert_tone_absent(pcm, B_HZ, reference_hz=A_HZ)

    pcm = decode_file(second, tmp_path)
    a, b = frame_levels(pcm, A_HZ), frame_levels(pcm, B_HZ)
    voiced = np.flatnonzero(a > 0.3 * a.max())
    consented = b > 0.3 * np.median(b[b > 0.3 * b.max()])
    onset = int(np.flatnonzero(consented)[0])
    onset_wall = on2.at + onset * TICK_MS  # the file's first frame is the first tick after `on2.at`
    print(f"consent asked at +{asked - on2.at:.0f} ms, answered +{answered - on2.at:.0f} ms, "
          f"in the recording from +{onset * TICK_MS} ms")  # fmt: skip
    assert asked - TICK_MS <= onset_wall <= answered + 2 * TICK_MS, "in force within a tick of the consent"
    # and in every frame after it while bob talks (a packet late on a loaded machine is concealed: a dip)
    assert consented[onset : voiced[-1] - 1].mean() > 0.95
    assert not consented[voiced[0] : int((asked - on2.at) / TICK_MS) - 1].any(), "and in none before it"

    recordings = rows(data, "SELECT id, ended_at, duration_ms FROM recordings ORDER BY started_at")
    assert [(r[0], r[1]) for r in recordings] == [(on1.recording_id, off1.at), (on2.recording_id, off2.at)]
    for recording_id, _, duration_ms in recordings:
        ((size, finished, part_ms),) = rows(
            data, "SELECT bytes, finished, duration_ms FROM recording_parts WHERE recording_id = ?", recording_id
        )
        assert finished == 1 and size == part_path(data, str(recording_id)).stat().st_size
        assert duration_ms == part_ms
    kinds = rows(data, "SELECT kind, user FROM recording_events WHERE recording_id = ? ORDER BY id", on2.recording_id)
    assert kinds == [
        ("recording_started", host.user),
        ("consent_given", host.user),
        ("consent_given", alice.user),
        ("consent_declined", bob.user),
        ("consent_given", bob.user),
        ("recording_stopped", host.user),
    ]


async def test_a_space_created_or_scheduled_to_record_records_from_its_start_and_back_ends_are_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOA_WEBHOOKS_RECORD", "true")  # the outbox is written with no receiver
    data = tmp_path / "data"
    server = start_server(data)
    try:
        with trio.fail_after(30):
            async with connect_account(server.url, "host") as host:
                joined = await host.create_space("On the record", record=True)
                recording = joined.space.recording
                assert recording is not None and recording.consents == {host.user: Consent.GIVEN}
                await host.set_recording(False)
                await host.end_space()
                scheduled = await host.schedule_space("Later, recorded", int(now_ms()) + 3_600_000, record=True)
                assert scheduled.record
                started = await host.start_scheduled(scheduled.scheduled_id)
                assert started.space.recording is not None
                await host.end_space()
    finally:
        assert stop_server(server) == 0
    assert rows(data, "SELECT count(*) FROM recordings WHERE ended_at IS NOT NULL") == [(2,)]
    for (recording_id,) in rows(data, "SELECT id FROM recordings"):
        assert_valid(part_path(data, str(recording_id)))
    hooks = rows(data, "SELECT type, data FROM webhook_events WHERE type LIKE 'recording.%' ORDER BY id")
    told = [(kind, json.loads(str(body))["reason"] if kind == "recording.stopped" else None) for kind, body in hooks]
    assert told == [
        ("recording.started", None),
        ("recording.stopped", "stopped"),
        ("recording.started", None),
        ("recording.stopped", "space_ended"),
    ]


KILLS = 20 if slow_enabled() else 3
"""SIGKILLs of the server mid-recording (STOA_SLOW=1: 20; otherwise 3)."""
PARTS = "SELECT part, offset_ms, duration_ms, finished, path FROM recording_parts ORDER BY part"


async def talk_until_killed(server: ServerProcess, space_id: str | None, rng: random.Random) -> tuple[str, float]:
    """The host (re)joins or creates the recorded space, alice comes on the mic, consents and talks; the
    server is killed with SIGKILL at a random moment. Returns the space's id and the kill's time (unix ms)."""
    async with (
        connect_account(server.url, "host", register=space_id is None, reconnect=None) as host,
        connect_account(server.url, "alice", register=space_id is None, reconnect=None) as alice,
    ):
        if space_id is None:
            space_id = (await host.create_space("Killed mid-recording", record=True)).space.space_id
        else:
            assert (await host.join_space(space_id)).space.recording is not None, "still recording"
        await alice.join_space(space_id)
        await host.set_role(alice.user, Role.SPEAKER)
        await alice.recording_consent(True)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stream, alice, encode_tone(A_HZ, 10.0))
            await trio.sleep(rng.uniform(0.3, 4.0))
            server.proc.kill()
            killed = now_ms()
            nursery.cancel_scope.cancel()
    server.proc.wait()
    return space_id, killed


@against_the_clock
async def test_sigkill_mid_recording_leaves_every_part_playable_and_the_space_records_on(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rng = random.Random(20)
    space_id: str | None = None
    kills: list[float] = []
    with trio.fail_after(60 + 30 * KILLS):
        for _ in range(KILLS):
            server = start_server(data)
            try:
                space_id, killed = await talk_until_killed(server, space_id, rng)
                kills.append(killed)
            finally:
                if server.proc.poll() is None:
                    server.proc.kill()
                    server.proc.wait()
        last = start_server(data)  # repairs the part the last kill cut, and records on
        try:
            with trio.move_on_after(2.0):  # the space comes back recording once the cut parts are repaired
                while len(parts := rows(data, PARTS)) <= KILLS:  # noqa: ASYNC110 (another process writes it)
                    await trio.sleep(0.05)
            assert [p[0] for p in parts] == list(range(KILLS + 1)), "one part per incarnation of the server"
            assert all(p[3] == 1 for p in parts[:-1]) and parts[-1][3] == 0, "the live part is the newest"
        finally:
            assert stop_server(last) == 0

    ((recording_id, started_at),) = rows(data, "SELECT id, started_at FROM recordings")
    assert isinstance(started_at, int)
    previous_end = 0
    for (part, offset_ms, duration_ms, _, path), killed in zip(parts, kills, strict=False):
        assert isinstance(offset_ms, int) and isinstance(duration_ms, int)
        file = data / str(path)
        info = assert_valid(file)
        pcm = decode_file(file, tmp_path)
        decoded_ms = len(pcm) / 48
        lived_ms = killed - (started_at + offset_ms)
        print(f"part {part}: lived {lived_ms:.0f} ms, decodes {decoded_ms:.0f} ms (opusinfo {info.length_s} s)")
        assert lived_ms - 5000 <= decoded_ms <= lived_ms + 100, "playable up to within 5 s of the kill"
        assert abs(decoded_ms - duration_ms) < 100, "the store has the repaired file's duration"
        assert offset_ms >= previous_end - 100, "parts follow one another on the recording's timeline"
        previous_end = offset_ms + duration_ms
        talking = np.zeros(len(pcm), dtype=bool)
        level = frame_levels(pcm, A_HZ)
        talking[: len(level) * 960] = np.repeat(level > 1000, 960)
        if talking.sum() > 25 * 960:  # alice was heard in this part: her tone is in it
            assert_tone_present(pcm[talking], A_HZ)
    newest = data / "recordings" / str(recording_id) / f"part-{KILLS}.opus"
    assert_valid(newest)  # finished by the graceful stop
    assert parts[-1][1] >= kills[-1] - started_at, "the new part starts after the last kill"
