"""What the load benchmarks write: a results file under bench/results/ holding the command that made
it, when, on how many CPUs, and its rows (README figures come only from such files); and the table."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def save(name: str, rows: list[dict[str, object]]) -> None:
    """Writes bench/results/`name` and prints the rows as a Markdown table."""
    module = Path(sys.argv[0]).stem
    results = {
        "command": f"python -m bench.{module} " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / name).write_text(json.dumps(results, indent=2) + "\n")
    keys = list(dict.fromkeys(k for r in rows for k in r))
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r.get(k, "")) for k in keys) + " |")
