"""Raw msgpack on a WebSocket, decoded with the independent `msgpack` package (not the server's msgspec
Structs): what a client written from docs/protocol.md alone would send and see."""

from __future__ import annotations

import socket

import msgpack
import trio
import wsproto
import wsproto.events as ev
from trio_websocket import WebSocketConnection

from gateway.client import Client, RequestError

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


def raw_handshake(sock: socket.socket, *messages: object) -> wsproto.WSConnection:
    """The WebSocket handshake on a connected blocking socket, by hand (wsproto), then `messages` sent as
    msgpack: for clients that then misbehave (never read, never answer a ping or a close)."""
    ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    sock.sendall(ws.send(ev.Request(host="127.0.0.1", target="/")))
    accepted = False
    while not accepted:
        ws.receive_data(sock.recv(4096))
        accepted = any(isinstance(e, ev.AcceptConnection) for e in ws.events())
    for message in messages:
        sock.sendall(ws.send(ev.BytesMessage(msgpack.packb(message))))
    return ws


async def register_when_free(client: Client, handle: str, *, tries: int) -> None:
    """Register `handle` once the guest that went by it is gone: each refusal spends a register token (5 from
    one address at once), so at most `tries`."""
    for attempt in range(tries):
        await trio.sleep(0.2 * (attempt + 1))
        try:
            await client.register(handle, PASSWORD, "R")
            return
        except RequestError as error:
            if error.code != "handle_taken" or attempt == tries - 1:
                raise
