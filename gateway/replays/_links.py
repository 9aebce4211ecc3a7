"""Download links of recordings, sans IO: a short-lived URL signed with a key of the server's own, so the HTTP
port (which has no WebSocket session to ask) can tell who `get_recording` let in.

A link is `/recordings/<recording_id>/part-<n>.opus?exp=<unix s>&scope=<public|host>&key=<id>&sig=<base64url>`.
`sig` is HMAC-SHA256 over the recording id, `exp`, `scope` and `key`, with a key derived from the store's token
signing key number `key` (one purpose per derived key: a session token's signature is never a link's). One
signature covers every part of the recording. `scope` says on what grounds it was given: `public` links stop
working the moment the host makes the recording private; `host` links are the host's own. Nothing in a link is
a credential that outlives it: it expires at `exp` (docs/security.md, Recordings).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from urllib.parse import quote

LINK_LIFETIME_S = 600.0
"""How long a download link works by default (`recordings.link_lifetime`)."""
KEY_PURPOSE = b"stoa recording links v1"
RECORDING_ID = re.compile(r"r-[0-9a-f]{1,60}")
"""What a server-issued recording id looks like (the only ids a link, or a path on disk, is made from)."""


class Scope(Enum):
    PUBLIC = "public"
    """Given because the recording is public: refused once it is private."""
    HOST = "host"
    """Given to the recording's host: works whatever the visibility."""


class LinkRefused(Exception):
    """A link that does not let its bearer in: malformed, not signed by this server, or expired."""


@dataclass(frozen=True)
class Link:
    query: str
    """The query string (without `?`) that every part's URL of the recording carries."""
    expires_at_ms: int

    def part_url(self, recording_id: str, part: int) -> str:
        return f"{part_path(recording_id, part)}?{self.query}"


def part_path(recording_id: str, part: int) -> str:
    return f"/recordings/{quote(recording_id)}/part-{part:d}.opus"


class RecordingLinks:
    """Mints and checks download links with keys derived from the store's signing keys (by key id), so a
    link survives a restart, and retiring a signing key retires the links made with it."""

    def __init__(self, signing_keys: Mapping[int, bytes], lifetime_s: float = LINK_LIFETIME_S) -> None:
        if not signing_keys:
            raise ValueError("no signing key")
        self._keys = {kid: hmac.new(key, KEY_PURPOSE, hashlib.sha256).digest() for kid, key in signing_keys.items()}
        self._current = max(self._keys)
        self.lifetime_s = lifetime_s

    def mint(self, recording_id: str, scope: Scope, now_s: float) -> Link:
        exp = int(now_s + self.lifetime_s)
        sig = self._sign(self._current, recording_id, exp, scope.value)
        return Link(f"exp={exp}&scope={scope.value}&key={self._current}&sig={sig}", exp * 1000)

    def check(self, recording_id: str, query: Mapping[str, str], now_s: float) -> Scope:
        """The scope of a genuine, unexpired link to `recording_id`; raises `LinkRefused` otherwise. Nothing is
        trusted before the signature is checked, in constant time."""
        exp_text, scope_text = query.get("exp", ""), query.get("scope", "")
        key_text, sig = query.get("key", ""), query.get("sig", "")
        if not (exp_text.isdigit() and len(exp_text) <= 12 and key_text.isdigit() and len(key_text) <= 9):
            raise LinkRefused("not a download link (ask get_recording for one)")
        if scope_text not in ("public", "host") or not RECORDING_ID.fullmatch(recording_id):
            raise LinkRefused("not a download link (ask get_recording for one)")
        key_id = int(key_text)
        if key_id not in self._keys:
            raise LinkRefused("the link was signed with a key this server no longer has")
        expected = self._sign(key_id, recording_id, int(exp_text), scope_text)
        if not hmac.compare_digest(sig.encode("ascii", "replace"), expected.encode("ascii")):
            raise LinkRefused("the link's signature does not hold")
        if now_s >= int(exp_text):
            raise LinkRefused("the link has expired (ask get_recording for a fresh one)")
        return Scope(scope_text)

    def _sign(self, key_id: int, recording_id: str, exp: int, scope: str) -> str:
        signed = f"{recording_id}\n{exp:d}\n{scope}\n{key_id:d}".encode()
        return _b64(hmac.new(self._keys[key_id], signed, hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
