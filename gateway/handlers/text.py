"""The rule of text fields people see (`stoa_protocol.clean_text`; `docs/protocol.md`, *Text fields*) for the
requests whose text the store keeps: the store imports nothing of Stoa, so the handlers check the rule
before handing the text on (the space's domain checks its own fields: `actors/space/domain/authority.py`)."""

from __future__ import annotations

from stoa_protocol import TextRefused, clean_text

import store


def checked_text(field: str, text: str, *, required: bool = True, lines: bool = False) -> str:
    """`text` trimmed, or `store.BadArgument(field, why)` (`bad_argument`, which gives its rate-limit token
    back: `gateway/requests.py`). The field's length is the store's to check."""
    try:
        return clean_text(text, max_chars=None, required=required, lines=lines)
    except TextRefused as e:
        raise store.BadArgument(field, str(e)) from None
