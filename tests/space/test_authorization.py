"""Every operation against every role: allowed, or refused with its documented code and no change of state.

`MATRIX` is the one table: the test applies each cell to the pure rules, and `docs/authorization.md`
must hold each row exactly as `render` writes it (so the document and the rules cannot drift apart).
Cells decided by the gateway before the space is asked (`hello`, `create_space`, a connection already
in a space, no `hello` yet) are checked by the e2e tests; here they are only compared with the document.

The `guest listener` column is a guest (a server-issued `g-` id, no account) listening in the space: the gateway's
request table (`gateway/requests.py`) refuses it every operation but listening with `account_required`;
those cells are checked against that table and its `dispatch`, the others against the space's rules.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from actors.space import errors
from actors.space.commands import (
    AcceptInvite,
    ApproveRequest,
    DenyRequest,
    EndSpace,
    InviteSpeaker,
    Join,
    Leave,
    LowerHand,
    MuteAll,
    MuteSpeaker,
    PinPost,
    RaiseHand,
    React,
    RemoveParticipant,
    Rule,
    SetConsent,
    SetRecording,
    SetRole,
    SetSpeakerPolicy,
    SharePost,
    UnmuteSpeaker,
    UnpinPost,
)
from actors.space.domain import apply, audio_refusal, new_space, resumable
from actors.space.values import Role, SpaceState, SpeakerPolicy
from gateway import requests
from gateway.errors import AccountRequired
from gateway.protocol import ACCOUNT_TYPES, CLIENT_TYPES, ClientUnion
from tests.space.fakes import NoLink

NOW = 1_700_000_000_000
DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "authorization.md"

COLUMNS = ("host", "co-host", "speaker", "listener", "removed", "outsider", "anonymous", "guest listener")
GUEST = "g-0123456789ab"  # as `gateway/identity.py` issues them
ACTOR = {
    "host": "host",
    "co-host": "co",
    "speaker": "sp",
    "listener": "li",
    "guest listener": GUEST,
    "removed": "gone",
    "outsider": "out",
}
GATEWAY_CODES = {"already_authenticated", "already_in_space", "not_authenticated", "account_required"}
OK = "allowed"
AR = "account_required"


def fixture_space() -> SpaceState:
    """A host, a co-host (co), two speakers (sp, sp2), three listeners (li, li2, hand: hand raised), a guest
    listening (GUEST, shown as "host": a name confers nothing), one post, a removed user (gone); `out` said
    hello but is not in the space."""
    state = new_space("s1", "Matrix", "host", NOW, host_name="host")
    for user in ("co", "sp", "sp2", "li", "li2", "hand", "gone"):
        state, _ = apply(state, Join(user, NoLink()), NOW)
    state, _ = apply(state, Join(GUEST, NoLink(), "host"), NOW)
    state = _all(
        state,
        SetRole("host", "co", Role.COHOST),
        SetRole("host", "sp", Role.SPEAKER),
        SetRole("host", "sp2", Role.SPEAKER),
        RaiseHand("hand"),
        SharePost("host", "the first post"),
        RemoveParticipant("host", "gone"),
    )
    return state


def _all(state: SpaceState, *commands: Rule) -> SpaceState:
    for command in commands:
        state, _ = apply(state, command, NOW)
    return state


def second_cohost(state: SpaceState) -> SpaceState:
    return _all(state, SetRole("host", "sp2", Role.COHOST))


def listener_hand_raised(state: SpaceState) -> SpaceState:
    return _all(state, RaiseHand("li"))


def everyone_muted(state: SpaceState) -> SpaceState:
    return _all(state, MuteSpeaker("host", "host"), MuteAll("host"))


def post_pinned(state: SpaceState) -> SpaceState:
    return _all(state, PinPost("host", 1))


def policy(chosen: SpeakerPolicy) -> Callable[[SpaceState], SpaceState]:
    return lambda state: _all(state, SetSpeakerPolicy("host", chosen))


def recording_on(state: SpaceState) -> SpaceState:
    """The host turned recording on (and so consented to it)."""
    return _all(state, SetRecording("host", True, "r-0123456789abcdef"))


def everyone_invited(state: SpaceState) -> SpaceState:
    """Each column's user holds an invitation to speak (the speaker policy is `invited`)."""
    invitations = [InviteSpeaker("host", user) for user in ACTOR.values()]
    return _all(state, SetSpeakerPolicy("host", SpeakerPolicy.INVITED), *invitations)


