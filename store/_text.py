"""The store's side of the rule of text fields people see (`stoa_protocol.clean_text`, `docs/protocol.md`,
*Text fields*): a refusal becomes the store's `BadArgument`, naming the field."""

from __future__ import annotations

from stoa_protocol import TextRefused, clean_text

from store._errors import BadArgument


def checked_text(field: str, text: str, max_chars: int, *, required: bool = True, lines: bool = False) -> str:
    """`text` as stored (trimmed), or `BadArgument(field, why)`."""
    if not isinstance(text, str):
        raise BadArgument(field, "must be text")
    try:
        return clean_text(text, max_chars=max_chars, required=required, lines=lines)
    except TextRefused as e:
        raise BadArgument(field, str(e)) from None
