"""The logs of a real `stoa serve` (JSON, as under systemd): a connect, a sign-in of each kind, a join, a refused
request, a refused handshake, a space's start and end and a disconnect each have a line, with the space, user and
connection they are about (docs/operations.md, Logs)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from gateway.client import RequestError, connect, connect_account
from tests.conftest import ROOT


def start_logging_server(data: Path, log_file: Path) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "gateway", "serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "off",
               "--data", str(data), "--log-format", "json", "--log-level", "INFO"]  # fmt: skip
    with log_file.open("w") as stderr:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("stoa: listening on ws://"), line
    return proc, f"ws://127.0.0.1:{line.rsplit(':', 1)[1].strip().rstrip('/')}/"


async def test_connects_sign_ins_refusals_and_spaces_are_logged_with_their_context(tmp_path: Path) -> None:
    log_file = tmp_path / "stderr.log"
    proc, url = start_logging_server(tmp_path / "data", log_file)
    try:
        with trio.fail_after(30):
            async with connect_account(url, "host") as host:
                space_id = (await host.create_space("Logged")).space.space_id
                async with connect(url, "lena") as lena:
                    await lena.join_space(space_id)
                    with pytest.raises(RequestError):
                        await lena.join_space("nosuchspace")  # a refused request (already in a space)
                with pytest.raises(ConnectionRejected):
                    async with open_websocket_url(url, extra_headers=[(b"origin", b"https://evil.example")]):
                        pass
                await host.end_space()
                host_user, lena_user = host.user, lena.user
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.startswith("{")]

    def find(event: str, **fields: Any) -> dict[str, Any]:
        for line in lines:
            if line["event"] == event and all(line.get(k) == v for k, v in fields.items()):
                return line
        raise AssertionError(f"no {event!r} line with {fields}: {[entry['event'] for entry in lines]}")

    assert all({"timestamp", "level", "logger", "event"} <= line.keys() for line in lines)
    lena_conn = find("signed in", user=lena_user, kind="guest")["conn"]
    host_conn = find("signed in", user=host_user, kind="account")["conn"]
    assert lena_conn != host_conn
    assert find("connected", conn=lena_conn)["address"] == "127.0.0.1"
    assert find("joined", conn=lena_conn, user=lena_user)["space"] == space_id
    assert find("refused", conn=lena_conn, user=lena_user)["code"] == "already_in_space"
    handshake = find("refused", why="origin")
    assert (handshake["status"], handshake["origin"]) == (403, "https://evil.example")
    assert handshake["address"] == "127.0.0.1"
    assert find("space started", space=space_id)["host"] == host_user
    assert find("space ended", space=space_id)["host"] == host_user
    gone = find("disconnected", conn=lena_conn)
    assert (gone["user"], gone["code"], gone["peer_code"]) == (lena_user, 1000, 1000)  # lena said goodbye
    # The control: one connection's context never shows on another's lines.
    assert all(line.get("user") in (None, lena_user) for line in lines if line.get("conn") == lena_conn)
