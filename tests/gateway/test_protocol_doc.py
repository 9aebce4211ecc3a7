"""docs/protocol.md names every field of every message, in both directions, and of the maps inside them:
a client written from the document alone must not meet a field it was never told about."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from actors.space import MixFrame, Participant, Post
from gateway import protocol as p

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()

NESTED = [
    p.SpaceSnapshot,
    p.ActiveRecording,
    p.Limits,
    p.ScheduledSpace,
    p.LiveSpace,
    p.DirectMessage,
    p.InviteLink,
    p.RtcIceServer,
]
NESTED += [MixFrame, Participant, Post, p.RecordingSummary, p.RecordingPart]
STRUCTS = [*p.ClientUnion.__args__, *p.ServerUnion.__args__, *NESTED]


@pytest.mark.parametrize("struct", STRUCTS, ids=lambda t: t.__name__)
def test_every_field_of_every_wire_struct_is_documented(struct: type[msgspec.Struct]) -> None:
    undocumented = [f.encode_name for f in msgspec.structs.fields(struct) if f"`{f.encode_name}`" not in DOC]
    assert not undocumented, f"docs/protocol.md does not mention {struct.__name__}'s fields {undocumented}"
