"""The Rust reader thread's scheduling (`server.realtime_reader`, docs/operations.md): what /metrics says
of it is what the kernel says of the "stoa-wire" thread of a real `stoa serve`, asked or not; asked, it is
real time wherever this machine allows a process real time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, start_server, stop_server
from tests.e2e.test_metrics import samples

pytestmark = pytest.mark.serial  # the reader thread's real-time scheduling

SCHED_OTHER, SCHED_FIFO = 0, 1  # <sched.h>
ASK_FIFO = "import os; os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(1))"


def reader_thread(server: ServerProcess) -> tuple[int, int, int]:
    """The "stoa-wire" thread's policy, real-time priority and nice value (proc_pid_stat(5): fields 41, 40, 19)."""
    found = []
    for task in Path(f"/proc/{server.proc.pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:
            continue  # a thread that ended meanwhile
        if stat[stat.index("(") + 1 : stat.rindex(")")] == "stoa-wire":
            fields = stat.rsplit(")", 1)[1].split()  # field 3 first
            found.append((int(fields[41 - 3]), int(fields[40 - 3]), int(fields[19 - 3])))
    assert len(found) == 1, found
    return found[0]


def reported(server: ServerProcess) -> list[str]:
    return [dict(labels)["policy"] for (name, labels), v in samples(server).items()
            if name == "stoa_wire_reader_scheduling" and v == 1]  # fmt: skip


def fifo_allowed() -> bool:
    """Whether a process started here may put itself on SCHED_FIFO at priority 1 (as the server's reader asks)."""
    return subprocess.run([sys.executable, "-c", ASK_FIFO], capture_output=True).returncode == 0


@pytest.mark.parametrize("flag", [[], ["--realtime-reader", "off"]], ids=["default", "off"])
def test_the_reader_runs_as_metrics_say(tmp_path: Path, flag: list[str]) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)  # the server's threads start at this nice value
    srv = start_server(tmp_path / "data", *flag)
    try:
        policy = reported(srv)
        assert len(policy) == 1, policy
        expected = {"realtime": (SCHED_FIFO, 1, base), "nice": (SCHED_OTHER, 0, -10), "normal": (SCHED_OTHER, 0, base)}
        assert reader_thread(srv) == expected[policy[0]]
        if flag:
            assert policy == ["normal"], "not asked"
        else:
            assert (policy == ["realtime"]) == fifo_allowed(), policy
    finally:
        assert stop_server(srv) == 0
