"""The C floors: plain programs that do a part of the server's I/O and nothing else (`cfloor.c`, the fan-out's
sends; `ingress_floor.c`, the reading of speakers' packets), built here with gcc and run beside the server, so
that the server's cost is quoted as a ratio measured in the same run on the same machine. What both share is
`floor.h`."""

from __future__ import annotations

import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD = HERE.parent / "target" / "bench"


def build(name: str) -> Path:
    """`bench/<name>.c` built into `target/bench/<name>`."""
    BUILD.mkdir(parents=True, exist_ok=True)
    binary = BUILD / name
    subprocess.run(["gcc", "-O2", "-Wall", "-o", str(binary), str(HERE / f"{name}.c")], check=True)
    return binary
