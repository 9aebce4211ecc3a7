"""The Python client takes every server message that answers a request (every one with a `ref`) as a reply:
one it did not know would leave the request waiting for good (as `recordings` once did)."""

from __future__ import annotations

import msgspec
import stoa_protocol as p
from stoa_client._connection import REPLIES


def test_every_server_message_with_a_ref_is_a_reply_to_the_client() -> None:
    answers = {m for m in p.ServerUnion.__args__ if "ref" in {f.name for f in msgspec.structs.fields(m)}}
    assert p.Recordings in answers and p.Lagging not in answers  # the check sees both kinds
    assert answers - set(REPLIES) == set()
