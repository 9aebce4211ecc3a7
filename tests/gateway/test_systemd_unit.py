"""docs/stoa.service: systemd accepts it (`systemd-analyze verify`, where installed), it is hardened as
docs/operations.md says, and the command it runs is one `stoa serve` accepts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gateway import config
from tests.conftest import ROOT

UNIT = ROOT / "docs" / "stoa.service"


def directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_the_unit_is_hardened_with_only_the_data_folder_writable() -> None:
    d = directives()
    for key, value in [("NoNewPrivileges", "yes"), ("PrivateTmp", "yes"), ("ProtectSystem", "strict"),
                       ("ProtectHome", "yes"), ("PrivateDevices", "yes"), ("StateDirectory", "stoa")]:  # fmt: skip
        assert d.get(key) == [value], key
    assert "ReadWritePaths" not in d, "the state directory is the one writable path"
    assert d["CapabilityBoundingSet"] == [""]
    assert "--data /var/lib/stoa" in d["ExecStart"][0]


def test_the_unit_lets_the_reader_thread_run_first_and_nothing_else_of_the_kind() -> None:
    """`server.realtime_reader` (on by default) needs SCHED_FIFO at priority 1 (or nice -10), nothing more."""
    d = directives()
    assert d["LimitRTPRIO"] == ["1"] and d["LimitNICE"] == ["-10"] and d["RestrictRealtime"] == ["no"]
    assert d["SystemCallFilter"][-1].split() == ["sched_setscheduler", "setpriority"], "let back in, after @resources"
    assert d["SystemCallErrorNumber"] == ["EPERM"], "a forbidden call fails instead of killing the server"


def test_the_unit_runs_a_command_stoa_serve_accepts(tmp_path: Path) -> None:
    command = directives()["ExecStart"][0].split()
    assert command[1:3] == ["serve", "--config"]
    flags = {item.spec.flag for item in config.items()} | {"--config"}
    assert {word for word in command if word.startswith("--")} <= flags


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    # The server is not installed at /opt/stoa here: verify the unit with a command that exists.
    unit = tmp_path / "stoa.service"
    unit.write_text(UNIT.read_text().replace("/opt/stoa/.venv/bin/stoa", "/bin/true"))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    # The control: a misspelt directive is reported.
    unit.write_text(unit.read_text().replace("ProtectHome=yes", "ProtectHomme=yes"))
    bad = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert "ProtectHomme" in bad.stderr
