"""Every operation against every role: allowed, or refused with its documented code and no change of state.

`MATRIX` (`tests/space/authorization_matrix.py`) is the one table: the test applies each cell to the pure
rules, and `docs/authorization.md` must hold each row exactly as `render` writes it (so the document and the
rules cannot drift apart).
Cells decided by the gateway before the space is asked (`hello`, `create_space`, a connection already
in a space, no `hello` yet) are checked by the e2e tests; here they are only compared with the document.

The `guest listener` column is a guest (a server-issued `g-` id, no account) listening in the space: the gateway's
request table (`gateway/requests.py`) refuses it every operation but listening with `account_required`;
those cells are checked against that table and its `dispatch`, the others against the space's rules.
"""

from __future__ import annotations

import copy

import msgspec
import pytest

from actors.space import errors
from actors.space.domain import apply, audio_refusal, resumable
from actors.space.values import Role
from gateway import requests
from gateway.errors import AccountRequired
from gateway.protocol import ACCOUNT_TYPES, CLIENT_TYPES, ClientUnion
from tests.space.authorization_matrix import (
    ACTOR,
    AR,
    COLUMNS,
    DOC_PATH,
    GATEWAY_CODES,
    GUEST,
    MATRIX,
    NOW,
    OK,
    Row,
    fixture_space,
    render,
)

CASES = [
    pytest.param(r, column, id=f"{r.op.replace('`', '')} by {column}")
    for r in MATRIX
    for column in COLUMNS
    if column != "anonymous"  # no hello, so never a space's business
    if (r.command is not None or r.audio or r.resume) and r.cells[COLUMNS.index(column)] not in GATEWAY_CODES
]


@pytest.mark.parametrize(("r", "column"), CASES)
def test_each_role_is_allowed_or_refused_with_the_documented_code(r: Row, column: str) -> None:
    state = (r.setup or (lambda s: s))(fixture_space())
    before = copy.deepcopy(state)
    actor = ACTOR[column]
    expected = r.cells[COLUMNS.index(column)]
    if r.audio:
        refusal = audio_refusal(state, actor)
        assert (refusal.code if refusal else OK) == expected
        return
    if r.resume:
        try:
            assert resumable(state, actor), "a kept place is resumed, not joined anew"
            outcome = OK
        except errors.SpaceError as refused:
            outcome = refused.code
        assert outcome == expected
        return
    assert r.command is not None
    if expected == OK:
        new, events = apply(state, r.command(actor), NOW)
        assert new != state, "an allowed operation changes the space"
        assert all(e.seq == state.seq + i + 1 for i, e in enumerate(events))
    else:
        with pytest.raises(errors.SpaceError) as refused:
            apply(state, r.command(actor), NOW)
        assert refused.value.code == expected
        assert state == before and msgspec.structs.asdict(state) == msgspec.structs.asdict(before)


MESSAGE_TYPES = {c.__struct_config__.tag: c for c in ClientUnion.__args__}
SAMPLE_FIELDS: dict[str, object] = {
    "ref": 1,
    "protocol": 2,
    "name": "Sam",
    "title": "A title",
    "space_id": "s1",
    "user": "li2",
    "role": "speaker",
    "text": "hi",
    "post_id": 1,
    "emoji": "👏",
    "policy": "invited",
    "last_seq": 1,
    "sdp": "v=0",
    "on": True,
    "consent": True,
}


class GuestCaller:
    """A guest connection as the request table sees it: an id, no account, listening in a space. It has no
    services: a request the table let through would fail on them instead of being refused."""

    user = GUEST
    name = "host"
    account = None
    token = None
    address = "127.0.0.1"
    space = object()
    role = Role.LISTENER
    services = None


def sample_message(op: str) -> msgspec.Struct:
    kind = MESSAGE_TYPES[op.split("`")[1]]
    fields = {f.encode_name: SAMPLE_FIELDS[f.encode_name] for f in msgspec.structs.fields(kind) if f.required}
    return msgspec.convert({"type": kind.__struct_config__.tag, **fields}, ClientUnion)


@pytest.mark.parametrize("r", [r for r in MATRIX if not r.audio], ids=lambda r: r.op.replace("`", ""))
async def test_the_request_table_refuses_a_guest_exactly_the_account_only_operations(r: Row) -> None:
    guest_cell = r.cells[COLUMNS.index("guest listener")]
    message = sample_message(r.op)
    route = requests.ROUTES[type(message)]
    assert (route.who is requests.Who.ACCOUNT) == (guest_cell == AR), r.op
    if guest_cell == AR:
        with pytest.raises(AccountRequired):
            await requests.dispatch(GuestCaller(), message)  # type: ignore[arg-type]


def test_every_account_only_request_is_refused_to_a_guest_in_one_of_the_two_tables() -> None:
    """Whatever the table says an account may send and a guest may not, some row says `account_required`."""
    routes = requests.ROUTES.items()
    account_only = {m.__struct_config__.tag for m, route in routes if route.who is requests.Who.ACCOUNT}
    space_ops = {r.op.split("`")[1] for r in MATRIX if r.cells[COLUMNS.index("guest listener")] == AR}
    assert space_ops == account_only - ACCOUNT_TYPES
    assert {"create_space", "share_post", "raise_hand", "react", "set_role", "remove"} <= space_ops


def test_the_document_holds_exactly_this_table() -> None:
    doc = DOC_PATH.read_text()
    header = "| operation | " + " | ".join(COLUMNS) + " |"
    assert header in doc
    for r in MATRIX:
        assert render(r) in doc, f"docs/authorization.md lacks or differs on:\n{render(r)}"
    space_table = doc.split(header, 1)[1].split("\n\n", 1)[0]  # account operations have their own table
    table_rows = [line for line in space_table.splitlines() if line.startswith("| `")]
    assert len(table_rows) == len(MATRIX), "docs/authorization.md has rows the test does not check"


def test_the_table_covers_every_client_operation() -> None:
    named = {r.op.split("`")[1] for r in MATRIX}
    assert named == set(CLIENT_TYPES) - ACCOUNT_TYPES  # tests/gateway/test_account_table.py checks those


if __name__ == "__main__":  # prints the table for docs/authorization.md
    print("| operation | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for r in MATRIX:
        print(render(r))
