"""A `stoa serve` process for benchmarks, and its CPU time by thread, read from /proc (Linux).

`root` runs another checkout's server (its `gateway/` and `actors/`, with this environment's Python and
extension), so that a figure can be measured before and after a change in one run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NamedTuple

import trio

UNLIMITED = ["--rate-limits", "off", "--max-connections-per-address", "0"]


class Served(NamedTuple):
    pid: int
    port: int
    metrics_url: str  # its /metrics (loopback: no token needed)


@asynccontextmanager
async def running_server(data: Path, transport: str, *args: str, root: Path | None = None) -> AsyncIterator[Served]:
    """Start `stoa serve` on free loopback ports (WebSocket and HTTP); kills it on the way out."""
    command = [sys.executable, "-m", "gateway", "serve", "--port", "0", "--http-port", "0", "--log-level", "WARNING",
               "--data", str(data), "--transport", transport, *UNLIMITED, *args]  # fmt: skip
    env = dict(os.environ)
    if root is not None:
        env["PYTHONPATH"] = str(root)
    proc = await trio.lowlevel.open_process(command, stdout=-1, cwd=root, env=env)
    try:
        assert proc.stdout is not None
        said = b""
        with trio.fail_after(60):
            # "stoa: listening on ws://127.0.0.1:PORT/", then "stoa: open http://127.0.0.1:PORT/ in a browser"
            while b" in a browser\n" not in said:
                said += await proc.stdout.receive_some(4096) or b"(exited)"
                if said.endswith(b"(exited)"):
                    raise RuntimeError(f"the server exited before it listened: {said!r}")
        ws, web = said.decode().splitlines()[:2]
        port = int(ws.rstrip("/").rsplit(":", 1)[1])
        yield Served(proc.pid, port, web.split("open ", 1)[1].split()[0].rstrip("/") + "/metrics")
    finally:
        proc.kill()
        await proc.wait()


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of `pid`'s threads, by group: "main" (the event loop), the Rust threads by name
    ("stoa-wire", "stoa-fanout", "stoa-tick"), and "workers" (other threads: Trio's, whose ticks run
    there with the Python transport). Read from schedstat, in nanoseconds (`stat`'s utime and stime
    count 10 ms clock ticks: 0.8 µs a packet over a 20 s run of 650 packets a second)."""
    return _by_group(pid, lambda tid: int(_read(pid, tid, "schedstat").split()[0]) / 1e9)


def thread_wakes(pid: int) -> dict[str, float]:
    """Context switches of `pid`'s threads so far (voluntary and not), by the groups of `thread_cpu`:
    a thread that sleeps in `epoll_wait` and is woken counts one each time."""

    def switches(tid: str) -> float:
        fields = dict(line.split(":", 1) for line in _read(pid, tid, "status").splitlines() if ":" in line)
        return float(int(fields["voluntary_ctxt_switches"]) + int(fields["nonvoluntary_ctxt_switches"]))

    return _by_group(pid, switches)


def _read(pid: int, tid: str, name: str) -> str:
    with open(f"/proc/{pid}/task/{tid}/{name}") as f:
        return f.read()


def _by_group(pid: int, measure: Callable[[str], float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = _read(pid, tid, "comm").strip()
            value = measure(tid)
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        if int(tid) == pid:
            group = "main"
        elif name in ("stoa-wire", "stoa-fanout", "stoa-tick"):
            group = name
        else:
            group = "workers"
        out[group] = out.get(group, 0.0) + value
    return out


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What each group used between two readings (a thread that ended meanwhile is not counted)."""
    return {group: after[group] - before.get(group, 0.0) for group in after}
