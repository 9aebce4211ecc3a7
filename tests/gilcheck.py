"""A Python thread that counts while native code runs: it advances only if that code released the GIL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def counting_thread(join_timeout_s: float = 10.0) -> Iterator[list[int]]:
    """Runs a thread that counts; yields the times (ns) of every 1,000th count."""
    stamps: list[int] = []
    stop = threading.Event()

    def count() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            if n % 1_000 == 0:
                stamps.append(time.perf_counter_ns())

    thread = threading.Thread(target=count, daemon=True)
    thread.start()
    try:
        yield stamps
    finally:
        stop.set()
        thread.join(timeout=join_timeout_s)
