"""One worker process of the harness: a compiled ListenerPool for a slice of the listeners.

    python -m loadtest.worker HOST PORT CONNECT_PER_S SPACE_ID:USER_PREFIX:FIRST:COUNT ...

One pool (one thread) per space given.
Prints one JSON line a second (`{"tick": ...}`). A line `reset` on its standard input starts a new
latency window (the harness sends it when the ramp-up ends, so latency is measured in steady state).
When its standard input closes or it gets SIGTERM, it stops the pools and prints `{"final": ...}` with
every listener's figures.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time

from mixer import ListenerPool

PERCENTILES = [50.0, 95.0, 99.0, 100.0]


FIELDS = ("connecting", "connected", "joined", "failed", "closed_by_server", "messages", "frames", "lost", "late")


def stats_dict(pools: list[ListenerPool]) -> dict[str, object]:
    out: dict[str, object] = {name: sum(getattr(pool.stats(), name) for pool in pools) for name in FIELDS}
    # Percentiles do not add up across pools: report the worst pool's, an upper bound.
    by_pool = [pool.latency_percentiles(PERCENTILES) for pool in pools]
    out["latency_us"] = [max(column) for column in zip(*by_pool, strict=True)]
    return out


def main(argv: list[str]) -> int:
    host, port, rate, *specs = argv
    pools = []
    for spec in specs:
        space_id, prefix, first, count = spec.split(":")
        users = [f"{prefix}{i}" for i in range(int(first), int(first) + int(count))]
        pools.append(ListenerPool(host, int(port), space_id, users, connect_per_s=float(rate) / len(specs)))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def until_stdin_closes() -> None:
        for line in sys.stdin:
            if line.strip() == "reset":
                for pool in pools:
                    pool.reset_latency()
        done.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    while not done.wait(1.0):
        print(json.dumps({"tick": stats_dict(pools), "at": time.time()}), flush=True)
    totals = stats_dict(pools)
    listeners = [
        {
            "user": ls.user,
            "state": ls.state,
            "frames": ls.frames,
            "lost": ls.lost,
            "late": ls.late,
            "first_seq": ls.first_seq,
            "last_seq": ls.last_seq,
            "max_latency_us": ls.max_latency_us,
            "close_code": ls.close_code,
            "error": ls.error,
        }
        for pool in pools
        for ls in pool.listeners()
    ]
    for pool in pools:
        pool.stop()
    print(json.dumps({"final": totals, "listeners": listeners}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
