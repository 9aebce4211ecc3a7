"""`make bench`: every benchmark in turn, each printing its table and saving JSON under bench/results/.

    python -m bench [--quick]

--quick runs smaller sizes (a few minutes in all; their results go to `*-quick.json`, not committed); without
it the full sizes take about 20 minutes.
"""

from __future__ import annotations

import subprocess
import sys


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    runs = [
        [sys.executable, "-m", "bench.mixer_bench", "--rust"],
        [sys.executable, "-m", "bench.fanout_bench"]
        + (["--listeners", "1000,2000", "--duration", "10", "--results", "fanout-quick.json"] if quick else []),
        [sys.executable, "-m", "bench.batching_load", "--listeners", "1000", "--frames", "auto,5"]
        + (["--duration", "10"] if quick else []),
        [sys.executable, "-m", "bench.spaces_bench"]
        + (["--spaces", "10,25", "--duration", "10", "--results", "spaces-quick.json"] if quick else []),
        [sys.executable, "-m", "bench.idle_bench"] + (["--spaces", "2000", "--seconds", "3"] if quick else []),
        [sys.executable, "-m", "bench.webrtc_bench"] + (["--seconds", "4", "--rounds", "1"] if quick else []),
        [sys.executable, "-m", "bench.glass_bench", "--via", "webrtc", "--via", "websocket"]
        + (["--seconds", "20", "--warmup", "5", "--results", "glass-quick.json"] if quick else ["--rounds", "2"]),
        [sys.executable, "-m", "bench.joins_bench"] + (["--listeners", "1000", "--witnesses", "10"] if quick else []),
        [sys.executable, "-m", "bench.handshake_flood"]
        + (["--seconds", "3", "--out", "handshake-flood-quick.json"] if quick else []),
        [sys.executable, "-m", "bench.stall_bench"]
        + (["--listeners", "2000", "--ramp", "5", "--duration", "10"] if quick else ["--baseline"]),
        [sys.executable, "-m", "bench.ingress_bench"] + (["--seconds", "8", "--rounds", "1"] if quick else []),
        [sys.executable, "-m", "bench.join_bench", "--listeners", "2000" if quick else "2000,10000"]
        + ["--out", f"bench/results/join-bursts{'-quick' if quick else ''}.json"],
        [sys.executable, "-m", "bench.recording_bench"] + (["--quick"] if quick else []),
    ]
    failed = []
    for command in runs:
        print("\n$ " + " ".join(command[1:]), flush=True)
        # A benchmark exits 1 when it misses its targets (it has printed which): report it, run the rest.
        if subprocess.run(command).returncode != 0:
            failed.append(command[2])
    if failed:
        print("\nmissed their targets or failed: " + ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
