"""Session tokens, sans IO: mint one, and read one back only if its signature holds.

Format (docs/store.md): `s1.<key id>.<claims>.<signature>`; claims and signature are base64url without
padding; the signature is HMAC-SHA256 over `s1.<key id>.<claims>` with the server's secret of that id.
Whether a token is revoked is the database's business (`_sessions.py`), not this module's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

import msgspec

from store._errors import TokenExpired, TokenInvalid

VERSION = "s1"
MAX_TOKEN_CHARS = 512
SIGNATURE_BYTES = 32


class Claims(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """What a token says: whose session, which session (for revocation), and when it was issued and ends."""

    account_id: int
    token_id: str
    issued_at: int
    expires_at: int


_encode_claims = msgspec.json.Encoder().encode
_decode_claims = msgspec.json.Decoder(Claims).decode


def mint(key_id: int, secret: bytes, claims: Claims) -> str:
    signed = f"{VERSION}.{key_id:d}.{_b64encode(_encode_claims(claims))}"
    return f"{signed}.{_b64encode(_sign(secret, signed))}"


def read(token: str, keys: Mapping[int, bytes], now_ms: int, *, allow_expired: bool = False) -> Claims:
    """The claims of a genuine token; raises `TokenInvalid` for anything not signed by one of `keys`,
    and `TokenExpired` once `now_ms` reaches its expiry (unless `allow_expired`, as for a log-out).

    Nothing in the claims is decoded before the signature is checked, in constant time.
    """
    if len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise TokenInvalid("malformed")
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != VERSION:
        raise TokenInvalid("malformed")
    _, key_text, claims_text, signature_text = parts
    if not key_text.isdigit():
        raise TokenInvalid("malformed")
    secret = keys.get(int(key_text))
    if secret is None:
        raise TokenInvalid("unknown signing key")
    signature = _b64decode(signature_text)
    expected = _sign(secret, f"{VERSION}.{key_text}.{claims_text}")
    if not hmac.compare_digest(signature, expected):
        raise TokenInvalid("bad signature")
    try:
        claims = _decode_claims(_b64decode(claims_text))
    except msgspec.ValidationError as exc:  # signed by us, yet unreadable: refuse rather than crash
        raise TokenInvalid("malformed") from exc
    if not allow_expired and now_ms >= claims.expires_at:
        raise TokenExpired(claims.expires_at)
    return claims


def _sign(secret: bytes, signed: str) -> bytes:
    return hmac.new(secret, signed.encode("ascii"), hashlib.sha256).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Strict base64url: only the canonical spelling of some bytes decodes, so a token has one form."""
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TokenInvalid("malformed") from exc
    if _b64encode(data) != text:
        raise TokenInvalid("malformed")
    return data
