"""The client's reading of server WebSocket frames (unmasked, unfragmented), sans-IO: shared by the tests that
read real sockets written by the Rust fan-out."""

from __future__ import annotations

import struct

# Header size before the payload, by the 7-bit length field: 126 is a 16-bit length, 127 a 64-bit one.
_EXTENDED = {126: (4, "!H"), 127: (10, "!Q")}


def take_frame(buffer: bytearray) -> tuple[int, bytes] | None:
    """The first complete frame in `buffer` as (first header byte, payload), removed from it; None (and
    `buffer` untouched) until the whole frame is there."""
    if len(buffer) < 2:
        return None
    second = buffer[1]
    assert second & 0x80 == 0, "server frames are not masked"
    short = second & 0x7F
    start, fmt = _EXTENDED.get(short, (2, ""))
    if len(buffer) < start:
        return None
    (length,) = struct.unpack(fmt, buffer[2:start]) if fmt else (short,)
    if len(buffer) < start + length:
        return None
    frame = buffer[0], bytes(buffer[start : start + length])
    del buffer[: start + length]
    return frame
