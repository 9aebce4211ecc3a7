"""The rule of every free-text field people see (a space's title, description and topics, a post, a display
name, a direct message): what is trimmed, what counts as visible, what is refused. `docs/protocol.md`
(*Text fields*) states the same rule; the server applies it through `clean_text`, a client may too.

Why: a text of invisible characters only (U+200B and the like) displays as nothing, and the bidi embedding
and override controls make what follows them display reordered (a reversed name, a spoofed link), beyond the
field where a renderer does not end them with it. Marks (U+200E, U+200F, U+061C) only steer neighbouring
punctuation, and the isolates (U+2066 to U+2069) keep what they enclose from affecting its surroundings,
which is why bidi-aware software (Android's BidiFormatter, chat apps) wraps names in them: both stay allowed,
as right-to-left writers need them.
"""

from __future__ import annotations

import unicodedata

WHITE_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""Trimmed from both ends of a text: Python's `str.isspace` (Unicode White_Space and U+001C to U+001F)."""

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e")
"""Embeddings and overrides (U+202A to U+202E): refused anywhere in a text."""

MULTI_LINE_CONTROLS = frozenset("\t\n\r")
"""The control characters a multi-line text (a post, a description, a direct message) may hold."""

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, 15.1), as [first, last] ranges: what a
# renderer shows as nothing. It reserves unassigned ranges too, so it does not grow with new versions.
_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


BLANKS = frozenset("\u2800")
"""Characters that show as nothing though Unicode does not call them ignorable: U+2800 BRAILLE PATTERN BLANK,
the usual filler of names that look empty."""

COMBINING = frozenset({"Mn", "Me"})
"""The general categories of combining marks: shown on the character before them, so a text of marks alone
shows nothing of its own (a dotted circle, or nothing)."""


class TextRefused(ValueError):
    """A text that breaks the rule; the message says why (the caller names the field)."""


def invisible(char: str) -> bool:
    """Whether `char` shows as nothing: white space, a control character (U+0000 to U+001F, U+007F to
    U+009F), a Default_Ignorable_Code_Point, or one of `BLANKS`."""
    point = ord(char)
    if char in WHITE_SPACE or char in BLANKS or point < 0x20 or 0x7F <= point <= 0x9F:
        return True
    return point >= 0xAD and any(first <= point <= last for first, last in _IGNORABLE)


def clean_text(text: str, *, max_chars: int | None, required: bool = True, lines: bool = False) -> str:
    """`text` as kept: trimmed of white space at both ends; then at most `max_chars` characters (code points;
    None: the caller checks the length),
    empty only where not `required`, and otherwise holding at least one visible character (see `invisible`;
    a combining mark counts only on a visible character that is not one),
    no bidi control (`BIDI_CONTROLS`), and no control character (U+0000 to U+001F, U+007F to U+009F) nor
    U+2028 or U+2029, except, with `lines`, those two and `MULTI_LINE_CONTROLS`.

    Error handling: `TextRefused` saying which part of the rule the text breaks."""
    text = text.strip(WHITE_SPACE)
    if max_chars is None:
        if required and not text:
            raise TextRefused("at least 1 character after trimming white space")
    elif len(text) > max_chars or (required and not text):
        raise TextRefused(f"{1 if required else 0} to {max_chars} characters after trimming white space")
    if text and all(invisible(char) or unicodedata.category(char) in COMBINING for char in text):
        raise TextRefused("no visible character (only white space, control or invisible characters, or marks)")
    for char in text:
        if char in BIDI_CONTROLS:
            raise TextRefused(f"bidi embedding and override controls are refused (U+{ord(char):04X})")
        point = ord(char)
        if lines and (char in MULTI_LINE_CONTROLS or char in "\u2028\u2029"):
            continue
        if point < 0x20 or 0x7F <= point <= 0x9F or char in "\u2028\u2029":
            raise TextRefused(f"no control characters{'' if lines else ' or line breaks'} (U+{point:04X})")
    return text
