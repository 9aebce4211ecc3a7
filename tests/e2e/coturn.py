"""A real TURN server for the tests: Debian's coturn (`turnserver`, installed by scripts/setup.sh) on loopback,
checking credentials as production's does (`use-auth-secret` with a static secret, the TURN REST API scheme),
relaying to loopback peers (which a real deployment refuses; here the Stoa server is on 127.0.0.1)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TURNSERVER = "/usr/bin/turnserver"


def _free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 now (coturn listens on both; it cannot be given port 0)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


@contextmanager
def coturn(folder: Path, secret: str) -> Iterator[int]:
    """Run coturn on 127.0.0.1 with `secret` as its static auth secret; yields its port (UDP and TCP)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = folder / "turnserver.log"
    args = [
        TURNSERVER, "-n", "--no-cli", "--no-tls", "--no-dtls", "--simple-log", "--log-file=stdout",
        "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
        "--use-auth-secret", f"--static-auth-secret={secret}", "--realm=stoa.test",
        "--allow-loopback-peers", "--no-multicast-peers",
        f"--userdb={folder / 'turndb'}", f"--pidfile={folder / 'turnserver.pid'}",
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"coturn did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
