"""Many spaces: how many spaces with 3 people talking and 20 listeners each one machine holds.

    python -m bench.spaces_bench [--spaces 10,25,50,100] [--duration 15]

A size "holds" when every listener gets at least 99.9% of its frames and p99 latency stays within 250 ms.
The speakers are Python clients in the harness's own process (3 per space, 50 packets a second each), so
at the larger sizes the harness itself competes with the server for the machine's 2 cores: the report
gives the harness's CPU beside the server's.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import trio

from loadtest.run import LoadConfig, run

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spaces", default="10,25,50,100")
    parser.add_argument("--duration", type=float, default=15.0)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    rows = []
    for spaces in map(int, args.spaces.split(",")):
        before, started = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        config = LoadConfig(
            spaces=spaces,
            listeners=20,
            speakers=3,
            duration_s=args.duration,
            ramp_s=max(5.0, spaces * 20 / 300),
            frames_per_message=1,
            sample=0,
            out=RESULTS / f"spaces-{spaces}",
            quiet=True,
        )
        report = trio.run(run, config)
        after = resource.getrusage(resource.RUSAGE_SELF)
        harness_cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / (
            time.monotonic() - started
        )
        ls, lat, server = report["listeners"], report["latency_ms"], report["server"]
        holds = ls["below_99_9_percent"] == 0 and ls["failed"] == 0 and lat["p99"] <= 250
        rows.append(
            {
                "spaces": spaces,
                "listeners": ls["asked"],
                "below_99.9%": ls["below_99_9_percent"],
                "min_delivery": ls["min_delivery"],
                "p50_ms": lat["p50"],
                "p99_ms": lat["p99"],
                "server_cores": server.get("cpu_cores"),
                "harness_speakers_cores": round(harness_cpu, 2),
                "holds": holds,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    (RESULTS / "spaces.json").write_text(json.dumps(rows, indent=2))
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
