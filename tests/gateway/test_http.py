"""The HTTP side of a real `stoa serve` process: the web client's page for `/` and for a share link
`/s/<space_id>`, its files, `/config.json` naming the gateway, and the security headers on every response."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gateway.http._app import KEEP_ALIVE_S
from tests.conftest import ServerProcess, start_server, stop_server
from tests.http_wire import exchange, get as raw_get


def get(server: ServerProcess, path: str, host: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{server.http_port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def test_the_page_and_a_share_link_serve_the_web_client(web_server: ServerProcess) -> None:
    for path in ("/", "/s/AbC_12-xyz"):
        status, headers, body = get(web_server, path)
        assert status == 200, path
        assert headers["content-type"].startswith("text/html")
        assert b'<script type="module" src="/js/app.js">' in body
        assert "'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"


def test_the_clients_files_are_served_with_their_types(web_server: ServerProcess) -> None:
    root = Path(__file__).resolve().parents[2] / "web"
    status, headers, body = get(web_server, "/js/app.js")
    assert status == 200
    assert "javascript" in headers["content-type"]
    assert body == (root / "js" / "app.js").read_bytes()
    status, headers, _ = get(web_server, "/css/stoa.css")
    assert (status, headers["content-type"].split(";")[0]) == (200, "text/css")


@pytest.mark.parametrize("path", ["/", "/css/stoa.css", "/js/app.js", "/healthz", "/config.json"])
def test_the_server_closes_after_the_whole_answer_when_asked(web_server: ServerProcess, path: str) -> None:
    """RFC 9112, 9.6: after `Connection: close`, or HTTP/1.0 without keep-alive, the server closes the
    connection once the answer is sent (`exchange` checks the body is whole); the files (starlette's file
    responses) stayed open until the client left. /healthz and /config.json are the control."""
    for request in (raw_get(path, "HTTP/1.1", "Connection: close"), raw_get(path, "HTTP/1.0")):
        head, _, closed = exchange(web_server.http_port, request)
        assert head.startswith(b"HTTP/1.1 200 "), (path, head)
        assert closed is not None and closed < 2, (path, request)


def test_an_idle_kept_connection_is_closed_after_the_keep_alive_timeout(web_server: ServerProcess) -> None:
    """After a file's answer as after any other (/healthz, the control): the idle timer ran only after the
    latter."""
    for path in ("/css/stoa.css", "/healthz"):
        head, _, closed = exchange(web_server.http_port, raw_get(path), wait_s=KEEP_ALIVE_S + 3)
        assert head.startswith(b"HTTP/1.1 200 ") and b"connection: close" not in head.lower(), path
        assert closed is not None and KEEP_ALIVE_S - 0.5 < closed < KEEP_ALIVE_S + 2, (path, closed)


def test_config_names_the_gateway_on_the_pages_host(web_server: ServerProcess) -> None:
    status, headers, body = get(web_server, "/config.json", host=f"localhost:{web_server.http_port}")
    assert status == 200
    assert headers["cache-control"] == "no-store"
    assert json.loads(body) == {"ws_url": f"ws://localhost:{web_server.port}/", "protocol": 2, "ice_servers": []}


def test_config_gives_pages_the_stun_servers_and_never_the_turn_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's peer connection uses the server's STUN servers (`webrtc.stun`); the TURN servers come with a
    credential of the account's own over its WebSocket (`get_rtc_config`), never in this static file. No offer
    is made, so nothing outside is contacted."""
    monkeypatch.setenv("STOA_WEBRTC_TURN_SECRET", "sesame-4f2a")
    server = start_server(
        tmp_path / "data",
        *("--stun", "stun:stun.example.org:3478", "--stun", "stun:stun2.example.org"),
        *("--turn", "turn:turn.example.org:3478?transport=udp"),
    )
    try:
        _, _, body = get(server, "/config.json")
    finally:
        assert stop_server(server) == 0
    assert json.loads(body)["ice_servers"] == [
        {"urls": "stun:stun.example.org:3478"},
        {"urls": "stun:stun2.example.org"},
    ]
    assert b"sesame" not in body and b"turn" not in body


def test_no_ice_servers_when_webrtc_is_off(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--webrtc", "off", "--stun", "stun:stun.example.org:3478")
    try:
        _, _, body = get(server, "/config.json")
    finally:
        assert stop_server(server) == 0
    assert json.loads(body)["ice_servers"] == []


@pytest.mark.parametrize("path", ["/s/", "/s/a%20b", "/s/" + "x" * 65, "/nothing", "/js/../gateway/cli.py"])
def test_what_is_not_a_page_is_404(web_server: ServerProcess, path: str) -> None:
    status, headers, _ = get(web_server, path)
    assert status == 404, path
    assert headers["x-content-type-options"] == "nosniff"


def test_a_public_ws_url_is_what_pages_are_told(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--public-ws-url", "wss://spaces.example.org/ws")
    try:
        _, _, body = get(server, "/config.json")
        assert json.loads(body)["ws_url"] == "wss://spaces.example.org/ws"
    finally:
        assert stop_server(server) == 0


def test_no_web_client_when_off(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--http-port", "off")
    try:
        assert server.http_port is None
    finally:
        assert stop_server(server) == 0


def test_a_busy_http_port_is_refused_naming_the_option(tmp_path: Path) -> None:
    from tests.e2e.test_startup import serve_refused

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = serve_refused(tmp_path / "data", "--port", "0", "--http-port", str(port))
    assert line.startswith(f"stoa serve: --http-port: cannot listen on 127.0.0.1:{port}"), line
