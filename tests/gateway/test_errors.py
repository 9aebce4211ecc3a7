"""Every error class has its own published wire code, and the docs list every code."""

from __future__ import annotations

from pathlib import Path

import store
from actors.space import errors as space_errors
from gateway import errors as gateway_errors
from gateway.errors import ERROR_CODES, SHARED_CODES, CloseCode, code_of
from gateway.protocol import CLIENT_TYPES, ServerUnion

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


def all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *all_subclasses(sub)}
    return found


def test_every_error_class_is_mapped_to_its_own_code() -> None:
    classes = (
        all_subclasses(space_errors.SpaceError)
        | all_subclasses(gateway_errors.GatewayError)
        | all_subclasses(store.StoreError)
    )
    unmapped = {c.__name__ for c in classes if c not in ERROR_CODES}
    assert not unmapped, f"add these to gateway/errors.py: {unmapped}"
    for cls, code in ERROR_CODES.items():
        assert cls.code == code, f"{cls.__name__}.code is {cls.code!r} but the wire table says {code!r}"
    codes = [code for code in ERROR_CODES.values() if code not in SHARED_CODES]
    assert len(set(codes)) == len(codes), "two classes share a wire code"


def test_an_unexpected_exception_is_internal() -> None:
    assert code_of(KeyError("x")) == "internal"


def test_protocol_doc_lists_every_error_and_close_code() -> None:
    for code in ERROR_CODES.values():
        assert f"`{code}`" in DOC, f"docs/protocol.md does not document error code {code}"
    for close in CloseCode:
        assert f"| {int(close)} |" in DOC, f"docs/protocol.md does not document close code {int(close)}"


def test_protocol_doc_names_every_message_and_event_type() -> None:
    server_types = {c.__struct_config__.tag for c in ServerUnion.__args__}
    for kind in CLIENT_TYPES | server_types:
        assert f"`{kind}`" in DOC, f"docs/protocol.md does not document message type {kind}"
