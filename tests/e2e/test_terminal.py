"""The terminal clients end to end: `stoa speak` sends a WAV into a space while `stoa listen` records it; the
recording is a valid Ogg Opus file (Debian's opusinfo) that decodes (opusdec) to the tone, and the server,
told each packet's level, decoded none of them to forward them (its /metrics). Real processes, real sockets
on loopback, the real codec."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import trio

from actors.space import HandRaised
from gateway.client import connect_account
from tests.audio import assert_tone_absent, assert_tone_present, tone_frames
from tests.conftest import ROOT, ServerProcess
from tests.e2e.levels import assert_lone_speaker_undecoded
from tests.e2e.test_metrics import samples
from tests.e2e.wire import PASSWORD

pytestmark = pytest.mark.serial  # stoa speak's pace and its dropped backlog

A_HZ = 440.0
LISTENERS = ("stoa_participants", (("role", "listener"),))
TALKING = ("stoa_spaces", (("state", "talking"),))


def write_wav(path: Path, freq_hz: float, seconds: float) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(b"".join(tone_frames(freq_hz, seconds)))


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getsampwidth()) == (48_000, 2)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
    return pcm[:, 0].astype(np.float64)


def stoa(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway", *args]


async def test_stoa_speak_from_a_wav_is_recorded_by_stoa_listen_as_ogg_opus_of_the_tone_the_server_never_decoded(
    server: ServerProcess, tmp_path: Path
) -> None:
    wav, recording, decoded = tmp_path / "tone.wav", tmp_path / "x.opus", tmp_path / "x.wav"
    write_wav(wav, A_HZ, 3.0)
    env = {**os.environ, "STOA_PASSWORD": PASSWORD}
    with trio.fail_after(60):
        async with connect_account(server.url, "ada"):
            pass  # the speaker's account exists
        async with connect_account(server.url, "host") as host:
            space_id = (await host.create_space("From a terminal")).space.space_id
            listen = await trio.lowlevel.open_process(
                stoa("listen", server.url, space_id, "--out", str(recording)), cwd=ROOT
            )
            # The listener is in (bounded by the fail_after above, as the waits below).
            while (before := await trio.to_thread.run_sync(samples, server)).get(LISTENERS) != 1:  # noqa: ASYNC110 (another process)
                await trio.sleep(0.05)
            speak = await trio.lowlevel.open_process(
                stoa("speak", server.url, space_id, "--from", str(wav), "--handle", "ada"), cwd=ROOT, env=env
            )
            while True:  # ada raises her hand: bring her on the mic
                event = await host.next_event()
                if isinstance(event, HandRaised):
                    await host.approve_request(event.user)
                    break
            assert await speak.wait() == 0
            # The mix went quiet: its last frames are queued for the listener ahead of the end of the space.
            while (after := await trio.to_thread.run_sync(samples, server))[TALKING]:  # noqa: ASYNC110 (another process)
                await trio.sleep(0.05)
            await host.end_space()  # which ends `stoa listen`
            assert await listen.wait() == 0
    check_recording(recording, decoded)
    assert_lone_speaker_undecoded(before, after, at_least=150)  # 3 s of packets, each with its level


async def test_stoa_speak_paused_mid_file_drops_the_stale_backlog_and_says_how_many(
    server: ServerProcess, tmp_path: Path
) -> None:
    """The process stops for 1.5 s (SIGSTOP: its event loop and its sends with it) while it speaks a 4 s file:
    what it sends after is only what is less than 200 ms behind the file's clock; the rest never reaches the
    server, and its last line counts it."""
    wav, packets = tmp_path / "tone.wav", 200
    write_wav(wav, A_HZ, packets * 0.020)
    env = {**os.environ, "STOA_PASSWORD": PASSWORD}
    stderr, on_mic, told = bytearray(), trio.Event(), trio.Event()

    async def read_stderr(stream: trio.abc.ReceiveStream) -> None:
        while chunk := await stream.receive_some():
            stderr.extend(chunk)
            if b"on the mic" in stderr:
                on_mic.set()
        told.set()  # its last line, with its counts, is in

    with trio.fail_after(60):
        async with connect_account(server.url, "ada"):
            pass
        async with connect_account(server.url, "host") as host, trio.open_nursery() as nursery:
            space_id = (await host.create_space("Paused")).space.space_id
            before = await trio.to_thread.run_sync(samples, server)
            speak = await trio.lowlevel.open_process(
                stoa("speak", server.url, space_id, "--from", str(wav), "--handle", "ada"),
                cwd=ROOT, env=env, stderr=subprocess.PIPE,
            )  # fmt: skip
            assert speak.stderr is not None
            nursery.start_soon(read_stderr, speak.stderr)
            while True:
                event = await host.next_event()
                if isinstance(event, HandRaised):
                    await host.approve_request(event.user)
                    break
            await on_mic.wait()
            await trio.sleep(0.5)
            speak.send_signal(signal.SIGSTOP)
            await trio.sleep(1.5)
            speak.send_signal(signal.SIGCONT)
            assert await speak.wait() == 0
            await told.wait()
            said = re.search(rb"sent (\d+) packets .*; dropped (\d+) too late", stderr)
            assert said is not None, stderr.decode()
            sent, late = int(said[1]), int(said[2])
            # The server's reader has counted the last packets it was sent (bounded: a count that never gets
            # there fails the equality below, not a hang).
            after = await trio.to_thread.run_sync(samples, server)
            with trio.move_on_after(10):
                while wire_audio(after) - wire_audio(before) < sent:
                    await trio.sleep(0.05)
                    after = await trio.to_thread.run_sync(samples, server)
            await host.end_space()
    read = wire_audio(after) - wire_audio(before)
    assert read < packets, f"the server read all {packets} packets: the backlog went late"
    assert (sent, sent + late) == (read, packets)
    assert late >= (1.5 - 0.2) / 0.020 - 15, late  # the pause, less the bound and a busy machine's slack


def wire_audio(found: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    """Every `audio` message the server read from clients, whatever it did with it."""
    return sum(v for (name, _), v in found.items() if name == "stoa_wire_audio_total")


def check_recording(recording: Path, decoded: Path) -> None:
    info = subprocess.run(["opusinfo", str(recording)], capture_output=True, text=True)
    assert info.returncode == 0, info.stdout + info.stderr
    assert "Channels: 1" in info.stdout and "WARNING" not in info.stdout + info.stderr
    subprocess.run(["opusdec", "--quiet", "--rate", "48000", str(recording), str(decoded)], check=True)
    pcm = read_wav(decoded)
    assert len(pcm) >= 2.5 * 48_000, "the recording holds the whole tone"
    loud = pcm[np.abs(pcm) > 1000]
    assert len(loud) > 2.5 * 48_000 * 0.5
    middle = pcm[np.argmax(np.abs(pcm) > 1000) :][: 2 * 48_000]
    assert_tone_present(middle, A_HZ)
    assert_tone_absent(middle, 1000.0, reference_hz=A_HZ)
