"""`stoa load`: start (or reach) a server, fill spaces with speakers and listeners, measure, report.

Order: the accounts (hosts and speakers) and the server; per space a host and its speakers
(`loadtest/cast.py`: compiled speakers sending real Opus on one capture clock); K sampled Python
listeners that decode the mix; then N listeners per space (guests) in compiled pools spread over
worker processes, ramped up. Once a second it reads every worker's figures and the server's CPU
and memory, and prints a progress line. The window opens when the ramp is over and every listener
has joined or failed (at most `join_grace_s` later) and lasts `duration_s`; after a drain, the
speakers stop, each listener's coverage of the window is computed in its pool
(`loadtest/coverage.py`), and `report.json` and `report.png` are written.

A server started here runs with `--rate-limits off` and `--max-connections-per-address 0`: every
listener connects from this one address, and a load test joins far faster than people would. Never
serve users that way; a server given with `--url` needs the same two options for a large run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import trio

from gateway.server import DATABASE_FILE
from loadtest.accounts import Account, log_in_all, seed
from loadtest.audio import continuous, levels, speaker_packets
from loadtest.cast import Cast, PoolScript, end_spaces, open_cast, produced, speaker_handle, speakers_summary
from loadtest.monitor import scrape, usage
from loadtest.report import summarise, write_plot
from loadtest.sample import SampleListener
from loadtest.speech import Script, conversation, rotated

MAX_LISTENERS_PER_PROCESS = 6000  # well under the 20,000 open files a process may have here
UNLIMITED = ["--rate-limits", "off", "--max-connections-per-address", "0"]  # for the server started here
SLOT_S = 0.020


@dataclass
class LoadConfig:
    listeners: int = 100  # per space
    speakers: int = 3  # per space, all talking all the time (3 taking turns with `speech="conversation"`)
    spaces: int = 1
    duration_s: float = 20.0  # the window measured, after the ramp
    ramp_s: float = 5.0
    join_grace_s: float = 30.0  # how long after the ramp the window waits for listeners still joining
    drain_s: float = 2.0  # after the window, before the speakers stop and coverage is counted
    url: str | None = None  # None: start a server here
    server_pid: int | None = None
    metrics_url: str | None = None  # the started server's /metrics (loopback: no token needed)
    transport: str = "rust"
    frames_per_message: int | Literal["auto"] = "auto"  # the server's: auto, or a fixed count
    server_args: list[str] = field(default_factory=list)
    # The started server's code: None, this checkout's; else another checkout's (its `gateway/`, `actors/` and
    # built `mixer/` extension, on PYTHONPATH) with this environment's Python, to compare two side by side.
    server_root: Path | None = None
    processes: int = 0  # 0: enough for MAX_LISTENERS_PER_PROCESS each
    sample: int = 2  # Python listeners that decode and check the audio (space 0; tones only)
    speech: str = "tones"  # "tones" (a tone each), "conversation" (3 voices taking turns), or a WAV file
    levels: bool = True  # speakers send each packet's level (`audio`'s `level`), as the web and Python clients do
    # With `speech="conversation"`: the points of the loop the spaces' conversations start at, spread evenly
    # over it (space s at point s mod phases). 0: one per space, each conversation on its own timing.
    phases: int = 0
    out: Path = Path("load-results")
    quiet: bool = False
    # Started (in the harness's nursery) when the window opens: a test injects a fault there.
    during_window: Callable[[RunHandles], Awaitable[None]] | None = None


@dataclass(frozen=True)
class RunHandles:
    """What a fault injected during the window can reach: the processes of the run."""

    server_pid: int | None
    worker_pids: list[int]


@dataclass
class Worker:
    proc: trio.Process
    spaces: list[str]
    last: dict[str, Any] = field(default_factory=dict)
    final: dict[str, Any] | None = None
    finished: trio.Event = field(default_factory=trio.Event)


def scripts(config: LoadConfig) -> list[list[PoolScript]]:
    """Per space, what each of its speakers says, with each packet's level unless `config.levels` is off."""

    def leveled(script: Script) -> PoolScript:
        packets, plan = script
        return packets, plan, levels(packets) if config.levels else []

    if config.speech == "conversation":
        if config.speakers != 3:
            raise ValueError("a conversation has 3 speakers")
        if config.phases < 0:
            raise ValueError("phases must be 0 (one per space) or more")
        # Each space starts its conversation at its own point of the loop, spread evenly over it, so
        # that spaces talk, overlap and pause independently, as unrelated conversations do; `phases`
        # puts them in that many groups that do all of it on the same ticks.
        base = [leveled(s) for s in conversation()]
        length, groups = len(base[0][1]), config.phases or config.spaces
        starts = [(s % groups) * length // groups for s in range(config.spaces)]
        phased = {shift: [(p, rotated(plan, shift), lv) for p, plan, lv in base] for shift in set(starts)}
        return [phased[shift] for shift in starts]
    wav = None if config.speech == "tones" else Path(config.speech)
    voices = [leveled(continuous(speaker_packets(i, wav))) for i in range(config.speakers)]
    return [voices for _ in range(config.spaces)]


async def run(config: LoadConfig) -> dict[str, Any]:
    config.out.mkdir(parents=True, exist_ok=True)
    handles = [speaker_handle(s, i) for s in range(config.spaces) for i in range(max(1, config.speakers))]
    async with trio.open_nursery() as nursery:
        server_proc = None
        if config.url is None:
            data = config.out / "server-data"
            shutil.rmtree(data, ignore_errors=True)  # a new server: no space left live by an earlier run
            data.mkdir()
            accounts = await seed(data / DATABASE_FILE, handles)
            server_proc, url = await _start_server(config, data)
            config.server_pid = server_proc.pid
        else:
            url = config.url
            accounts = await log_in_all(url, handles)
        try:
            report = await _drive(config, url, accounts, nursery)
        finally:
            if server_proc is not None:
                server_proc.terminate()
                with trio.move_on_after(10):
                    await server_proc.wait()
                if server_proc.returncode is None:
                    server_proc.kill()
        nursery.cancel_scope.cancel()
    (config.out / "report.json").write_text(json.dumps(report, indent=2))
    write_plot(report, config.out / "report.png")
    return report


async def _start_server(config: LoadConfig, data: Path) -> tuple[trio.Process, str]:
    """The server, on free ports, and its WebSocket URL; `config.metrics_url` its /metrics (HTTP on port 0: the
    second line it prints names the port), None if it serves no HTTP."""
    args = [sys.executable, "-m", "gateway", "serve", "--port", "0", "--http-port", "0", "--log-level",
            "WARNING", "--data", str(data), "--transport", config.transport,
            "--frames-per-message", str(config.frames_per_message), *UNLIMITED, *config.server_args]  # fmt: skip
    env = dict(os.environ)
    if config.server_root is not None:
        env["PYTHONPATH"] = str(config.server_root)
    proc = await trio.lowlevel.open_process(args, stdout=-1, cwd=config.server_root, env=env)
    assert proc.stdout is not None
    with trio.fail_after(30):
        url = (await _line(proc.stdout)).split("listening on ", 1)[1].strip()
    config.metrics_url = None
    with trio.move_on_after(5):  # printed right after the first, unless `server_args` turned HTTP off
        web = (await _line(proc.stdout)).split("open ", 1)[1].split()[0]
        config.metrics_url = web.rstrip("/") + "/metrics"
    return proc, url


async def _line(stdout: trio.abc.ReceiveStream) -> str:
    line = b""
    while not line.endswith(b"\n"):
        chunk = await stdout.receive_some(1)
        if not chunk:
            raise RuntimeError("the server exited before it listened")
        line += chunk
    return line.decode()


def _slot_now(t0_us: int) -> float:
    return (time.time() * 1e6 - t0_us) / (SLOT_S * 1e6)


async def _drive(
    config: LoadConfig, url: str, accounts: dict[str, Account], nursery: trio.Nursery
) -> dict[str, object]:
    where = urlsplit(url)
    run_s = config.ramp_s + config.join_grace_s + config.duration_s + config.drain_s
    clock_slots = math.ceil((run_s + 60) / SLOT_S)  # and a minute for the set-up
    cast = await open_cast(url, accounts, scripts(config), clock_slots)
    try:
        samples = [SampleListener(url, f"sample{k}", cast.space_ids[0]) for k in range(config.sample)]
        if config.speech == "tones":
            for sample in samples:
                await nursery.start(sample.run)
        workers = await _start_workers(config, where.hostname or "127.0.0.1", where.port or 80, cast, clock_slots)
        for w in workers:
            nursery.start_soon(_read_worker, w)
        report = await _measure(config, cast, workers, samples, nursery)
    finally:
        cast.stop()
    with trio.move_on_after(30):
        await end_spaces(url, accounts, cast)
    return report


async def _measure(
    config: LoadConfig, cast: Cast, workers: list[Worker], samples: list[SampleListener], nursery: trio.Nursery
) -> dict[str, object]:
    start = time.monotonic()
    base = usage(config.server_pid) if config.server_pid else None
    marks: dict[str, Any] = {"before_listeners": asdict(base) if base else None}
    timeline: list[dict[str, Any]] = []
    window = (0, 0)
    while True:
        await trio.sleep(1.0)
        point = _sample_point(config, workers, start)
        timeline.append(point)
        elapsed = time.monotonic() - start
        if "ramp_done" not in marks:
            settled = point["connecting"] == 0 or elapsed >= config.ramp_s + config.join_grace_s
            if elapsed >= config.ramp_s and settled:
                point["metrics"] = await _scrape(config)
                marks["ramp_done"] = point
                window = (math.ceil(_slot_now(cast.t0_us)), 2**62)
                await _set_window(workers, cast, window)
                if config.during_window is not None:
                    handles = RunHandles(config.server_pid, [w.proc.pid for w in workers])
                    nursery.start_soon(config.during_window, handles)
        elif elapsed - marks["ramp_done"]["t"] >= config.duration_s:
            point["metrics"] = await _scrape(config)
            marks["end"] = point
            window = (window[0], math.floor(_slot_now(cast.t0_us)))
            await _set_window(workers, cast, window)
            break
        if not config.quiet:
            print(_progress(point, config), file=sys.stderr, flush=True)

    await trio.sleep(config.drain_s)  # the window's last slots reach the listeners; the speakers go on
    for pool in cast.pools:
        pool.stop_speaking()
    made = dict(zip(cast.space_ids, produced(cast, window), strict=True))
    size = (window[1] + 8) // 8
    for w in workers:
        for space_id in w.spaces:
            said, after_overlap = (bits.to_bytes(size, "little").hex() for bits in made[space_id])
            await _tell([w], f"produced {space_id} {said} {after_overlap}")
        assert w.proc.stdin is not None
        try:
            await w.proc.stdin.aclose()
        except trio.BrokenResourceError:
            pass
    with trio.fail_after(120):
        for w in workers:
            await w.proc.wait()
            await w.finished.wait()
    checks = [sample.check(config.speakers) for sample in samples] if config.speech == "tones" else []
    return summarise(
        config, timeline, marks, workers, checks,
        window=window,
        produced={space_id: bin(said).count("1") for space_id, (said, _) in made.items()},
        speakers=speakers_summary(cast),
    )  # fmt: skip


async def _scrape(config: LoadConfig) -> dict[str, float] | None:
    """The server's counters now (`monitor.scrape`); None without a server started here, or if it did not answer."""
    if config.metrics_url is None or config.transport != "rust":
        return None
    try:
        return await trio.to_thread.run_sync(scrape, config.metrics_url)
    except (OSError, ValueError):  # no answer, or not the exposition format: the report goes without
        return None


async def _set_window(workers: list[Worker], cast: Cast, window: tuple[int, int]) -> None:
    for pool in cast.pools:
        pool.set_window(*window)
    await _tell(workers, f"window {window[0]} {window[1]}")


async def _tell(workers: list[Worker], line: str) -> None:
    """A line to each worker still running (one that died reports nothing: its listeners count as
    having heard nothing)."""
    for w in workers:
        assert w.proc.stdin is not None
        try:
            await w.proc.stdin.send_all(line.encode() + b"\n")
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


async def _start_workers(config: LoadConfig, host: str, port: int, cast: Cast, clock_slots: int) -> list[Worker]:
    total = config.listeners * len(cast.space_ids)
    procs = config.processes or max(1, math.ceil(total / MAX_LISTENERS_PER_PROCESS))
    rate = max(1.0, total / max(config.ramp_s, 0.1))
    specs: list[list[str]] = [[] for _ in range(procs)]
    for s, space_id in enumerate(cast.space_ids):
        share = math.ceil(config.listeners / procs)
        for p in range(procs):
            first, count = p * share, min(share, config.listeners - p * share)
            if count > 0:
                specs[p].append(f"{space_id}:l{s}_:{first}:{count}")
    workers = []
    for spec in specs:
        if not spec:
            continue
        args = [sys.executable, "-m", "loadtest.worker", host, str(port), str(rate / procs), str(cast.t0_us),
                str(clock_slots), *spec]  # fmt: skip
        proc = await trio.lowlevel.open_process(args, stdin=-1, stdout=-1)
        workers.append(Worker(proc, [s.split(":")[0] for s in spec]))
    return workers


async def _read_worker(w: Worker) -> None:
    assert w.proc.stdout is not None
    buffer = b""
    async for chunk in w.proc.stdout:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            message = json.loads(line)
            if "tick" in message:
                w.last = message["tick"]
            elif "final" in message:
                w.final = message
    w.finished.set()


def _sample_point(config: LoadConfig, workers: list[Worker], start: float) -> dict[str, object]:
    point: dict[str, object] = {"t": round(time.monotonic() - start, 2)}
    for name in ("connecting", "joined", "failed", "closed_by_server", "messages", "frames", "lost", "late"):
        point[name] = sum(int(w.last.get(name, 0)) for w in workers)
    if not any(w.last for w in workers):  # no worker has reported yet: everyone is still connecting
        point["connecting"] = config.listeners * config.spaces
    latencies = [w.last.get("latency_us") for w in workers if w.last.get("latency_us")]
    point["latency_us"] = [max(col) for col in zip(*latencies, strict=True)] if latencies else [0, 0, 0, 0]
    server = usage(config.server_pid) if config.server_pid else None
    point["server_cpu_s"] = server.cpu_s if server else None
    point["server_rss"] = server.rss_bytes if server else None
    return point


def _progress(point: dict[str, object], config: LoadConfig) -> str:
    lat = point["latency_us"]
    assert isinstance(lat, list)
    rss = point["server_rss"]
    rss_txt = f"{int(rss) / 2**20:.0f} MiB" if isinstance(rss, int) else "?"
    return (
        f"t={point['t']:>5}s joined {point['joined']}/{config.listeners * config.spaces} "
        f"frames {point['frames']} lost {point['lost']} late {point['late']} "
        f"p50/p99 {lat[0] / 1000:.0f}/{lat[2] / 1000:.0f} ms server rss {rss_txt}"
    )
