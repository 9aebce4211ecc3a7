"""One worker process of the harness: a compiled ListenerPool for a slice of the listeners.

    python -m loadtest.worker HOST PORT CONNECT_PER_S CLOCK_T0_US CLOCK_SLOTS SPACE_ID:USER_PREFIX:FIRST:COUNT ...

One pool (one thread) for the listeners of every space given, each on the run's capture clock. Not a
thread per space: on a machine of 2 cores, 200 threads that each sleep until their socket has data
are woken for nearly every message, and on loopback the server's sending thread pays for each
wake-up. For the same reason the pool lingers (`READ_LINGER_US`) after a wait that found work. Prints one JSON
line a second (`{"tick": ...}`). Lines on its standard input:
- `window START END`: latency from now on only for frames of the clock's slots START..END-1 (a
  new latency histogram when START changes: the window opens; the same START again closes it at END);
- `produced SPACE_ID HEX HEX`: the slots of the window the speakers of that space produced, and the
  slots right after one that two of them produced (little-endian bitmaps; `loadtest/coverage.py`).
When its standard input closes or it gets SIGTERM, it stops the pool and prints `{"final": ...}`:
every listener's figures, its coverage (slots of the window it heard as real frames among those
produced), and the latency histogram of the window.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time

from loadtest import LINGER_US
from mixer import ListenerPool

PERCENTILES = [50.0, 95.0, 99.0, 100.0]


FIELDS = (
    "connecting", "connected", "joined", "failed", "closed_by_server", "messages", "frames", "lost", "late",
    "off_clock", "unstamped", "restamped",
)  # fmt: skip


def stats_dict(pool: ListenerPool) -> dict[str, object]:
    stats = pool.stats()
    out: dict[str, object] = {name: getattr(stats, name) for name in FIELDS}
    out["latency_us"] = pool.latency_percentiles(PERCENTILES)
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
    users: list[str] = []
    spaces: list[str] = []
    for spec in specs:
        space_id, prefix, first, count = spec.split(":")
        users += [f"{prefix}{i}" for i in range(int(first), int(first) + int(count))]
        spaces += [space_id] * int(count)
    pool = ListenerPool(
        host, int(port), spaces, users, connect_per_s=float(rate), clock_t0_us=int(t0_us), clock_slots=int(slots),
        linger_us=LINGER_US,
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
                    pool.set_window(*window)
                    if opens:  # frames recorded before the window (all of the clock until now)
                        pool.reset_latency()
                case ["produced", space_id, said, after_overlap]:
                    produced[space_id] = (bytes.fromhex(said), bytes.fromhex(after_overlap))
        done.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    while not done.wait(1.0):
        print(json.dumps({"tick": stats_dict(pool), "at": time.time()}), flush=True)
    totals = stats_dict(pool)
    pool.stop()  # waits up to 2 s for the close handshakes, without the GIL
    made = [produced.get(space_id, (b"", b""))[0] for space_id in spaces]
    after_overlap = [produced.get(space_id, (b"", b""))[1] for space_id in spaces]
    covered = pool.coverage(*window, made, after_overlap)
    heard_maps = pool.heard_maps(after_overlap)
    listeners: list[dict[str, object]] = []
    for ls, space_id, made_here, heard, heard_map in zip(
        pool.listeners(), spaces, made, covered, heard_maps, strict=True
    ):
        listeners.append({
            "user": ls.user, "space": space_id, "state": ls.state, "covered": heard,
            "missed": missed(made_here, heard_map), "frames": ls.frames,
            "lost": ls.lost, "late": ls.late, "max_latency_us": ls.max_latency_us, "close_code": ls.close_code,
            "error": ls.error,
        })  # fmt: skip
    print(json.dumps({
        "final": totals, "listeners": listeners, "latency_buckets": pool.latency_buckets(),
        "read_latency_buckets": pool.read_latency_buckets(),
    }), flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
