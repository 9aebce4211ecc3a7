"""`stoa load`: start (or reach) a server, fill spaces with speakers and listeners, measure, report.

Order: the server; per space a host and M speakers (Python clients, each an account: registered if new
and logged in, since only accounts host and speak) who stream real Opus at the 20 ms pace, each packet
stamped with its capture time; K sampled Python listeners that decode the mix; then N listeners per
space (guests) in compiled pools spread over worker processes, ramped up. Once a second it reads every
worker's figures and the server's CPU and memory, and prints a progress line. At the end it writes
`report.json` and `report.png` (latency percentiles, CPU, listeners over time).

A server started here runs with `--rate-limits off` and `--max-connections-per-address 0`: every
listener connects from this one address, and a load test joins far faster than people would. Never
serve users that way; a server given with `--url` needs the same two options for a large run.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trio

from actors.space import Role
from gateway.client import Client, connect_account
from loadtest.audio import speaker_packets
from loadtest.monitor import usage
from loadtest.report import summarise, write_plot
from loadtest.sample import SampleListener

MAX_LISTENERS_PER_PROCESS = 6000  # well under the 20,000 open files a process may have here
UNLIMITED = ["--rate-limits", "off", "--max-connections-per-address", "0"]  # for the server started here


@dataclass
class LoadConfig:
    listeners: int = 100  # per space
    speakers: int = 3  # per space, all talking all the time
    spaces: int = 1
    duration_s: float = 20.0  # measured, after the ramp
    ramp_s: float = 5.0
    url: str | None = None  # None: start a server here
    server_pid: int | None = None
    transport: str = "rust"
    frames_per_message: int = 1
    server_args: list[str] = field(default_factory=list)
    processes: int = 0  # 0: enough for MAX_LISTENERS_PER_PROCESS each
    sample: int = 2  # Python listeners that decode and check the audio (space 0)
    wav: Path | None = None
    out: Path = Path("load-results")
    quiet: bool = False


@dataclass
class Worker:
    proc: trio.Process
    last: dict[str, Any] = field(default_factory=dict)
    final: dict[str, Any] | None = None
    finished: trio.Event = field(default_factory=trio.Event)


async def run(config: LoadConfig) -> dict[str, object]:
    config.out.mkdir(parents=True, exist_ok=True)
    async with trio.open_nursery() as nursery:
        server_proc = None
        if config.url is None:
            server_proc, url = await _start_server(config)
            config.server_pid = server_proc.pid
        else:
            url = config.url
        try:
            report = await _drive(config, url, nursery)
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


async def _start_server(config: LoadConfig) -> tuple[trio.Process, str]:
    args = [sys.executable, "-m", "gateway", "serve", "--port", "0", "--http-port", "off", "--log-level", "WARNING",
            "--data", str(config.out / "server-data"), "--transport", config.transport,
            "--frames-per-message", str(config.frames_per_message), *UNLIMITED, *config.server_args]  # fmt: skip
    proc = await trio.lowlevel.open_process(args, stdout=-1)
    assert proc.stdout is not None
    line = b""
    with trio.fail_after(30):
        while not line.endswith(b"\n"):
            chunk = await proc.stdout.receive_some(1)
            if not chunk:
                raise RuntimeError("the server exited before it listened")
            line += chunk
    return proc, line.decode().split("listening on ", 1)[1].strip()


async def _drive(config: LoadConfig, url: str, nursery: trio.Nursery) -> dict[str, object]:
    host_port = urlsplit(url)
    stop_speaking, over = trio.Event(), trio.Event()
    space_ids: list[str] = []
    ended: list[trio.Event] = []
    for s in range(config.spaces):
        ended.append(trio.Event())
        space_ids.append(await nursery.start(_run_space, url, s, config, stop_speaking, over, ended[-1]))
    samples = [SampleListener(url, f"sample{k}", space_ids[0]) for k in range(config.sample)]
    for sample in samples:
        await nursery.start(sample.run)

    timeline: list[dict[str, object]] = []
    workers = await _start_workers(config, host_port.hostname or "127.0.0.1", host_port.port or 80, space_ids)
    for w in workers:
        nursery.start_soon(_read_worker, w)

    start = time.monotonic()
    base = usage(config.server_pid) if config.server_pid else None
    marks: dict[str, object] = {"before_listeners": asdict(base) if base else None}
    end = start + config.ramp_s + config.duration_s
    while time.monotonic() < end:
        await trio.sleep(1.0)
        point = _sample_point(config, workers, start)
        timeline.append(point)
        if "ramp_done" not in marks and time.monotonic() - start >= config.ramp_s:
            marks["ramp_done"] = point
            for w in workers:  # latency is measured in steady state, after the ramp
                assert w.proc.stdin is not None
                await w.proc.stdin.send_all(b"reset\n")
        if not config.quiet:
            print(_progress(point, config), file=sys.stderr, flush=True)
    marks["end"] = timeline[-1]

    stop_speaking.set()
    await trio.sleep(0.5)
    for w in workers:
        assert w.proc.stdin is not None
        await w.proc.stdin.aclose()
    with trio.fail_after(60):
        for w in workers:
            await w.proc.wait()
            await w.finished.wait()
    checks = [sample.check(config.speakers) for sample in samples]
    over.set()  # the hosts end their spaces now that every listener has reported
    with trio.move_on_after(10):
        for space_ended in ended:
            await space_ended.wait()
    return summarise(config, timeline, marks, workers, checks)


async def _run_space(
    url: str, index: int, config: LoadConfig, stop: trio.Event, over: trio.Event, ended: trio.Event,
    *, task_status: trio.TaskStatus[str],
) -> None:  # fmt: skip
    """A host and its speakers: create the space, bring them on the mic, stream until `stop`.

    The host is on the mic too, so it is speaker 0: `config.speakers` voices in all. The host ends the
    space when the run is `over` (an account hosts one live space at a time: a later run against the
    same server, or the same data, uses the same accounts), then sets `ended`.
    """
    try:
        async with connect_account(url, f"host{index}") as host:
            space_id = (await host.create_space(f"Load test {index}")).space.space_id
            async with trio.open_nursery() as nursery:
                for i in range(1, config.speakers):
                    await nursery.start(_join_and_speak, url, f"spk{index}_{i}", i, space_id, host, config, stop)
                if config.speakers > 0:
                    nursery.start_soon(_stream, host, speaker_packets(0, config.wav), stop)
                task_status.started(space_id)
            await over.wait()
            with trio.move_on_after(5):
                await host.end_space()
    finally:
        ended.set()


async def _join_and_speak(
    url: str, handle: str, i: int, space_id: str, host: Client, config: LoadConfig, stop: trio.Event,
    *, task_status: trio.TaskStatus[None],
) -> None:  # fmt: skip
    packets = speaker_packets(i, config.wav)
    async with connect_account(url, handle) as me:
        await me.join_space(space_id)
        await host.set_role(me.user, Role.SPEAKER)
        task_status.started()
        await _stream(me, packets, stop)


async def _stream(client: Client, packets: list[bytes], stop: trio.Event) -> None:
    """Send at the real 20 ms pace, each packet stamped with its capture time, until `stop`."""
    t0 = trio.current_time()
    seq = 0
    while not stop.is_set():
        await trio.sleep_until(t0 + seq * 0.020)
        await client.send_audio(seq, time.time_ns() // 1000, packets[seq % len(packets)])
        seq += 1


async def _start_workers(config: LoadConfig, host: str, port: int, space_ids: list[str]) -> list[Worker]:
    total = config.listeners * len(space_ids)
    procs = config.processes or max(1, math.ceil(total / MAX_LISTENERS_PER_PROCESS))
    rate = max(1.0, total / max(config.ramp_s, 0.1))
    specs: list[list[str]] = [[] for _ in range(procs)]
    for s, space_id in enumerate(space_ids):
        share = math.ceil(config.listeners / procs)
        for p in range(procs):
            first, count = p * share, min(share, config.listeners - p * share)
            if count > 0:
                specs[p].append(f"{space_id}:l{s}_:{first}:{count}")
    workers = []
    for spec in specs:
        if not spec:
            continue
        args = [sys.executable, "-m", "loadtest.worker", host, str(port), str(rate / procs), *spec]
        workers.append(Worker(await trio.lowlevel.open_process(args, stdin=-1, stdout=-1)))
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
