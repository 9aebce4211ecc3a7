"""The authorisation table: every operation against every role, allowed or refused with its code (`MATRIX`),
the space each cell is tried on (`fixture_space`, and a row's `setup`), and each row as `docs/authorization.md`
must hold it (`render`). `test_authorization.py` applies and compares it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
from actors.space.domain import apply, new_space
from actors.space.values import Role, SpaceState, SpeakerPolicy
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
