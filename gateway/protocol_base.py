"""The server's side of decoding: the protocol layer's refusals, and the checks that come before msgspec.

The wire's foundations (limits, field types, the base classes of client messages) are the protocol
package's (`stoa_protocol`); `gateway/protocol.py` assembles the server's view from both.
"""

from __future__ import annotations

from typing import TypeGuard

import msgspec
from stoa_protocol import MAX_NESTING

MAX_VALUES = 1024
"""Values (every key, value and item, at any depth) a client message may hold: every message type needs
under 50. The walk below stops at it, so that no message, however it is made, costs more than that: 65,000
nils in 64 KiB took 9 ms of the event loop each, within every rate limit."""

# -- refusals of the protocol layer (mapped to wire codes by gateway/errors.py) ----------------------


class GatewayError(Exception):
    """Base of the gateway's own refusals (protocol-level, before a space is involved)."""

    code = "gateway_error"
    ref: int | None = None
    """The refused request's `ref`, when it could be read (for the `error` reply)."""


class BadMessage(GatewayError):
    """Not msgpack, not a map with a known `type`, a field of the wrong type or out of range, a str that is not
    UTF-8, nesting deeper than `MAX_NESTING`, or more than `MAX_VALUES` values."""

    code = "bad_message"


class UnknownType(GatewayError):
    code = "unknown_type"


def check_structure(data: bytes) -> None:
    """Refuse with `BadMessage` msgpack that nests deeper than `MAX_NESTING`, holds more than `MAX_VALUES`
    values, or a str (a key or a value, in any field, known or not) that is not valid UTF-8; leave everything
    else to the decoder.

    The decoder recurses once per level (deep input raises RecursionError) and decodes str with Python's
    UTF-8 codec (UnicodeDecodeError), so this walk comes first and never recurses: one loop over the
    values, a stack of how many items each open array or map still holds, and payloads (str, bin, ext)
    skipped in one step. It costs a few hundred nanoseconds per value; truncated or malformed input simply
    ends the walk, and the decoder then refuses it.
    """
    enclosing: list[int] = []  # values still to read in each enclosing array or map
    left = 1  # values still to read at this level: at first, the message itself
    pos, end = 0, len(data)
    values = 0
    while pos < end:
        if not left:
            if not enclosing:
                return
            left = enclosing.pop()
            continue
        left -= 1
        values += 1
        if values > MAX_VALUES:
            raise BadMessage(f"more than {MAX_VALUES} values in one message")
        lead = data[pos]
        pos += 1
        kind = _KIND[lead]
        if kind == _FIXED:
            pos += _FIXED_SIZE[lead]
            continue
        if kind == _SIZED:  # bin and ext: a big-endian length, then (ext) a type byte, then the payload
            width = _WIDTH[lead]
            pos += width + int.from_bytes(data[pos : pos + width], "big") + (lead >= 0xC7)
            continue
        if kind == _STR:
            width = _WIDTH[lead]
            size = lead & 0x1F if width == 0 else int.from_bytes(data[pos : pos + width], "big")
            pos += width
            try:
                data[pos : pos + size].decode("utf-8")
            except UnicodeDecodeError as e:
                raise BadMessage(f"a str is not valid UTF-8 (byte {pos + e.start})") from None
            pos += size
            continue
        # An array or a map (of `count` key-value pairs).
        width = _WIDTH[lead]
        count = lead & 0x0F if width == 0 else int.from_bytes(data[pos : pos + width], "big")
        pos += width
        if len(enclosing) >= MAX_NESTING:
            raise BadMessage(f"arrays and maps nest deeper than {MAX_NESTING} levels")
        enclosing.append(left)
        left = count * 2 if kind == _MAP else count


# What each lead byte starts (https://github.com/msgpack/msgpack/blob/master/spec.md#formats).
_FIXED, _SIZED, _STR, _ARRAY, _MAP = range(5)
_KIND = [_FIXED] * 256
_FIXED_SIZE = [0] * 256  # bytes after the lead byte: float32/64, uint8-64, int8-64, fixext 1-16 (type + data)
_WIDTH = [0] * 256  # bytes of the length after the lead byte (0: the length is in the lead byte)
for _lead in range(0x80, 0x90):
    _KIND[_lead] = _MAP
for _lead in range(0x90, 0xA0):
    _KIND[_lead] = _ARRAY
for _lead in range(0xA0, 0xC0):
    _KIND[_lead] = _STR
for _lead, _width in ((0xC4, 1), (0xC5, 2), (0xC6, 4), (0xC7, 1), (0xC8, 2), (0xC9, 4)):
    _KIND[_lead], _WIDTH[_lead] = _SIZED, _width
for _lead, _size in zip(range(0xCA, 0xD9), (4, 8, 1, 2, 4, 8, 1, 2, 4, 8, 2, 3, 5, 9, 17), strict=True):
    _FIXED_SIZE[_lead] = _size
for _lead, _width, _kind in ((0xD9, 1, _STR), (0xDA, 2, _STR), (0xDB, 4, _STR)):
    _KIND[_lead], _WIDTH[_lead] = _kind, _width
for _lead, _width, _kind in ((0xDC, 2, _ARRAY), (0xDD, 4, _ARRAY), (0xDE, 2, _MAP), (0xDF, 4, _MAP)):
    _KIND[_lead], _WIDTH[_lead] = _kind, _width


DECODE_FAILURES = (msgspec.DecodeError, ValueError, TypeError, OverflowError, RecursionError)
"""What msgspec may raise on hostile bytes: its own errors (ValidationError among them), UnicodeDecodeError (a
ValueError), and RecursionError; `check_structure` keeps the last two from happening, this makes sure."""


def refusal_of(data: bytes, error: Exception, known_types: frozenset[str]) -> BadMessage | UnknownType:
    """Tell an unknown `type` from other bad input, and recover `ref` for the reply when there is one."""
    try:
        raw = msgspec.msgpack.decode(data)
    except DECODE_FAILURES:
        return BadMessage("not a msgpack message")
    if not isinstance(raw, dict):
        return BadMessage("a message is a msgpack map")
    kind, ref = raw.get("type"), raw.get("ref")
    refusal = (
        UnknownType(f"unknown message type {kind[:40]!r}")
        if isinstance(kind, str) and kind not in known_types
        else BadMessage(str(error))
    )
    if _is_ref(ref):
        refusal.ref = ref
    return refusal


class _RefOnly(msgspec.Struct):
    ref: object = None


_REF_DECODER = msgspec.msgpack.Decoder(_RefOnly)


def ref_of(data: bytes) -> int | None:
    """The `ref` of a message refused before it is decoded (`rate_limited` by its connection's `requests`),
    for the reply; None when it has no valid one or cannot be read. It costs what any message's checks cost
    (`check_structure`, then msgspec skipping every field but `ref`), never a whole decode."""
    try:
        check_structure(data)
        ref = _REF_DECODER.decode(data).ref
    except (BadMessage, *DECODE_FAILURES):
        return None
    return ref if _is_ref(ref) else None


def _is_ref(value: object) -> TypeGuard[int]:
    """Whether `value` is a `ref` (docs/protocol.md: an int, 0 to 2^53)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2**53
