"""The settings tree written out: the sample TOML file (`stoa config sample`) and the Markdown reference of
docs/operations.md (a test checks the document holds exactly this)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from gateway.config._load import Item, items
from gateway.config._tree import SECTION_DOCS

HEADER = """\
# Stoa server settings: `stoa serve --config FILE`. Every setting is shown with its default.
# Each is overridden by its environment variable (STOA_<SECTION>_<NAME>), and that by its flag.
# Check a file with `stoa config check FILE`; docs/operations.md explains each setting.
"""


def toml_value(item: Item, value: Any) -> str:
    if value is None:
        return f'"{item.spec.off}"' if item.spec.off else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, Path)):
        return json.dumps(str(value))  # a TOML basic string for what settings hold
    if isinstance(value, tuple):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    return repr(value)


def number(x: float) -> str:
    """`x` as people write it: 2147483647, 0.1, 604800."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def allowed(item: Item) -> str:
    """What values the setting takes, in words ("" when any value of its type)."""
    spec = item.spec
    unit = f" {spec.unit}" if spec.unit else ""
    parts = []
    if spec.low is not None and spec.high is not None:
        parts.append(f"{number(spec.low)} to {number(spec.high)}{unit}")
    elif spec.unit:
        parts.append(spec.unit)
    if spec.choices:
        parts.append(" | ".join(spec.choices))
    if item.kind is bool:
        parts.append("true | false (on | off as a flag or variable)")
    if spec.off:
        parts.append(f'or "{spec.off}"')
    return " ".join(parts)


def sample() -> str:
    """The full settings file, every setting at its default, with its doc."""
    lines = [HEADER]
    section = None
    for item in items():
        if item.section != section:
            section = item.section
            lines += [f"[{section}]", f"# {SECTION_DOCS[section]}", ""]
        how = [f"env {item.env}"] + ([f"flag {item.spec.flag}"] if item.spec.flag else [])
        if allowed(item):
            how.insert(0, allowed(item))
        text = f"{item.spec.doc}. ({'; '.join(how)})"
        lines += [f"# {line}" for line in textwrap.wrap(text, 100, break_on_hyphens=False)]
        shown = toml_value(item, item.default)
        if shown:
            lines.append(f"{item.name} = {shown}")
        else:
            lines.append(f"# {item.name} = {item.spec.example}")
        lines.append("")
    return "\n".join(lines)


def reference() -> str:
    """The Markdown table of every setting, for docs/operations.md."""
    rows = [
        "| setting | flag | environment | default | values | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for item in items():
        default = toml_value(item, item.default) or "unset"
        flag = f"`{item.spec.flag}`" if item.spec.flag else ""
        values = allowed(item).replace("|", "\\|")
        rows.append(f"| `{item.path}` | {flag} | `{item.env}` | `{default}` | {values} | {item.spec.doc} |")
    return "\n".join(rows) + "\n"
