"""CPU and memory of a process over time, read from /proc (Linux), and the server's own counters that explain
a run, read from its /metrics."""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

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


WATCHED = (
    "stoa_fanout_writer_busy_seconds_total", "stoa_fanout_writer_cpu_seconds_total", "stoa_fanout_writer_passes_total",
    "stoa_mixer_ticks_late_total", "stoa_mixer_ticks_skipped_total", "stoa_concealed_frames_total",
    "stoa_concealed_gap_frames_total", "stoa_fanout_writers", "stoa_fanout_sends_total",
    "stoa_speaker_packets_accepted_total", "stoa_wire_audio_at_tick_total",
)  # fmt: skip
DROPPED = "stoa_speaker_packets_dropped_total"
READER = "stoa_wire_reader_scheduling"


def scrape(url: str) -> dict[str, float]:
    """The server's counters a report explains a run with (docs/operations.md, Metrics), from its /metrics at
    `url`: `WATCHED` by name, and the speakers' dropped packets as `dropped_<reason>`."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in WATCHED:
                out[sample.name] = sample.value
            elif sample.name == DROPPED:
                out[f"dropped_{sample.labels['reason']}"] = sample.value
            elif sample.name == READER:
                out[f"reader_{sample.labels['policy']}"] = sample.value
    return out
