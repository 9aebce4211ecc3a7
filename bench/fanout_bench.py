"""Fan-out benchmark: one space, 13 speakers, N listeners over loopback, Rust fan-out vs the Python path.

    python -m bench.fanout_bench [--listeners 1000,5000,10000] [--baseline 1000] [--duration 20]

Each run is a `stoa load` run with a server started for it; figures come from its report. The baseline
(the plain Python send path: one trio-websocket `send_message` per listener per message) is run at the
sizes given by --baseline, in the same invocation, so the ratio compares runs on the same machine state.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import trio

from loadtest.run import LoadConfig, run

RESULTS = Path(__file__).resolve().parent / "results"


def row(report: dict, transport: str, fpm: int) -> dict[str, object]:
    server = report["server"]
    ls = report["listeners"]
    return {
        "transport": transport,
        "frames_per_message": fpm,
        "listeners": ls["asked"],
        "healthy": ls["healthy"],
        "below_99.9%": ls["below_99_9_percent"],
        "min_delivery": ls["min_delivery"],
        "p50_ms": report["latency_ms"]["p50"],
        "p95_ms": report["latency_ms"]["p95"],
        "p99_ms": report["latency_ms"]["p99"],
        "max_ms": report["latency_ms"]["max"],
        "server_cores": server.get("cpu_cores"),
        "us_per_listener_frame": server.get("us_per_listener_frame"),
        "kib_per_listener": server.get("kib_per_listener"),
        "listener_frames_per_s": report["listener_frames_per_s"],
    }


def print_table(rows: list[dict[str, object]]) -> None:
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listeners", default="1000,5000,10000")
    parser.add_argument("--baseline", default="1000", help="sizes to run with the Python send path too")
    parser.add_argument("--frames-per-message", type=int, default=5)
    parser.add_argument("--speakers", type=int, default=13)
    parser.add_argument("--duration", type=float, default=20.0)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    rows = []
    plan = [(n, "rust") for n in map(int, args.listeners.split(","))]
    plan += [(n, "python") for n in map(int, args.baseline.split(",")) if n]
    for n, transport in plan:
        out = RESULTS / f"fanout-{transport}-{n}"
        config = LoadConfig(
            listeners=n,
            speakers=args.speakers,
            duration_s=args.duration,
            ramp_s=max(5.0, n / 300),  # joins run at a few hundred a second here
            transport=transport,
            frames_per_message=args.frames_per_message,
            out=out,
            quiet=True,
        )
        report = trio.run(run, config)
        rows.append(row(report, transport, args.frames_per_message))
        print(json.dumps(rows[-1]), flush=True)
    (RESULTS / "fanout.json").write_text(json.dumps(rows, indent=2))
    print_table(rows)
    for n in {r["listeners"] for r in rows}:
        pair = {r["transport"]: r for r in rows if r["listeners"] == n}
        if {"rust", "python"} <= pair.keys() and pair["rust"]["us_per_listener_frame"]:
            ratio = pair["python"]["us_per_listener_frame"] / pair["rust"]["us_per_listener_frame"]
            print(f"{n} listeners: the Rust fan-out delivers {ratio:.1f}x more listener-frames per CPU-second")


if __name__ == "__main__":
    main()
