"""A server for the benchmarks that prints what its event loop went through, once a second.

    python -m bench.loop_server DATA_DIR [--frames-per-message N] [--no-gc-policy]

The server is `serve()`, as `stoa serve` runs it (the GC policy and the loop watch included), with rate
limits off and no cap on connections per address: a load test joins thousands from one address, far faster
than people would. Its first line on stdout is `stoa: listening on ws://127.0.0.1:PORT/`; then one JSON line
a second: `{"t": unix time, "loop": LoopStats of that second, "gc": GcPolicyStats, "connections": N}`.
SIGTERM (or SIGINT) closes the connections and ends it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import trio

from gateway.gateway_config import GatewayConfig
from gateway.limits import LimitSettings
from gateway.loopwatch import LoopStats
from gateway.server import Server, serve
from mixer import BatchPolicy


async def report(server: Server) -> None:
    gateway = server.gateway
    gateway.loop_watch.interval_s = 1.0
    last: LoopStats | None = None
    while True:
        await trio.sleep(0.2)
        previous = gateway.loop_watch.snapshot().previous
        if previous is None or previous is last:
            continue
        last = previous
        policy = None if gateway.gc_policy is None else asdict(gateway.gc_policy.stats())
        line = {"t": time.time(), "loop": asdict(previous), "gc": policy, "connections": len(gateway.connections)}
        print(json.dumps(line), flush=True)


async def main(config: GatewayConfig) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            server: Server = await nursery.start(serve, config)
            print(f"stoa: listening on ws://{config.host}:{server.port}/", flush=True)
            nursery.start_soon(report, server)
            async for _ in signals:
                await server.gateway.shut_down()
                nursery.cancel_scope.cancel()
                break


@dataclass
class Running:
    """A `bench.loop_server` process seen from a benchmark: its address, pid, and the lines it printed."""

    proc: trio.Process
    url: str
    port: int
    lines: list[dict[str, Any]] = field(default_factory=list)  # JSON objects, one a second

    def loop_between(self, start: float, end: float) -> list[dict[str, Any]]:
        """The seconds (their `loop` figures) that ended between two unix times."""
        return [line["loop"] for line in self.lines if start <= float(line["t"]) <= end]


@asynccontextmanager
async def running(data: Path, log: Path, *args: str, root: Path | None = None) -> AsyncIterator[Running]:
    """Start a loop server (its stderr to `log`), collect its lines, and stop it (SIGTERM) at the end. `root`
    runs another checkout's (its code, with this environment's Python), to measure side by side."""
    with open(log, "wb") as log_file:  # noqa: ASYNC230 (once, before anything runs)
        command = [sys.executable, "-m", "bench.loop_server", str(data), *args]
        env = dict(os.environ) if root is None else dict(os.environ, PYTHONPATH=str(root))
        proc = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE, stderr=log_file, cwd=root, env=env)
        assert proc.stdout is not None
        buffer = b""
        with trio.fail_after(30):
            while b"\n" not in buffer:
                chunk = await proc.stdout.receive_some()
                if not chunk:
                    raise RuntimeError(f"the server ended before it listened (see {log})")
                buffer += chunk
        first, buffer = buffer.split(b"\n", 1)
        url = first.decode().split("listening on ", 1)[1].strip()
        server = Running(proc, url, int(url.rstrip("/").rsplit(":", 1)[1]))

        async def collect() -> None:
            nonlocal buffer
            assert proc.stdout is not None
            async for chunk in proc.stdout:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                server.lines.extend(json.loads(line) for line in lines if line.strip())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(collect)
            try:
                yield server
            finally:
                proc.send_signal(signal.SIGTERM)
                with trio.move_on_after(15):
                    await proc.wait()
                if proc.returncode is None:
                    proc.kill()
                nursery.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("--frames-per-message", default="5", help="auto, or a fixed 1 to 10 (default 5)")
    parser.add_argument("--no-gc-policy", action="store_true")
    args = parser.parse_args()
    log_format = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format=log_format)
    limits = LimitSettings(enabled=False, max_connections_per_address=0)
    trio.run(
        main,
        GatewayConfig(
            port=0,
            data_dir=args.data,
            limits=limits,
            batching=BatchPolicy(fixed=None if args.frames_per_message == "auto" else int(args.frames_per_message)),
            gc_policy=not args.no_gc_policy,
        ),
    )
