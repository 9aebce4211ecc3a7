"""A panic in one of the audio engine's threads (a bug) ends `stoa serve` with status 70 and a line on stderr
naming the thread, instead of leaving a process that answers /healthz while its clients hear nothing
(gateway/engine_watch.py, mixer-rs/src/engine.rs). The panic is made by the extension's own test function on
a thread named as the engine's are; the server is the real one, started as `stoa serve` is."""

from __future__ import annotations

import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio
from trio_websocket import ConnectionClosed, HandshakeError, open_websocket_url

from tests.conftest import ROOT
from tests.e2e.wire import hello_guest

# The server, with a thread that makes one panic per line the test writes on its stdin: "<thread name>".
SERVER = """
import sys, threading
import mixer._mixer as m
from gateway.cli import main

def panics():
    for line in sys.stdin:
        m._panic_in_thread(line.strip(), "injected by the test")

threading.Thread(target=panics, daemon=True).start()
sys.exit(main(sys.argv[1:]))
"""


def start(data: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, "serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "off",
         "--data", str(data), "--log-level", "WARNING"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("stoa: listening on ws://"):
        proc.kill()
        pytest.fail(f"the server did not start: {line!r}")
    return proc, line.split(" on ", 1)[1].strip()


def thread_names(pid: int) -> set[str]:
    return {comm.read_text().strip() for comm in Path(f"/proc/{pid}/task").glob("*/comm")}


def panic_in(proc: subprocess.Popen[str], thread: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(thread + "\n")
    proc.stdin.flush()


async def test_a_panic_in_an_engine_thread_ends_the_server_with_70_and_says_where(tmp_path: Path) -> None:
    proc, url = start(tmp_path / "data")
    try:
        with trio.fail_after(30):
            async with open_websocket_url(url) as ws:
                await hello_guest(ws, "before")
                # The engine's threads carry the names the watch knows them by.
                assert {"stoa-fanout", "stoa-wire", "stoa-tick"} <= thread_names(proc.pid)
                panic_in(proc, "other-thread")  # not one of the engine's: the server goes on
                await trio.sleep(2.5)  # over twice the watch's period
                assert proc.poll() is None, "a panic outside the engine's threads ended the server"
                async with open_websocket_url(url) as second:
                    await hello_guest(second, "after")

                started = time.monotonic()
                panic_in(proc, "stoa-fanout")
                code = await trio.to_thread.run_sync(proc.wait, 10)
                assert (code, time.monotonic() - started < 8) == (70, True)  # a 1 s watch, then the shutdown
                with pytest.raises(ConnectionClosed):  # the session ended with the process
                    await ws.get_message()
            with pytest.raises(HandshakeError):  # and nothing listens on its port any more (refused)
                async with open_websocket_url(url):
                    pass
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    expected = "stoa serve: the audio engine failed, exiting for a restart: thread 'stoa-fanout' panicked at "
    assert expected in stderr, stderr
    assert "injected by the test" in stderr
