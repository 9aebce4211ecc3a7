"""What a setting is (`Setting`, declared with `setting(...)` in a section of `_tree.py`), and the checks a
value may need beyond its type and range."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gateway.origins import serialized_origin


@dataclass(frozen=True)
class Setting:
    """What the tree says of one setting, beside its name, type and default (the dataclass field's)."""

    doc: str
    flag: str | None = None
    """Its command-line flag, if it has one (a secret has none: a flag shows in `ps`)."""
    low: float | None = None
    high: float | None = None
    unit: str = ""
    choices: tuple[str, ...] = ()
    off: str | None = None
    """The word that turns an optional setting off (`http_port = "off"`), or, for one whose default is None, the word
    that stands for None (`frames_per_message = "auto"`: the sample shows it, not an example)."""
    example: str | None = None
    """For a setting that is unset by default: a value `stoa config sample` shows, commented out."""
    check: Callable[[Any], str | None] | None = None
    """A further check of a value already of the right type and range: what is wrong with it, or None."""
    secret: bool = False


def setting(default: Any, doc: str, **spec: Any) -> Any:
    """A field of a settings section (see `Setting` for `spec`)."""
    if isinstance(default, list):
        return field(default_factory=lambda: tuple(default), metadata={"stoa": Setting(doc, **spec)})
    return field(default=default, metadata={"stoa": Setting(doc, **spec)})


def ws_url(value: str) -> str | None:
    return None if urlsplit(value).scheme in ("ws", "wss") else "must be a ws:// or wss:// URL"


def origin(value: str) -> str | None:
    """What a browser sends as `Origin` (`gateway/origins.py`): anything else would never match."""
    if serialized_origin(value):
        return None
    return "must be scheme://host[:port] as a browser sends it (lowercase, no path, no default port)"


def stun_url(value: str) -> str | None:
    return None if value.startswith("stun:") and len(value) > len("stun:") else "must be a stun:host[:port] URL"


def turn_url(value: str) -> str | None:
    ok = value.startswith(("turn:", "turns:")) and not value.endswith(":")
    return None if ok else "must be a turn: or turns: URL"


def ip_address(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return "must be an IP address"
    return None
