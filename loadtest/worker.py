"""One worker process of the harness: a compiled ListenerPool per space for a slice of the listeners.

    python -m loadtest.worker HOST PORT CONNECT_PER_S CLOCK_T0_US CLOCK_SLOTS SPACE_ID:USER_PREFIX:FIRST:COUNT ...

One pool (one thread) per space given, every listener on the run's capture clock. Prints one JSON
line a second (`{"tick": ...}`). Lines on its standard input:
- `window START END`: latency from now on only for frames of the clock's slots START..END-1 (a
  new latency histogram when START changes: the window opens; the same START again closes it at END);
- `produced SPACE_ID HEX HEX`: the slots of the window the speakers of that space produced, and the
  slots right after one that two of them produced (little-endian bitmaps; `loadtest/coverage.py`).
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
from concurrent.futures import ThreadPoolExecutor

from mixer import ListenerPool

PERCENTILES = [50.0, 95.0, 99.0, 100.0]


FIELDS = (
    "connecting", "connected", "joined", "failed", "closed_by_server", "messages", "frames", "lost", "late",
    "off_clock", "unstamped",
)  # fmt: skip


def stats_dict(pools: dict[str, ListenerPool]) -> dict[str, object]:
    out: dict[str, object] = {name: sum(getattr(pool.stats(), name) for pool in pools.values()) for name in FIELDS}
    # For the progress line only: percentiles do not add up across pools, so the worst pool's.
    by_pool = [pool.latency_percentiles(PERCENTILES) for pool in pools.values()]
    out["latency_us"] = [max(column) for column in zip(*by_pool, strict=True)]
    return out


def missed(produced: bytes, heard: bytes, at_most: int = 10) -> list[int]:
    """The first slots produced that the listener did not hear as coverage counts (`heard`: named by a frame,
    or bridged after an overlap; the window is in `produced`)."""
    gone = int.from_bytes(produced, "little") & ~int.from_bytes(heard, "little")
    slots: list[int] = []
    while gone and len(slots) < at_most:
        low = gone & -gone
        slots.append(low.bit_length() - 1)
        gone ^= low
    return slots


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
    produced: dict[str, tuple[bytes, bytes]] = {}
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
                case ["produced", space_id, said, after_overlap]:
                    produced[space_id] = (bytes.fromhex(said), bytes.fromhex(after_overlap))
        done.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    while not done.wait(1.0):
        print(json.dumps({"tick": stats_dict(pools), "at": time.time()}), flush=True)
    totals = stats_dict(pools)
    # Each pool waits up to 2 s for its close handshakes (without the GIL): all at once, not in turn.
    with ThreadPoolExecutor(max_workers=len(pools) or 1) as stopping:
        list(stopping.map(ListenerPool.stop, pools.values()))
    listeners: list[dict[str, object]] = []
    latency: Counter[int] = Counter()
    read_latency: Counter[int] = Counter()
    for space_id, pool in pools.items():
        made, after_overlap = produced.get(space_id, (b"", b""))
        covered = pool.coverage(*window, made, after_overlap)
        heard_maps = pool.heard_maps(after_overlap)
        for ls, heard, heard_map in zip(pool.listeners(), covered, heard_maps, strict=True):
            listeners.append({
                "user": ls.user, "space": space_id, "state": ls.state, "covered": heard,
                "missed": missed(made, heard_map), "frames": ls.frames,
                "lost": ls.lost, "late": ls.late, "max_latency_us": ls.max_latency_us, "close_code": ls.close_code,
                "error": ls.error,
            })  # fmt: skip
        for histogram, buckets in ((latency, pool.latency_buckets()), (read_latency, pool.read_latency_buckets())):
            for highest_us, frames in buckets:
                histogram[highest_us] += frames
    print(json.dumps({
        "final": totals, "listeners": listeners, "latency_buckets": sorted(latency.items()),
        "read_latency_buckets": sorted(read_latency.items()),
    }), flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
