"""What the load benchmarks write: a results file under bench/results/ holding the command that made
it, when, at which commit, on how many CPUs, and its rows (README figures come only from such files); and
the table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def commit() -> str | None:
    """The checkout's commit, with "+changes" when tracked files other than the results themselves differ from
    it (a run that rewrote one results file, before the next saves, changed no code); None outside git."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=RESULTS.parent, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ":(top)", ":(top,exclude)bench/results")
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+changes" if changed else "")


def checkout(root: Path | None) -> str:
    """ "this" or "base", and the commit each server ran (with "+" if its tree had changes)."""
    where = root or Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True).stdout.strip()

    dirty = "+" if git("status", "--porcelain", "--untracked-files=no") else ""
    return f"{'base' if root else 'this'} {git('rev-parse', '--short', 'HEAD')}{dirty}"


def write(path: Path, rows: list[dict[str, Any]], **more: object) -> None:
    """Writes `path` (a results file): the command that made it, when it ended, at which commit, on how many
    CPUs, `more`, and the rows."""
    module = Path(sys.argv[0]).stem
    results = {
        "command": f"python -m bench.{module} " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit(),
        "cpus": os.cpu_count(),
        **more,
        "rows": rows,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def save(name: str, rows: list[dict[str, Any]]) -> None:
    """Writes bench/results/`name` (`write`) and prints the rows as a Markdown table."""
    write(RESULTS / name, rows)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r.get(k, "")) for k in keys) + " |")
