"""CPU and memory of a process over time, read from /proc (Linux)."""

from __future__ import annotations

import os
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Usage:
    cpu_s: float  # user + system CPU seconds since the process started
    rss_bytes: int


def usage(pid: int) -> Usage | None:
    """The process's CPU time and resident memory now; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/statm") as f:
            rss_pages = int(f.read().split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5), after pid and comm
    return Usage(cpu_s=(utime + stime) / _TICKS, rss_bytes=rss_pages * _PAGE)


def children_usage(pids: list[int]) -> Usage:
    total_cpu, total_rss = 0.0, 0
    for pid in pids:
        u = usage(pid)
        if u is not None:
            total_cpu += u.cpu_s
            total_rss += u.rss_bytes
    return Usage(total_cpu, total_rss)
