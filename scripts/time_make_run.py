"""How long `make run` takes on a set-up machine to reach a listening server: from starting make to the server's
`stoa: listening` line on stdout, whether anything was printed before that line, and the server's own CPU time
up to it (from /proc: what the wall time approaches on a machine with a free core); then how long until its HTTP
side first answers (`/healthz`: its code loads once the server listens, gateway.late_start.serve_web). Each run
uses free ports and a fresh data folder (a first start: the store's schema is created), then drains the server.

    .venv/bin/python scripts/time_make_run.py [RUNS]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run() -> str:
    with tempfile.TemporaryDirectory() as data:
        started = time.monotonic()
        make = subprocess.Popen(
            ["make", "-s", "run", "PORT=0", "HTTP_PORT=0", f"DATA={data}"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert make.stdout is not None
        before = 0
        while not (line := make.stdout.readline()).startswith("stoa: listening"):
            if not line:
                raise SystemExit(f"make run ended without listening (exit code {make.wait()})")
            before += 1
        wall = time.monotonic() - started
        pid = int((Path(data) / "stoa.lock").read_text())
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        web = make.stdout.readline()  # "stoa: open http://127.0.0.1:PORT/ in a browser"
        http = web.split(" in a browser")[0].split("open ", 1)[1]
        answered = _first_answer(http + "healthz") - started
        os.kill(pid, signal.SIGTERM)
        make.wait()
    return (f"listening after {wall * 1000:.0f} ms (server CPU {cpu * 1000:.0f} ms); lines before it: {before}; "
            f"HTTP answered after {answered * 1000:.0f} ms")  # fmt: skip


def _first_answer(url: str) -> float:
    """When `url` first answered 200 (asked again until it does)."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (a loopback URL)
                if response.status == 200:
                    return time.monotonic()
        except (urllib.error.URLError, OSError):
            time.sleep(0.01)


def main() -> None:
    subprocess.run(["make", "-s", "setup-run"], cwd=ROOT, check=True)  # measure a set-up machine
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"# make run on {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load average {load}")
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 5):
        print(f"make run: {one_run()}", flush=True)


if __name__ == "__main__":
    main()