@dataclass(frozen=True)
class Row:
    op: str  # as `docs/authorization.md` names it
    cells: tuple[str, ...]  # one per column: "allowed" or an error code
    command: Callable[[str], Rule] | None = None  # None: decided by the gateway alone
    setup: Callable[[SpaceState], SpaceState] | None = None
    audio: bool = False
    resume: bool = False  # decided by `resumable` (a new connection taking back a place), not `apply`


def row(op: str, cells: str, command: Callable[[str], Rule] | None = None, **kw: object) -> Row:
    values = tuple(cells.split())
    assert len(values) == len(COLUMNS), op
    return Row(op, values, command, **kw)  # type: ignore[arg-type]


NIS = "not_in_space not_in_space not_authenticated"
NIS_AR = f"{NIS} {AR}"  # the removed, the outsider, the anonymous, the guest listener
MODS = "allowed allowed not_allowed not_allowed " + NIS_AR
ON_MIC = "allowed allowed allowed not_allowed " + NIS_AR
MEMBERS = "allowed allowed allowed allowed " + NIS_AR
HOST_ONLY = "allowed not_allowed not_allowed not_allowed " + NIS_AR
NONE = "not_allowed not_allowed not_allowed not_allowed " + NIS_AR
LISTENER_ONLY = "not_allowed not_allowed not_allowed allowed " + NIS_AR
MEMBER_CODE = "already_in_space " * 4

