"""The wire protocol's foundations: limits, field types, and the base classes of client messages.

`_messages.py` assembles the unions from these and from the messages of each concept.
"""

from __future__ import annotations

import math
from typing import Annotated

import msgspec

PROTOCOL_VERSION = 2
MAX_MESSAGE_BYTES = 64 * 1024
MAX_OPUS_BYTES = 1500
MAX_AUDIO_LEVEL = 127
"""RFC 6464's quietest audio level: −127 dBov or below (digital silence)."""
MAX_NESTING = 32
"""Arrays and maps nest at most this deep in a client message (the message's own map is level 1). Every
message type needs 2; the rest is room for fields a newer client adds."""

# \A and \Z, not ^ and $: "$" also matches before a final newline, which let "<handle>\n" pass as a name.
UserName = Annotated[str, msgspec.Meta(pattern=r"\A[A-Za-z0-9_]{1,32}\Z")]
"""A guest's display name: a label, never an identity."""
UserId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
"""A server-issued id: `u<account id>` or `g-<hex>` (see `gateway/identity.py`)."""
Ref = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
U63 = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
I64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
"""The protocol's `int`: msgpack's uint64 above 2^63 - 1 decodes as a Python int, out of the documented range."""
PostId = Annotated[int, msgspec.Meta(ge=1, le=2**53)]
Emoji = Annotated[str, msgspec.Meta(min_length=1, max_length=8)]


def audio_level(pcm: bytes) -> int:
    """The `level` of an `audio` message for one packet's PCM (s16le mono samples): RFC 6464's −dBov of their
    RMS, `round(-20·log10(rms / 32768))`, within 0..127; digital silence is 127. A full-scale square wave is 0,
    a full-scale sine 3."""
    samples = memoryview(pcm).cast("h")
    if not samples:
        return MAX_AUDIO_LEVEL
    energy = sum(s * s for s in samples)
    if energy == 0:
        return MAX_AUDIO_LEVEL
    dbov = 10 * math.log10(energy / (len(samples) * 32768.0 * 32768.0))
    return min(MAX_AUDIO_LEVEL, max(0, round(-dbov)))


class ClientMessage(msgspec.Struct, frozen=True, tag_field="type", forbid_unknown_fields=False):
    """Base of what a client sends. Requests carry `ref`, echoed in the reply (`ok`, `joined` or `error`)."""


# -- client to server -------------------------------------------------------------------------------


class Request(ClientMessage, frozen=True):
    """A client message that expects exactly one reply carrying the same `ref`."""

    ref: Ref


Handle = Annotated[str, msgspec.Meta(max_length=64)]  # an account's handle; its rules are the store's
Token = Annotated[str, msgspec.Meta(max_length=1024)]
Secret = Annotated[str, msgspec.Meta(max_length=1024)]  # a password; its rules are the store's
