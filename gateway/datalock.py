"""The data folder's lock file (`<data>/stoa.lock`): held (flock, exclusive) by the one server using the folder,
for its whole life, and holding that server's pid. `stoa drain` finds the server through it.
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
from pathlib import Path
from typing import IO

LOCK_FILE = "stoa.lock"


class FolderBusy(Exception):
    """Another server holds the folder; `pid` is what its lock file says."""

    def __init__(self, pid: str) -> None:
        super().__init__(pid)
        self.pid = pid


def lock_data_folder(data: Path) -> IO[str]:
    """Create the data folder if needed and take its lock (kept until the returned file is closed): two servers
    on one folder would both restore, and both run, every live space.

    Error handling: `OSError` if the folder cannot be made or opened, `FolderBusy` if another server holds it."""
    data.mkdir(parents=True, exist_ok=True)
    lock = open(data / LOCK_FILE, "a+")  # held for the server's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise FolderBusy(holder) from None
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def server_pid(data: Path) -> int | None:
    """The pid of the server holding `data`'s lock now, or None if no server holds it."""
    try:
        lock = open(data / LOCK_FILE)
    except FileNotFoundError:
        return None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = lock.read().strip()
            return int(text) if text.isdigit() else None
        return None  # we got it: nobody holds it


def drain(data: Path, wait_s: float | None) -> tuple[int | None, bool]:
    """Ask the server using `data` to drain (SIGTERM to the pid in its lock file) and, unless `wait_s` is None,
    wait that long for it to let the folder go. Returns (the pid, or None when no server was found; whether it
    has gone)."""
    pid = server_pid(data)
    if pid is None:
        return None, True
    os.kill(pid, signal.SIGTERM)
    if wait_s is None:
        return pid, False
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if server_pid(data) != pid:
            return pid, True
        time.sleep(0.1)
    return pid, False
