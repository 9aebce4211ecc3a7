"""The Rust wire's `audio` reader (`mixer.parse_audio`, the code the reader thread runs) agrees with the gateway's
decoder: whatever it takes as audio, `decode_client` decodes to the same `SendAudio`; whatever else, it leaves to
Python, which then decodes or refuses it (`bad_message`) as before. The encodings are the independent `msgpack`
package's."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, strategies as st

from gateway import protocol as p
from gateway.protocol_base import BadMessage
from mixer import MAX_PACKET_BYTES, parse_audio

U63 = st.integers(0, 2**63 - 1)
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(), st.text(max_size=8),
                   st.binary(max_size=40))  # fmt: skip


def test_the_wire_takes_exactly_what_the_protocol_allows_for_opus() -> None:
    assert p.MAX_OPUS_BYTES == MAX_PACKET_BYTES
    message = {"type": "audio", "seq": 1, "captured_at": 2, "opus": b"x" * p.MAX_OPUS_BYTES}
    assert parse_audio(msgpack.packb(message)) == (1, 2, b"x" * p.MAX_OPUS_BYTES, None)
    message["opus"] = b"x" * (p.MAX_OPUS_BYTES + 1)
    assert parse_audio(msgpack.packb(message)) is None  # Python refuses it: bad_message


KEYS = ["type", "seq", "captured_at", "opus", "level"]
LEVELS = st.one_of(st.none(), st.integers(0, p.MAX_AUDIO_LEVEL))


@given(U63, U63, st.binary(min_size=1, max_size=p.MAX_OPUS_BYTES), LEVELS, st.booleans(), st.permutations(KEYS))
def test_every_valid_audio_message_is_taken_by_the_wire_as_the_gateway_reads_it(
    seq: int, captured_at: int, opus: bytes, level: int | None, nil: bool, order: list[str]
) -> None:
    fields = {"type": "audio", "seq": seq, "captured_at": captured_at, "opus": opus, "level": level}
    if level is None and not nil:
        order.remove("level")  # no level: the key absent, or nil
    data = msgpack.packb({key: fields[key] for key in order})
    assert parse_audio(data) == (seq, captured_at, opus, level)
    assert p.decode_client(data) == p.SendAudio(seq=seq, captured_at=captured_at, opus=opus, level=level)


def test_a_level_out_of_range_is_left_to_python_which_refuses_it() -> None:
    for level in (-1, p.MAX_AUDIO_LEVEL + 1, 1.5, "40", True):
        data = msgpack.packb({"type": "audio", "seq": 1, "captured_at": 2, "opus": b"x", "level": level})
        assert parse_audio(data) is None, level
        with pytest.raises(BadMessage):
            p.decode_client(data)


FIELDS = ["type", "seq", "captured_at", "opus", "level", "ref", "x"]


@given(st.dictionaries(st.sampled_from(FIELDS), VALUES | U63, max_size=7))
def test_a_map_the_wire_takes_as_audio_is_that_audio_to_the_gateway(fields: dict) -> None:
    if "type" in fields and fields["type"] is not None:
        fields["type"] = "audio"
    data = msgpack.packb(fields)
    taken = parse_audio(data)
    if taken is not None:
        seq, captured_at, opus, level = taken
        assert p.decode_client(data) == p.SendAudio(seq=seq, captured_at=captured_at, opus=opus, level=level)


@given(st.binary(max_size=64))
def test_any_bytes_the_wire_takes_as_audio_decode_to_that_audio(data: bytes) -> None:
    taken = parse_audio(data)
    if taken is not None:
        seq, captured_at, opus, level = taken
        assert p.decode_client(data) == p.SendAudio(seq=seq, captured_at=captured_at, opus=opus, level=level)
