"""The Origin rule: what a browser (or an app's web view) sends as `Origin`, the one form both the handshake
(`gateway/admission.py`) and the allow-list setting (`web.allow_origins`, `gateway/config/`) accept. Anything
else never came from a browser's page, and an allow-list entry in another form would never match."""

from __future__ import annotations

import re

DEFAULT_PORTS = {"http": 80, "https": 443}
_ORIGIN = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<host>[a-z0-9._~!$&'()*+;=%-]+|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]+))?"
)


def serialized_origin(value: str) -> bool:
    """Whether `value` is an origin as a browser serializes it (RFC 6454, 6.1; the URL standard's ports):
    lowercase `scheme://host`, then a port only if it is not the scheme's default (80 for http, 443 for
    https), in decimal from 1 to 65535 with no leading zero; nothing else (no path, no user part, no second
    origin). Not only http(s): an app's web view or a browser extension sends its own scheme
    (`capacitor://localhost`, `chrome-extension://<id>`), which an operator may allow."""
    found = _ORIGIN.fullmatch(value)
    if found is None:
        return False
    port = found["port"]
    if port is None:
        return True
    return (
        not port.startswith("0")
        and len(port) <= 5
        and int(port) <= 65535
        and int(port) != DEFAULT_PORTS.get(found["scheme"])
    )
