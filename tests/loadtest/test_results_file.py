"""A benchmark's results file names the commit it measured, so a README figure can be traced to its code."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import results_file


def test_the_commit_is_the_checkouts_and_says_when_files_differ_from_it() -> None:
    where = Path(results_file.__file__).parent
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=where, capture_output=True, text=True)
    recorded = results_file.commit()
    if head.returncode != 0:  # not a checkout git will read here: nothing to name
        assert recorded is None
        return
    assert recorded is not None and re.fullmatch(r"[0-9a-f]{7,}(\+changes)?", recorded)
    assert recorded.split("+")[0] == head.stdout.strip()


def test_outside_a_checkout_there_is_no_commit_and_the_file_is_still_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(results_file, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(sys, "argv", ["spaces_bench.py", "--spaces", "25"])
    results_file.save("out.json", [{"spaces": 25}])
    saved = json.loads((tmp_path / "results" / "out.json").read_text())
    assert saved["commit"] is None and saved["command"] == "python -m bench.spaces_bench --spaces 25"
    assert saved["rows"] == [{"spaces": 25}]
