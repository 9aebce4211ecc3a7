"""The Rust reader thread's scheduling (`server.realtime_reader`, docs/operations.md): what /metrics says
of it is what the kernel says of the "stoa-wire" thread of a real `stoa serve`, asked or not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ServerProcess, start_server, stop_server
from tests.e2e.test_metrics import samples

SCHED_OTHER, SCHED_FIFO = 0, 1  # <sched.h>


def reader_thread(server: ServerProcess) -> tuple[int, int, int]:
    """The "stoa-wire" thread's policy, real-time priority and nice value (proc_pid_stat(5): fields 41, 40, 19)."""
    found = []
    for task in Path(f"/proc/{server.proc.pid}/task").iterdir():
        stat = (task / "stat").read_text()
        if stat[stat.index("(") + 1 : stat.rindex(")")] == "stoa-wire":
            fields = stat.rsplit(")", 1)[1].split()  # field 3 first
            found.append((int(fields[41 - 3]), int(fields[40 - 3]), int(fields[19 - 3])))
    assert len(found) == 1, found
    return found[0]


def reported(server: ServerProcess) -> list[str]:
    return [dict(labels)["policy"] for (name, labels), v in samples(server).items()
            if name == "stoa_wire_reader_scheduling" and v == 1]  # fmt: skip


@pytest.mark.parametrize("flag", [[], ["--realtime-reader", "off"]], ids=["default", "off"])
def test_the_reader_runs_as_metrics_say(tmp_path: Path, flag: list[str]) -> None:
    srv = start_server(tmp_path / "data", *flag)
    try:
        policy = reported(srv)
        assert len(policy) == 1, policy
        expected = {"realtime": (SCHED_FIFO, 1, 0), "nice": (SCHED_OTHER, 0, -10), "normal": (SCHED_OTHER, 0, 0)}
        assert reader_thread(srv) == expected[policy[0]]
        if flag:
            assert policy == ["normal"], "not asked"
    finally:
        assert stop_server(srv) == 0
