"""Networking rules for every test, and the fixtures that start real servers.

- Tests bind and connect only to 127.0.0.1, always on port 0 (the kernel picks a free port); fixtures
  return the bound port.
- Every test that does I/O runs under a `trio.fail_after` ceiling, so nothing can hang CI.
- Anything timed by the test itself uses the autojump clock; real-time audio tests use the real clock.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import trio
from hypothesis import settings

from tests.forkserver import ForkedProcess, ForkServer

# No per-example deadline: the suite runs beside itself on 2 shared cores, where an example's time says nothing
# about the code (speed is measured in bench/, not asserted in tests).
settings.register_profile("stoa", deadline=None)
settings.load_profile("stoa")

ROOT = Path(__file__).resolve().parent.parent


# The parallel part (scripts/test.sh) hands each worker a whole file at a time, in this order (xdist's own order,
# by number of tests, put the slow single-test files last, one worker waiting on them at the end): the folders
# whose files start browsers and servers first, the unit tests last, so that both workers end on short files.
SLOW_FOLDERS_FIRST = ("web", "clients", "e2e", "mixer", "fuzz")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        folder = item.path.relative_to(ROOT / "tests").parts[0]
        return SLOW_FOLDERS_FIRST.index(folder) if folder in SLOW_FOLDERS_FIRST else len(SLOW_FOLDERS_FIRST)

    items.sort(key=rank)  # stable: a folder's files keep their order


FORKS = ForkServer()  # each test process's one: `stoa serve` without its second of imports (tests/forkserver.py)


class ServerProcess:
    def __init__(self, proc: ForkedProcess, port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"ws://127.0.0.1:{port}/"
        self.http_port: int | None = None  # read from the web client's line, when the test reads it


def start_server(data_dir: Path, *extra: str, timeout: float = 20.0) -> ServerProcess:
    """Start `stoa serve` as a separate process on an ephemeral loopback port; wait for its port line."""
    proc = FORKS.start(
        [
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--http-port",
            "0",
            "--data",
            str(data_dir),
            "--log-level",
            "WARNING",
            *extra,
        ],
        ROOT,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if line.startswith("stoa: listening on ws://"):
                server = ServerProcess(proc, int(line.rsplit(":", 1)[1].strip().rstrip("/")))
                if not _web_off(extra):  # the next line names the web client's port
                    web = proc.stdout.readline()
                    assert web.startswith("stoa: open http://"), web
                    server.http_port = int(web.split(" in a browser")[0].rsplit(":", 1)[1].rstrip("/"))
                return server
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError(f"server did not start (exit code {proc.poll()})")


def _web_off(args: tuple[str, ...]) -> bool:
    """Whether `args` (after the fixture's `--http-port 0`) turn the web client off."""
    ports = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--http-port"]
    return bool(ports) and ports[-1] == "off"


def stop_server(server: ServerProcess) -> int:
    server.proc.send_signal(signal.SIGTERM)
    try:
        return server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        return server.proc.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = start_server(tmp_path / "data")
    try:
        yield srv
    finally:
        code = stop_server(srv)
        assert code == 0, f"server exited with {code}"


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for a module's tests of the HTTP side and the web client."""
    srv = start_server(tmp_path_factory.mktemp("web") / "data")
    try:
        yield srv
    finally:
        assert stop_server(srv) == 0


async def run_stoa(*args: str) -> subprocess.CompletedProcess[str]:
    """`stoa *args` (`python -m gateway`) to its end, its output captured; forked as `start_server` forks servers.
    Killed after 60 s: a thread is not cancelled with the test's `fail_after`, so this bounds it."""
    return await trio.to_thread.run_sync(partial(FORKS.run, list(args), ROOT, 60.0))


def slow_enabled() -> bool:
    return os.environ.get("STOA_SLOW") == "1"
