"""What the server starts once it listens: the HTTP side (its code imported then, in a worker thread), then
the garbage-collection policy (last: it freezes what start-up made, the HTTP side's modules included)."""

from __future__ import annotations

import importlib
import socket
from typing import TYPE_CHECKING

import trio

from gateway import logs
from gateway.webrtc import browser_ice_urls

if TYPE_CHECKING:
    from gateway.server import Gateway

log = logs.get_logger("gateway")


async def serve_web(
    gateway: Gateway, ws_port: int, sock: socket.socket, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """The HTTP side on its listening socket (gateway/http: the web client, /healthz, /readyz, /metrics, the admin
    API) until cancelled; reports its port. Its code (starlette, hypercorn: a fifth of start-up's CPU) is
    imported here, when it starts, not with the server, and in a worker thread: the event loop goes on serving
    meanwhile (an import in the loop stalled it for 0.1 s)."""
    await trio.to_thread.run_sync(importlib.import_module, "gateway.http")
    from gateway.http import WebSettings, admin_routes, build_app, ops_routes, recording_routes, serve_http

    config = gateway.config
    ops = ops_routes(gateway.metrics.render, lambda: gateway.draining, config.metrics_token)
    ops += admin_routes(gateway.admin, config.admin_token)
    ops += recording_routes(gateway.db, gateway.services.replays)
    ice = browser_ice_urls(config.rtc.ice_servers) if config.rtc is not None else ()
    app = build_app(WebSettings(ws_port=ws_port, public_ws_url=config.public_ws_url, ice_servers=ice), ops)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_http, app, sock)
        log.info("web client on http://%s:%d/", config.host, port)
        task_status.started(port)


async def finish_start(nursery: trio.Nursery, gateway: Gateway, ws_port: int, sock: socket.socket | None) -> None:
    """The last of start-up: the HTTP side, then the garbage-collection policy (last: it freezes what start-up
    made, the HTTP side's modules included)."""
    if sock is not None:
        await nursery.start(serve_web, gateway, ws_port, sock)
    if gateway.gc_policy is not None:
        await nursery.start(gateway.gc_policy.run)


async def finish_start_after(
    ready: trio.Event, nursery: trio.Nursery, gateway: Gateway, ws_port: int, sock: socket.socket | None
) -> None:
    await ready.wait()
    await finish_start(nursery, gateway, ws_port, sock)
