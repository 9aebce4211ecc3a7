"""The ASGI application and how it is served (hypercorn's Trio worker, in the caller's nursery)."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import protocol as p
from gateway.replays import RECORDING_ID

log = logging.getLogger("gateway.http")

WEB_DIR = Path(__file__).resolve().parent.parent.parent / "web"
SPACE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
KEEP_ALIVE_S = 5.0
"""How long a connection may sit idle, before its first request or between two, until the server closes it
(hypercorn's default, set here so docs/operations.md can name it)."""

SECURITY_HEADERS = [
    # The page loads only its own scripts, styles and worklets; it talks to the gateway's WebSocket (on
    # another port, or behind the same origin through a proxy) and plays audio it decodes itself.
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self' ws: wss:; media-src 'self' blob:; worker-src 'self' blob:; "
        b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"microphone=(self), camera=(), geolocation=()"),
]


@dataclass(frozen=True)
class WebSettings:
    ws_port: int
    """The gateway's WebSocket port, for pages served without `public_ws_url`."""
    public_ws_url: str | None = None
    """The WebSocket URL pages connect to, when a proxy serves it (e.g. wss://spaces.example.org/ws). None: the
    page's own host name, on `ws_port`, with ws:// (wss:// when the page came over https)."""
    web_dir: Path = WEB_DIR
    ice_servers: tuple[str, ...] = ()
    """STUN server URLs for the page's WebRTC peer connection (`webrtc.stun`); none: host candidates only."""


class _HttpMiddleware:
    """An ASGI middleware for HTTP requests (`http`); anything else (the lifespan) goes straight to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class _SecurityHeaders(_HttpMiddleware):
    """Adds SECURITY_HEADERS to every HTTP response."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _DisconnectAfterSend(_HttpMiddleware):
    """Holds an `http.disconnect` back from the app while one of its `send` calls to hypercorn is under way.

    Hypercorn does a response's last work inside the app's `send` of its last body: it writes the end of the
    message, tells the app `http.disconnect`, then closes the socket when the connection is not kept
    (`Connection: close`, HTTP/1.0) or starts its idle timer (`keep_alive_timeout`) when it is. Starlette's file
    and streaming responses (ASGI 2.1, as hypercorn says) listen for `http.disconnect` beside their sending and
    cancel the sending when it comes: here, the disconnect hypercorn sent from inside that very send. The
    cancellation hit hypercorn's close (its `send_eof` checkpoint, before `aclose`): the socket stayed open
    until the client left, and a kept one never got its idle timer (docs/operations.md, HTTP connections).
    Delivered once the send has returned, the disconnect cancels nothing of hypercorn's. No send is shielded:
    shutdown still cancels everything. A client that really leaves mid-answer makes hypercorn's send return
    at once (it stops writing to a closed connection), so its disconnect is not held up."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        sending: trio.Event | None = None

        async def send_then_release(message: Message) -> None:
            nonlocal sending
            sending = done = trio.Event()
            try:
                await send(message)
            finally:
                sending = None
                done.set()

        async def receive_after_send() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect" and sending is not None:
                await sending.wait()
            return message

        await self.app(scope, receive_after_send, send_then_release)


def build_app(settings: WebSettings, extra_routes: Sequence[BaseRoute] = ()) -> ASGIApp:
    """The web client (`/`, `/s/<space_id>`, `/replays`, `/r/<recording_id>`, `/js/...`, `/css/...`) and
    `/config.json`, which tells the page where the gateway is and which STUN servers its peer connection uses;
    and `extra_routes` (the operators', gateway/http/ops.py; recordings' downloads, gateway/http/recordings.py)."""
    index = settings.web_dir / "index.html"

    async def page(request: Request) -> Response:
        space_id = request.path_params.get("space_id")
        recording_id = request.path_params.get("recording_id")
        if (space_id is not None and not SPACE_ID.fullmatch(space_id)) or (
            recording_id is not None and not RECORDING_ID.fullmatch(recording_id)
        ):
            return PlainTextResponse("no such page", status_code=404)
        return FileResponse(index, headers={"cache-control": "no-cache"})

    async def config(request: Request) -> Response:
        ws_url = settings.public_ws_url
        if ws_url is None:
            scheme = "wss" if request.url.scheme == "https" else "ws"
            host = request.url.hostname or "127.0.0.1"
            if ":" in host:  # an IPv6 literal
                host = f"[{host}]"
            ws_url = f"{scheme}://{host}:{settings.ws_port}/"
        ice_servers = [{"urls": url} for url in settings.ice_servers]  # RTCIceServer dictionaries
        body = {"ws_url": ws_url, "protocol": p.PROTOCOL_VERSION, "ice_servers": ice_servers}
        return JSONResponse(body, headers={"cache-control": "no-store"})

    routes = [
        *extra_routes,
        Route("/", page),
        Route("/s/{space_id}", page),
        Route("/replays", page),
        Route("/r/{recording_id}", page),
        Route("/config.json", config),
        Mount("/js", StaticFiles(directory=settings.web_dir / "js")),
        Mount("/css", StaticFiles(directory=settings.web_dir / "css")),
    ]
    return _SecurityHeaders(Starlette(routes=routes))


async def serve_http(
    app: ASGIApp, sock: socket.socket, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve `app` on the listening `sock` (taken over: hypercorn closes it) until cancelled; reports its port."""
    port = int(sock.getsockname()[1])
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    config.errorlog = log
    config.graceful_timeout = 1.0
    config.keep_alive_timeout = KEEP_ALIVE_S
    config.include_server_header = False
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(serve, _DisconnectAfterSend(app), config))  # type: ignore[arg-type]
        task_status.started(port)
