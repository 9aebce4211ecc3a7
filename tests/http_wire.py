"""HTTP/1 on a raw socket, for what a client library hides: when the server closes the connection."""

from __future__ import annotations

import socket
import time


def exchange(port: int, request: bytes, wait_s: float = 3.0) -> tuple[bytes, bytes, float | None]:
    """Send `request` on a new connection and read until the server closes it or `wait_s` passes: the answer's
    head, its body (exactly its Content-Length; more bytes fail the check), and the seconds from sending to the
    server's close (None: still open)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as s:
        sent = time.monotonic()
        s.sendall(request)
        data = b""
        closed: float | None = None
        try:
            while chunk := s.recv(65536):
                data += chunk
            closed = time.monotonic() - sent
        except TimeoutError:
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    assert len(body) == length, (head, len(body))
    return head, body, closed


def get(path: str, version: str = "HTTP/1.1", *headers: str) -> bytes:
    """A GET request's bytes."""
    return "\r\n".join([f"GET {path} {version}", "Host: 127.0.0.1", *headers, "", ""]).encode()
