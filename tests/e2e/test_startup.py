"""Start-up checks, against real `stoa serve` processes: a bad setting, a busy port or a data folder in use is
refused at once with one line on stderr naming the option (exit code 2, no traceback); duplicate `Origin`
headers are refused with 403. Each refusal has a control that starts (or connects) with the value just inside.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from gateway.client import connect, connect_account
from tests.conftest import FORKS, ROOT, ServerProcess, start_server, stop_server


def serve_refused(data_dir: Path, *args: str) -> str:
    """Run `stoa serve` expecting a refusal; return its one line. A server that starts instead fails the test.
    (Started as `start_server` starts servers: forked from a process that has imported the server.)"""
    try:
        done = FORKS.run(["serve", "--host", "127.0.0.1", "--data", str(data_dir), *args], ROOT, timeout=15)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"stoa serve {' '.join(args)} started instead of refusing") from e
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert done.stdout == "", "nothing on stdout: scripts read the port line from it"
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, f"one line, not {len(lines)}: {done.stderr}"
    assert lines[0].startswith("stoa serve: "), lines[0]
    return lines[0]


# (arguments, what the line must say): the option, and its range where it has one.
BAD_SETTINGS = [
    (["--max-mixed", "50"], ["--max-mixed", "1 to 13"]),
    (["--max-mixed", "0"], ["--max-mixed", "1 to 13"]),
    (["--complexity", "99"], ["--complexity", "0 to 10"]),
    (["--complexity", "-1"], ["--complexity", "0 to 10"]),
    (["--bitrate", "5"], ["--bitrate", "500 to 512000"]),
    (["--bitrate", "512001"], ["--bitrate", "500 to 512000"]),
    (["--bitrate", "99999999999"], ["--bitrate", "500 to 512000"]),
    (["--port", "70000"], ["--port", "0 to 65535"]),
    (["--port", "-1"], ["--port", "0 to 65535"]),
    (["--port", "abc"], ["--port"]),
    (["--frames-per-message", "11"], ["--frames-per-message", "1 to 10"]),
    (["--frames-per-message", "0"], ["--frames-per-message", "1 to 10"]),
    (["--frames-per-message", "many"], ["--frames-per-message", "auto"]),
    (["--max-frames-per-message", "11"], ["--max-frames-per-message", "1 to 10"]),
    (["--listeners-per-frame", "0"], ["--listeners-per-frame", "1 to 1000000"]),
    (["--sndbuf", "0"], ["--sndbuf", "1024 to"]),
    (["--log-level", "LOUD"], ["--log-level", "DEBUG"]),
    (["--transport", "carrier-pigeon"], ["--transport"]),
    (["--allow-origin", "spaces.example.org"], ["--allow-origin"]),
    (["--allow-origin", "https://spaces.example.org/app"], ["--allow-origin"]),
    (["--allow-origin", "null"], ["--allow-origin"]),
    (["--allow-origin", "https://spaces.example.org:99999"], ["--allow-origin"]),  # a browser never sends these
    (["--allow-origin", "https://spaces.example.org:443"], ["--allow-origin"]),
]


@pytest.mark.parametrize(("args", "says"), BAD_SETTINGS, ids=[" ".join(a) for a, _ in BAD_SETTINGS])
def test_a_bad_setting_is_refused_in_one_line(tmp_path: Path, args: list[str], says: list[str]) -> None:
    port = [] if "--port" in args else ["--port", "0"]  # never the default port, should the check fail
    line = serve_refused(tmp_path / "data", *port, *args)
    for words in says:
        assert words in line, f"{words!r} missing from: {line}"


@pytest.mark.parametrize(
    "edges",
    [
        ["--max-mixed", "13", "--complexity", "10", "--bitrate", "512000", "--frames-per-message", "10"],
        ["--max-mixed", "1", "--complexity", "0", "--bitrate", "500", "--frames-per-message", "1", "--sndbuf", "1024"],
        ["--frames-per-message", "auto", "--max-frames-per-message", "1", "--listeners-per-frame", "1000000"],
    ],
    ids=["highest", "lowest", "auto"],
)
async def test_the_ends_of_every_range_start_a_server_that_makes_spaces(tmp_path: Path, edges: list[str]) -> None:
    """The control of the refusals: the accepted ranges are the mixer's own, so a space can be made at each end
    (a mixer is built for it); before these checks, an out-of-range value crashed the server right here."""
    srv = start_server(tmp_path / "data", *edges, "--allow-origin", "https://spaces.example.org:8443")
    try:
        with trio.fail_after(20):
            async with connect_account(srv.url, "host") as host:
                joined = await host.create_space("Edges")
                assert joined.space.title == "Edges"
    finally:
        assert stop_server(srv) == 0


def test_a_busy_port_is_refused_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = serve_refused(tmp_path / "data", "--port", str(port))
    assert f"127.0.0.1:{port}" in line and "in use" in line, line
    # The control: the same port once free.
    srv = start_server(tmp_path / "data", "--port", str(port))
    assert srv.port == port
    assert stop_server(srv) == 0


async def test_a_second_server_on_one_data_folder_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    try:
        with trio.fail_after(20):
            async with connect_account(first.url, "host") as host:
                space_id = (await host.create_space("Only once")).space.space_id
                line = await trio.to_thread.run_sync(serve_refused, data, "--port", "0")
                assert "--data" in line and str(data) in line and f"pid {first.proc.pid}" in line, line
                # The first server is undisturbed.
                async with connect(first.url, "listener") as listener:
                    assert (await listener.join_space(space_id)).space.title == "Only once"
    finally:
        assert stop_server(first) == 0
    # The control: once the first has stopped, the folder is free again.
    second = start_server(data)
    assert stop_server(second) == 0


async def handshake_status(url: str, headers: list[tuple[bytes, bytes]]) -> int:
    """The HTTP status the server answers a WebSocket handshake with (101: accepted)."""
    try:
        async with open_websocket_url(url, extra_headers=headers):
            return 101
    except ConnectionRejected as rejected:
        return rejected.status_code


@pytest.mark.parametrize(
    ("origins", "status"),
    [
        ([b"http://127.0.0.1:9999"], 101),  # the control: one allowed origin
        ([b"https://evil.example", b"http://127.0.0.1:9999"], 403),  # the last used to win
        ([b"http://127.0.0.1:9999", b"https://evil.example"], 403),
        ([b"http://127.0.0.1:9999", b"http://127.0.0.1:9999"], 403),
    ],
)
async def test_duplicate_origin_headers_are_refused(server: ServerProcess, origins: list[bytes], status: int) -> None:
    with trio.fail_after(10):
        assert await handshake_status(server.url, [(b"Origin", origin) for origin in origins]) == status