MATRIX = [
    row("`hello`", "already_authenticated " * 6 + "allowed already_authenticated"),
    row("`create_space`", MEMBER_CODE + f"allowed allowed not_authenticated {AR}"),
    row(
        "`join_space` (this space)",
        MEMBER_CODE + "removed allowed not_authenticated already_in_space",
        lambda u: Join(u, NoLink()),
    ),
    row("`leave_space`", "allowed " * 4 + NIS + " allowed", Leave),
    row("`end_space`", HOST_ONLY, EndSpace),
    row("`share_post`", MEMBERS, lambda u: SharePost(u, "hi")),
    row("`set_role` a listener to `speaker`", MODS, lambda u: SetRole(u, "li2", Role.SPEAKER)),
    row("`set_role` a speaker to `listener`", MODS, lambda u: SetRole(u, "sp2", Role.LISTENER)),
    row(
        "`set_role` oneself to `listener`",
        "not_allowed allowed allowed not_allowed " + NIS_AR,
        lambda u: SetRole(u, u, Role.LISTENER),
    ),
    row("`set_role` a listener to `cohost`", HOST_ONLY, lambda u: SetRole(u, "li2", Role.COHOST)),
    row(
        "`set_role` another co-host to `listener`",
        HOST_ONLY,
        lambda u: SetRole(u, "sp2", Role.LISTENER),
        setup=second_cohost,
    ),
    row("`set_role` the host", NONE, lambda u: SetRole(u, "host", Role.SPEAKER)),
    row(
        "`set_role` anyone to `host`",
        "bad_argument bad_argument not_allowed not_allowed " + NIS_AR,
        lambda u: SetRole(u, "li2", Role.HOST),
    ),
    row("`raise_hand` (policy `everyone`)", LISTENER_ONLY, RaiseHand),
    row(
        "`raise_hand` (policy `following`) from someone the host follows",
        LISTENER_ONLY,
        lambda u: RaiseHand(u, followed_by_host=True),
        setup=policy(SpeakerPolicy.FOLLOWING),
    ),
    row(
        "`raise_hand` (policy `following`) from someone the host does not follow, or a guest",
        "not_allowed not_allowed not_allowed not_eligible " + NIS_AR,
        RaiseHand,
        setup=policy(SpeakerPolicy.FOLLOWING),
    ),
    row(
        "`raise_hand` (policy `invited`) from someone invited",
        LISTENER_ONLY,
        RaiseHand,
        setup=everyone_invited,
    ),
    row(
        "`raise_hand` (policy `invited`) from someone not invited",
        "not_allowed not_allowed not_allowed not_eligible " + NIS_AR,
        RaiseHand,
        setup=policy(SpeakerPolicy.INVITED),
    ),
    row(
        "`lower_hand`",
        LISTENER_ONLY,
        LowerHand,
        setup=listener_hand_raised,
    ),
    row("`approve_request` a raised hand", MODS, lambda u: ApproveRequest(u, "hand")),
    row(
        "`approve_request` no raised hand",
        "no_such_request no_such_request not_allowed not_allowed " + NIS_AR,
        lambda u: ApproveRequest(u, "li2"),
    ),
    row("`deny_request` a raised hand", MODS, lambda u: DenyRequest(u, "hand")),
    row("`mute` oneself", ON_MIC, lambda u: MuteSpeaker(u, u)),
    row("`mute` a speaker", MODS, lambda u: MuteSpeaker(u, "sp2")),
    row("`mute` the host", HOST_ONLY, lambda u: MuteSpeaker(u, "host")),
    row(
        "`mute` a listener",
        "not_a_speaker not_a_speaker not_allowed not_allowed " + NIS_AR,
        lambda u: MuteSpeaker(u, "li2"),
    ),
    row("`unmute` (oneself, muted)", ON_MIC, UnmuteSpeaker, setup=everyone_muted),
    row("`mute_all`", MODS, MuteAll),
    row("`remove` a listener", MODS, lambda u: RemoveParticipant(u, "li2")),
    row("`remove` a speaker", MODS, lambda u: RemoveParticipant(u, "sp2")),
    row(
        "`remove` another co-host",
        HOST_ONLY,
        lambda u: RemoveParticipant(u, "sp2"),
        setup=second_cohost,
    ),
    row("`remove` the host", NONE, lambda u: RemoveParticipant(u, "host")),
    row("`pin_post`", ON_MIC, lambda u: PinPost(u, 1)),
    row(
        "`pin_post` an unknown post",
        "no_such_post no_such_post no_such_post not_allowed " + NIS_AR,
        lambda u: PinPost(u, 99),
    ),
    row("`unpin_post`", ON_MIC, lambda u: UnpinPost(u, 1), setup=post_pinned),
    row("`react`", MEMBERS, lambda u: React(u, "👏")),
    row("`set_speaker_policy`", HOST_ONLY, lambda u: SetSpeakerPolicy(u, SpeakerPolicy.INVITED)),
    row(
        "`accept_invite` with an invitation",
        LISTENER_ONLY,
        AcceptInvite,
        setup=everyone_invited,
    ),
    row("`accept_invite` without one", "not_allowed not_allowed not_allowed not_invited " + NIS_AR, AcceptInvite),
    row("`set_recording`", MODS, lambda u: SetRecording(u, True, "r-0123456789abcdef")),
    row("`recording_consent` (the space records)", MEMBERS, lambda u: SetConsent(u, False), setup=recording_on),
    row(
        "`recording_consent` (the space does not record)",
        "not_recording " * 4 + NIS_AR,
        lambda u: SetConsent(u, False),
    ),
    row("`audio`", "allowed allowed allowed not_a_speaker " + NIS + " not_a_speaker", audio=True),
    row(
        "`audio` while muted",
        "muted muted muted not_a_speaker " + NIS + " not_a_speaker",
        audio=True,
        setup=everyone_muted,
    ),
    row(
        "`resume` (this space, from a new connection)",
        "allowed allowed allowed allowed removed not_resumable not_authenticated allowed",
        resume=True,
    ),
    row("`get_posts` (any space, live or ended; in it or not)", "allowed " * 6 + "not_authenticated allowed"),
    # WebRTC signalling: decided by the gateway (tests/e2e/test_webrtc.py runs each refusal on a real server)
    row("`rtc_offer` (muted or not)", "allowed allowed allowed not_a_speaker " + NIS_AR),
    row("`rtc_close`", "allowed " * 6 + f"not_authenticated {AR}"),
]


def render(r: Row) -> str:
    return "| " + " | ".join((r.op, *(c if c == OK else f"`{c}`" for c in r.cells))) + " |"


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
