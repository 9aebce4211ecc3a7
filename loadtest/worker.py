"""One worker process of the harness: a compiled ListenerPool per space for a slice of the listeners.

    python -m loadtest.worker HOST PORT CONNECT_PER_S CLOCK_T0_US CLOCK_SLOTS SPACE_ID:USER_PREFIX:FIRST:COUNT ...

One pool (one thread) per space given, every listener on the run's capture clock. Prints one JSON
line a second (`{"tick": ...}`). Lines on its standard input:
- `window START END`: latency from now on only for frames of the clock's slots START..END-1 (a
  new latency histogram when START changes: the window opens; the same START again closes it at END);
- `produced SPACE_ID HEX`: the slots the speakers of that space produced (a little-endian bitmap).
When its standard input closes or it gets SIGTERM, it stops the pools and prints `{"final": ...}`:
every listener's figures, its coverage (slots of the window it heard as real frames among those
produced), and the latency histogram of the window.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections import Counter

from mixer import ListenerPool

PERCENTILES = [50.0, 95.0, 99.0, 100.0]


FIELDS = (
    "connecting", "connected", "joined", "failed", "closed_by_server", "messages", "frames", "lost", "late",
    "off_clock",
)  # fmt: skip


def stats_dict(pools: dict[str, ListenerPool]) -> dict[str, object]:
    out: dict[str, object] = {name: sum(getattr(pool.stats(), name) for pool in pools.values()) for name in FIELDS}
    # For the progress line only: percentiles do not add up across pools, so the worst pool's.
    by_pool = [pool.latency_percentiles(PERCENTILES) for pool in pools.values()]
    out["latency_us"] = [max(column) for column in zip(*by_pool, strict=True)]
    return out


def main(argv: list[str]) -> int:
    host, port, rate, t0_us, slots, *specs = argv
    pools: dict[str, ListenerPool] = {}
    for spec in specs:
        space_id, prefix, first, count = spec.split(":")
        users = [f"{prefix}{i}" for i in range(int(first), int(first) + int(count))]
        pools[space_id] = ListenerPool(
            host, int(port), space_id, users, connect_per_s=float(rate) / len(specs),
            clock_t0_us=int(t0_us), clock_slots=int(slots),
        )  # fmt: skip
    window = (0, 0)
    produced: dict[str, bytes] = {}
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def until_stdin_closes() -> None:
        nonlocal window
        for line in sys.stdin:
            match line.split():
                case ["window", start, end]:
                    opens = int(start) != window[0]
                    window = (int(start), int(end))
                    for pool in pools.values():
                        pool.set_window(*window)
                        if opens:  # frames recorded before the window (all of the clock until now)
                            pool.reset_latency()
                case ["produced", space_id, bitmap]:
                    produced[space_id] = bytes.fromhex(bitmap)
        done.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    while not done.wait(1.0):
        print(json.dumps({"tick": stats_dict(pools), "at": time.time()}), flush=True)
    totals = stats_dict(pools)
    for pool in pools.values():
        pool.stop()
    listeners: list[dict[str, object]] = []
    latency: Counter[int] = Counter()
    for space_id, pool in pools.items():
        covered = pool.coverage(*window, produced.get(space_id, b""))
        for ls, heard in zip(pool.listeners(), covered, strict=True):
            listeners.append({
                "user": ls.user, "space": space_id, "state": ls.state, "covered": heard, "frames": ls.frames,
                "lost": ls.lost, "late": ls.late, "max_latency_us": ls.max_latency_us, "close_code": ls.close_code,
                "error": ls.error,
            })  # fmt: skip
        for highest_us, frames in pool.latency_buckets():
            latency[highest_us] += frames
    print(json.dumps({"final": totals, "listeners": listeners, "latency_buckets": sorted(latency.items())}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
