"""Short-lived TURN credentials for one user, in the TURN REST API scheme (draft-uberti-behave-turn-rest) that
coturn checks with `use-auth-secret` / `static-auth-secret`: the username is `<expiry>:<user_id>` (expiry in
unix seconds), the password base64(HMAC-SHA1(secret, username)). The TURN server recomputes the password from
the username and the shared secret, and refuses a username whose expiry has passed; Stoa and the TURN server
share only the secret, and no credential is stored anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

TURN_TTL_S = 86_400
"""A credential's life by default: a day, as the TURN REST draft suggests (coturn refuses an expired one)."""


@dataclass(frozen=True)
class TurnSettings:
    urls: tuple[str, ...]
    """`turn:host[:port][?transport=udp|tcp]` or `turns:...` URLs (`webrtc.turn`)."""
    secret: str
    """The secret shared with the TURN server (coturn's `static-auth-secret`; `webrtc.turn_secret`)."""
    ttl_s: int = TURN_TTL_S
    """How long a credential is good for from when it is given (`webrtc.turn_ttl`)."""


@dataclass(frozen=True)
class TurnCredential:
    username: str
    password: str
    expires_at_s: int


def turn_credential(secret: str, user: str, now_s: float, ttl_s: int) -> TurnCredential:
    """The credential of `user` (a server-issued id) good until `now_s + ttl_s` (whole seconds)."""
    expires = int(now_s) + ttl_s
    username = f"{expires}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode("ascii"), expires)
