"""Admission: the policy on a WebSocket upgrade, before any session exists. The Origin header (403), a
draining server (503), then the cap on open connections from one address (429; an IPv6 client counted by
its /64: `limits.client_key`). Both transports ask it through the gateway (`transport.Host`), so the rules
are the same whoever reads the socket.
"""

from __future__ import annotations

import re

from gateway import logs
from gateway.limits import Limits, client_key
from gateway.origins import serialized_origin
from gateway.transport import Refusal

log = logs.get_logger("gateway")

LOOPBACK_ORIGIN = re.compile(r"https?://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?")
"""Without an allow-list, the origins of pages served from this machine: of the origins a browser may send
(`serialized_origin`: a port in range, never a merged "a, b" header, a path or a user part), those of these
hosts."""


class Admission:
    def __init__(self, allowed_origins: frozenset[str], limits: Limits) -> None:
        self.allowed_origins = allowed_origins
        self.limits = limits
        self.per_address: dict[str, int] = {}  # open connections by client key (`client_key`)

    def origin_allowed(self, origin: str | None) -> bool:
        if origin is None:
            return True
        if not serialized_origin(origin):  # "null" among them
            return False
        if self.allowed_origins:
            return origin in self.allowed_origins
        return LOOPBACK_ORIGIN.fullmatch(origin) is not None

    def admit(self, conn: int, origins: list[str], address: str, *, draining: bool) -> Refusal | None:
        """The refusal of this upgrade, or None. An admitted connection is counted in at once, so a burst of
        upgrades from one address meets the cap; `leave` counts it out. (It runs in the transport's task, not
        the connection's: log lines name the connection themselves.)"""
        # Two Origin headers are refused outright: which one a proxy or a check reads is anyone's guess.
        if len(origins) > 1 or not self.origin_allowed(origins[0] if origins else None):
            shown = ", ".join(origin[:100] for origin in origins[:2])  # what the client sent, cut short
            log.info("refused", conn=conn, address=address, why="origin", status=403, origin=shown)
            return Refusal(403, b"origin not allowed\n")
        if draining:
            log.info("refused", conn=conn, address=address, why="draining", status=503)
            return Refusal(503, b"the server is draining\n", [("Retry-After", "5")])
        cap = self.limits.settings.max_connections_per_address
        key = client_key(address)
        if cap and self.per_address.get(key, 0) >= cap:
            self.limits.refuse("connections_per_address")
            log.info("refused", conn=conn, address=address, why="connections_per_address", status=429)
            body = f"at most {cap} connections from one client address (an IPv6 client by its /64)\n".encode()
            return Refusal(429, body, [("Retry-After", "10")])
        self.per_address[key] = self.per_address.get(key, 0) + 1
        return None

    def leave(self, address: str) -> None:
        key = client_key(address)
        left = self.per_address[key] - 1
        if left:
            self.per_address[key] = left
        else:
            del self.per_address[key]
