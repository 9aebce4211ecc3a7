"""Per-space batching under load: one space, 13 speakers, N listeners, through `stoa load` (loadtest/).

    python -m bench.batching_load [--listeners 1000] [--frames auto,5] [--ramp 10] [--duration 20]
                                  [--base ../other-checkout]

Each size runs once per `--frames` value (`auto`, the server's default, or a fixed count), one after the
other in this invocation, so they compare runs on the same machine state. Figures are the fan-out
benchmark's row (each listener's coverage of the speakers' capture slots, latency from capture: see
docs/operations.md, Load testing); the frames per message are what the listeners got (frames / messages, over
the measured window). `--base DIR` runs each before with another checkout's server (its extension built
there), side by side, each row naming its server and commit (as `bench.spaces_bench --base`).
Writes bench/results/batching-load.json (with the machine's load average before and after each run) and
one plot per run, named after it (<results>-<listeners>-<frames>.png).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import trio

from bench.fanout_bench import row as fanout_row
from bench.results_file import RESULTS, checkout, save
from loadtest.run import LoadConfig, run


def frames_per_message(report: dict[str, Any]) -> float | None:
    """Frames per message the listeners received over the measured window (after the ramp)."""
    timeline = report["timeline"]
    window = [p for p in timeline if p["t"] >= timeline[-1]["t"] - report["window_s"]]
    if len(window) < 2:
        return None
    messages = window[-1]["messages"] - window[0]["messages"]
    return round((window[-1]["frames"] - window[0]["frames"]) / messages, 2) if messages else None


def row(report: dict[str, Any], frames: str, load: float) -> dict[str, object]:
    """The fan-out benchmark's row, with the setting and the frames per message the listeners saw."""
    fixed = 0 if frames == "auto" else int(frames)
    figures = {**fanout_row(report, "rust", fixed, load), "frames_per_message": frames}
    listeners = report["listeners"]
    return {**figures, "frames_per_message_seen": frames_per_message(report), "lost": listeners["lost"],
            "samples_ok": all(sample["ok"] for sample in report["samples"])}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listeners", default="1000")
    parser.add_argument("--frames", default="auto", help="comma-separated: auto, or fixed counts")
    parser.add_argument("--speakers", type=int, default=13)
    parser.add_argument("--ramp", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--base", type=Path, help="another checkout whose server runs before this one's, each time")
    parser.add_argument("--results", default="batching-load.json")
    args = parser.parse_args()
    roots = ([args.base.resolve()] if args.base else []) + [None]
    RESULTS.mkdir(exist_ok=True)
    rows = []
    for listeners in (int(n) for n in args.listeners.split(",")):
        for frames, root in ((frames, root) for frames in args.frames.split(",") for root in roots):
            load_before = os.getloadavg()[0]
            with tempfile.TemporaryDirectory() as out:
                config = LoadConfig(
                    listeners=listeners,
                    speakers=args.speakers,
                    ramp_s=args.ramp,
                    duration_s=args.duration,
                    frames_per_message="auto" if frames == "auto" else int(frames),
                    out=Path(out),
                    server_root=root,
                    quiet=True,
                )
                report = trio.run(run, config)
                name = f"{Path(args.results).stem}-{listeners}-{frames}{'-base' if root else ''}.png"
                shutil.copy(Path(out) / "report.png", RESULTS / name)
            # The machine's 1-minute load average around the run: this 2-core machine is often shared.
            rows.append(
                {
                    "server": checkout(root),
                    **row(report, frames, load_before),
                    "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    save(args.results, rows)


if __name__ == "__main__":
    main()
