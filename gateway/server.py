"""The gateway server: accepts WebSocket connections (Origin-checked) and runs a Session for each.

`serve()` is the whole server: the space directory, the listener socket, and every session, in one
nursery. Leaving it (cancellation) closes every connection with 1001 and stops every space.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import trio
from trio_websocket import WebSocketRequest, WebSocketServer, serve_websocket

from actors.space import MAX_POST_CHARS, MAX_SPEAKERS, MAX_TITLE_CHARS, MixConfig, SpaceDirectory
from gateway import protocol as p
from gateway.errors import CloseCode
from gateway.session import Session

log = logging.getLogger("gateway")

SERVER_NAME = "stoa/0.1.0"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


@dataclass(frozen=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    data_dir: Path = Path("data")
    allowed_origins: frozenset[str] = frozenset()
    """Browser origins allowed to connect ("scheme://host[:port]"). Empty: only loopback origins. A client
    that sends no Origin header (not a browser) is always allowed; the origin "null" never is."""
    mix: MixConfig = field(default_factory=MixConfig)


class Gateway:
    def __init__(self, directory: SpaceDirectory, config: GatewayConfig, nursery: trio.Nursery) -> None:
        self.directory = directory
        self.config = config
        self.nursery = nursery
        self.sessions: dict[str, Session] = {}  # signed in, by user
        self.connections: set[Session] = set()  # every open connection, signed in or not
        self.drained = trio.Event()

    def welcome(self, user: str) -> p.Welcome:
        limits = p.Limits(
            max_message_bytes=p.MAX_MESSAGE_BYTES,
            max_opus_bytes=p.MAX_OPUS_BYTES,
            max_title_chars=MAX_TITLE_CHARS,
            max_post_chars=MAX_POST_CHARS,
            max_speakers=MAX_SPEAKERS,
            frame_ms=20,
        )
        return p.Welcome(protocol=p.PROTOCOL_VERSION, user=user, server=SERVER_NAME, limits=limits)

    def sign_in(self, session: Session) -> None:
        """One connection per user: a newer one replaces the older (which may be a half-dead link)."""
        assert session.user is not None
        old = self.sessions.get(session.user)
        if old is not None and old is not session:
            old.outbox.close(CloseCode.REPLACED, "the same user connected again")
        self.sessions[session.user] = session

    def sign_out(self, session: Session) -> None:
        if session.user is not None and self.sessions.get(session.user) is session:
            del self.sessions[session.user]

    def origin_allowed(self, origin: str | None) -> bool:
        if origin is None:
            return True
        if origin == "null":
            return False
        if self.config.allowed_origins:
            return origin in self.config.allowed_origins
        host = urlsplit(origin).hostname
        return host is not None and host in LOOPBACK_HOSTS

    async def handle(self, request: WebSocketRequest) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
        if not self.origin_allowed(headers.get("origin")):
            await request.reject(403, body=b"origin not allowed\n")
            return
        ws = await request.accept()
        session = Session(ws, self)
        self.connections.add(session)
        try:
            await session.run()
        finally:
            self.connections.discard(session)
            if not self.connections:
                self.drained.set()

    async def shut_down(self, grace_s: float = 3.0) -> None:
        """Close every connection with 1001 and wait (at most `grace_s`) for the close handshakes."""
        self.drained = trio.Event()
        if not self.connections:
            return
        for session in list(self.connections):
            session.outbox.close(CloseCode.GOING_AWAY, "the server is shutting down")
        with trio.move_on_after(grace_s):
            await self.drained.wait()


@dataclass(frozen=True)
class Server:
    """What `serve()` reports once it listens."""

    port: int
    gateway: Gateway


async def serve(config: GatewayConfig, *, task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED) -> None:
    """Run the server until cancelled; reports a `Server` (with the bound port) through `task_status`.

    For an orderly stop, call `server.gateway.shut_down()` first, then cancel.
    """
    config.data_dir.mkdir(parents=True, exist_ok=True)
    async with trio.open_nursery() as nursery:
        directory = SpaceDirectory(nursery, config.mix)
        gateway = Gateway(directory, config, nursery)
        listener: WebSocketServer = await nursery.start(
            lambda task_status: serve_websocket(
                gateway.handle,
                config.host,
                config.port,
                ssl_context=None,
                max_message_size=p.MAX_MESSAGE_BYTES,
                task_status=task_status,
            )
        )
        log.info("listening on ws://%s:%d/", config.host, listener.port)
        task_status.started(Server(listener.port, gateway))
