"""Properties of the one decoder, `protocol.decode_client`, checked with hypothesis.

The protocol has one encoding (msgpack: a text frame is refused with 1003, see docs/protocol.md), so the
round trip is checked in msgpack only; the independent `msgpack` package writes and reads the bytes too.
"""

from __future__ import annotations

import msgpack
import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from gateway import protocol as p
from gateway.errors import BadMessage, UnknownType
from gateway.protocol_base import MAX_VALUES
from tests.fuzz.strategies import CLIENT_TYPES, client_messages

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decode_or_refusal(data: bytes) -> p.ClientMessage | BadMessage | UnknownType:
    try:
        return p.decode_client(data)
    except (BadMessage, UnknownType) as refusal:
        return refusal


@FAST
@given(st.binary(max_size=512))
def test_any_bytes_decode_to_a_message_or_a_documented_refusal(data: bytes) -> None:
    outcome = decode_or_refusal(data)
    assert isinstance(outcome, (p.ClientMessage, BadMessage, UnknownType))
    if isinstance(outcome, (BadMessage, UnknownType)):
        assert outcome.code in ("bad_message", "unknown_type") and str(outcome)


msgpack_ints = st.integers(-(2**63), 2**64 - 1)
msgpack_values = st.recursive(
    st.none() | st.booleans() | msgpack_ints | st.floats() | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8) | msgpack_ints, inner, max_size=4),
    max_leaves=30,
)


@FAST
@given(st.dictionaries(st.sampled_from(["type", "ref", "user", "protocol", "title", "x"]), msgpack_values))
def test_any_msgpack_map_decodes_to_a_message_or_a_documented_refusal(fields: dict) -> None:
    outcome = decode_or_refusal(msgpack.packb(fields))
    assert isinstance(outcome, (p.ClientMessage, BadMessage, UnknownType))
    ref = fields.get("ref")
    readable = isinstance(ref, int) and not isinstance(ref, bool) and 0 <= ref <= 2**53
    if isinstance(outcome, (BadMessage, UnknownType)) and readable:
        assert outcome.ref == ref, "a refusal carries the ref it could read"


@FAST
@given(st.binary(min_size=1, max_size=8), st.integers(1, 3))
def test_a_str_that_is_not_utf8_is_refused_wherever_it_is(raw: bytes, where: int) -> None:
    try:
        raw.decode("utf-8")
        return  # valid UTF-8 is someone else's case
    except UnicodeDecodeError:
        pass
    fields: dict[bytes, object] = {b"type": b"hello", b"protocol": 1}
    if where == 1:
        fields[b"type"] = raw
    elif where == 2:
        fields[raw] = 1
    else:
        fields[b"note"] = raw
    data = msgpack.packb(fields, use_bin_type=False)  # bytes packed as str, as they are
    assert isinstance(decode_or_refusal(data), BadMessage)


@FAST
@given(st.integers(1, 200), st.sampled_from([b"\x91", b"\x81\xa1k", b"\xdc\x00\x01"]))
def test_nesting_is_refused_exactly_past_the_limit(levels: int, container: bytes) -> None:
    data = b"\x83\xa4type\xa5hello\xa8protocol\x01\xa1x" + container * levels + b"\xc0"
    outcome = decode_or_refusal(data)
    if levels + 1 <= p.MAX_NESTING:  # the message's own map is level 1
        assert isinstance(outcome, p.Hello)
    else:
        assert isinstance(outcome, BadMessage) and "nest" in str(outcome)


@FAST
@given(st.integers(0, 1_200))
@example(1_017)  # exactly 1,024 values: accepted
@example(1_018)
def test_values_are_refused_exactly_past_the_limit(items: int) -> None:
    """The map (1 value), 3 keys and their values (6, the array one of them), and the array's `items` nils."""
    data = b"\x83\xa4type\xa5hello\xa8protocol\x01\xa1x\xdd" + items.to_bytes(4, "big") + b"\xc0" * items
    outcome = decode_or_refusal(data)
    if 7 + items <= MAX_VALUES:
        assert isinstance(outcome, p.Hello)
    else:
        assert isinstance(outcome, BadMessage) and "values" in str(outcome)


@pytest.mark.parametrize("kind", CLIENT_TYPES, ids=[t.tag for t in CLIENT_TYPES])
def test_every_client_message_round_trips(kind: object) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(client_messages(kind))  # type: ignore[arg-type]
    def round_trip(message: msgspec.Struct) -> None:
        data = p.encode(message)
        assert p.decode_client(data) == message
        # The independent msgpack package reads the same map, and its bytes decode to the same message.
        assert p.decode_client(msgpack.packb(msgpack.unpackb(data, raw=False))) == message

    round_trip()
