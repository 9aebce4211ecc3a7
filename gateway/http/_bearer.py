"""The `Authorization: Bearer <token>` check the admin API (`admin.py`) and /metrics (`ops.py`) share."""

from __future__ import annotations

import hmac

from starlette.requests import Request


def presents(request: Request, token: str | None) -> bool:
    """Whether `request` carries `Authorization: Bearer <token>`, the token compared in constant time. The scheme
    is case-insensitive and may be followed by several spaces (RFC 9110, 11.1 and 11.4); no `token` set: never."""
    if not token:
        return False
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.lstrip(" ").encode(), token.encode())
