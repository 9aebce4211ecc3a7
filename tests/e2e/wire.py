"""Raw msgpack on a WebSocket, decoded with the independent `msgpack` package (not the server's msgspec
Structs): what a client written from docs/protocol.md alone would send and see."""

from __future__ import annotations

import msgpack
import trio
from trio_websocket import WebSocketConnection

PASSWORD = "correct horse battery staple"


async def say(ws: WebSocketConnection, message: object) -> dict:
    """Send one message (a map, or raw bytes) and return the next message the server sends."""
    await ws.send_message(msgpack.packb(message) if not isinstance(message, bytes) else message)
    with trio.fail_after(5):
        return msgpack.unpackb(await ws.get_message())


async def hello_guest(ws: WebSocketConnection, name: str) -> dict:
    """Say hello as a new guest shown as `name`; returns the `welcome`."""
    welcome = await say(ws, {"type": "hello", "protocol": 2, "name": name})
    assert welcome["type"] == "welcome", welcome
    return welcome


async def hello_account(ws: WebSocketConnection, handle: str) -> dict:
    """Say hello as a guest, register `handle` and log in on the same connection; returns `logged_in`."""
    await hello_guest(ws, "guest")
    registered = await say(
        ws, {"type": "register", "ref": 1, "handle": handle, "password": PASSWORD, "display_name": handle}
    )
    assert registered["type"] == "registered", registered
    logged_in = await say(ws, {"type": "log_in", "ref": 2, "handle": handle, "password": PASSWORD})
    assert logged_in["type"] == "logged_in", logged_in
    return logged_in
