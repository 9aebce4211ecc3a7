"""The HTTP side of `stoa serve`: the web client's pages and files, and the routes operators and back-ends use.

An ASGI application (starlette) served by hypercorn's Trio worker in the server's own process and nursery, on
its own port (`--http-port`). WebSocket clients do not come here: the gateway's WebSocket port is served by
the Rust fan-out, which owns those sockets for writing (gateway/transport.py). A reverse proxy puts both
behind one origin (docs/operations.md).
"""

from gateway.http._app import WebSettings, build_app, serve_http
from gateway.http.admin import admin_routes
from gateway.http.ops import ops_routes
from gateway.http.recordings import recording_routes

__all__ = ["WebSettings", "admin_routes", "build_app", "ops_routes", "recording_routes", "serve_http"]
