"""Fan-out benchmark: one space, 13 speakers, N listeners over loopback: the server with its Rust fan-out,
the C floor, and the plain Python send path, side by side in one invocation.

    python -m bench.fanout_bench [--listeners 1000,5000,10000] [--baseline 1000] [--duration 20]

Each server run is a `stoa load` run with a server started for it; figures come from its report: every
listener's coverage of what the speakers said over the window (docs/operations.md, "Load testing"),
latency from capture to arrival, and the server's CPU over the window. Right after each Rust run, at the
same size, `bench/cfloor.c` (built here with gcc) writes the same-sized audio message to as many loopback
sockets with a plain `send()` loop: the ratio of the server's CPU per listener-frame to that floor is the
fan-out's overhead, measured on the same machine state. The baseline (one trio-websocket `send_message`
per listener per message) runs at the sizes given by --baseline. The machine's load average is recorded
beside each row: on a shared machine, compare rows of one run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import msgpack
import trio

from bench.floor import BUILD, build as build_floor
from bench.results_file import RESULTS, save
from loadtest.run import LoadConfig, run

OPUS_BYTES = 80  # one 20 ms packet of the mix at the server's default 32 kb/s


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def row(report: dict[str, Any], transport: str, fpm: int, load: float) -> dict[str, object]:
    server, coverage, latency = report["server"], report["coverage"], report["latency_ms"]
    return {
        "transport": transport,
        "frames_per_message": fpm,
        "listeners": report["listeners"]["asked"],
        "coverage_min": coverage["min"],
        "coverage_p1": coverage["p1"],
        "coverage_median": coverage["median"],
        "below_99.9%": coverage["below_99_9_percent"],
        "p50_ms": latency["p50"],
        "p95_ms": latency["p95"],
        "p99_ms": latency["p99"],
        "max_ms": latency["max"],
        "server_cores": server.get("cpu_cores"),
        "us_per_listener_frame": server.get("us_per_listener_frame"),
        "kib_per_listener": server.get("kib_per_listener"),
        "harness_fault": report["speakers"]["harness_fault"],
        # Whether the speakers were read at their space's tick (parked) or as their packets arrived.
        "reader_scheduling": server.get("reader_scheduling"),
        "at_tick_share": server.get("at_tick_share"),
        "load_average_before": load,
    }


def audio_message(frames: int) -> bytes:
    """An `audio` message as the server frames it: a WebSocket binary frame around the msgpack map."""
    body: bytes = msgpack.packb({
        "type": "audio",
        "frames": [
            {"seq": 100_000 + i, "captured_at": 1_764_500_000_000_000 + 20_000 * i, "opus": bytes(OPUS_BYTES)}
            for i in range(frames)
        ],
    })  # fmt: skip
    header = bytes([0x82, len(body)]) if len(body) < 126 else bytes([0x82, 126]) + len(body).to_bytes(2, "big")
    return header + body


def c_floor(binary: Path, listeners: int, seconds: float, frames: int) -> dict[str, object]:
    message = BUILD / f"audio-{frames}.bin"
    message.write_bytes(audio_message(frames))
    out = subprocess.run(
        [str(binary), str(listeners), str(seconds), str(frames), str(message)], check=True, capture_output=True
    )
    return dict(json.loads(out.stdout), transport="c-floor", load_average_before=load_average())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listeners", default="1000,5000,10000")
    parser.add_argument("--baseline", default="1000", help="sizes to run with the Python send path too")
    parser.add_argument("--frames-per-message", type=int, default=5)
    parser.add_argument("--speakers", type=int, default=13)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--results", default="fanout.json", help="file name under bench/results/")
    args = parser.parse_args()
    floor_binary = build_floor("cfloor")
    rows: list[dict[str, object]] = []
    plan = [(n, "rust") for n in map(int, args.listeners.split(","))]
    plan += [(n, "python") for n in map(int, args.baseline.split(",")) if n]
    for n, transport in plan:
        load = load_average()
        config = LoadConfig(
            listeners=n,
            speakers=args.speakers,
            duration_s=args.duration,
            ramp_s=max(5.0, n / 300),  # joins run at a few hundred a second here
            transport=transport,
            frames_per_message=args.frames_per_message,
            out=RESULTS / f"fanout-{transport}-{n}",
            quiet=True,
        )
        report = trio.run(run, config)
        rows.append(row(report, transport, args.frames_per_message, load))
        print(json.dumps(rows[-1]), flush=True)
        if transport == "rust":
            floor = c_floor(floor_binary, n, args.duration, args.frames_per_message)
            server_us = rows[-1]["us_per_listener_frame"]
            floor_us = floor["us_per_listener_frame"]
            if isinstance(server_us, float) and isinstance(floor_us, (int, float)):
                floor["server_over_floor"] = round(server_us / floor_us, 2)
            rows.append(floor)
            print(json.dumps(rows[-1]), flush=True)
    save(args.results, rows)


if __name__ == "__main__":
    main()
