"""The space's rules as pure functions: each command's events, and each refusal leaving the state unchanged."""

from __future__ import annotations

import pytest

from actors.space import errors
from actors.space.commands import (
    ApproveRequest,
    EndSpace,
    Join,
    Leave,
    MuteAll,
    MuteSpeaker,
    PinPost,
    RaiseHand,
    React,
    RemoveParticipant,
    SetRole,
    SharePost,
)
from actors.space.domain import announce_audience, apply, new_space
from actors.space.events import (
    AudienceChanged,
    HandLowered,
    HandRaised,
    MuteChanged,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantRemoved,
    PostPinned,
    PostShared,
    PostUnpinned,
    Reacted,
    RoleChanged,
    SpaceEnded,
)
from actors.space.values import MAX_COHOSTS, MAX_SPEAKERS, Person, Role, SpaceState, SpaceStatus, new_space_id
from tests.space.fakes import NoLink

NOW = 1_700_000_000_000


def space_with(*listeners: str) -> SpaceState:
    state = new_space("s1", "A title", "host", NOW)
    for user in listeners:
        state, _ = apply(state, Join(user, NoLink()), NOW)
    return state


def test_a_new_space_has_its_host_on_the_mic_at_event_one() -> None:
    state = new_space("s1", "  Title  ", "host", NOW)
    assert state.title == "Title" and state.seq == 1 and state.role_of("host") is Role.HOST


def test_space_ids_are_letters_and_digits_so_a_terminal_never_reads_one_as_an_option() -> None:
    ids = [new_space_id() for _ in range(2000)]  # a url-safe token began with "-" one time in 64
    assert all(len(i) == 12 and i.isascii() and i.isalnum() for i in ids)
    assert len(set(ids)) == len(ids)


def test_events_are_numbered_consecutively_from_the_start() -> None:
    state = space_with("a")  # a's arrival is pending, not yet announced
    state, (arrivals,) = announce_audience(state, NOW)
    state, (role,) = apply(state, SetRole("host", "a", Role.SPEAKER), NOW)
    state, (post,) = apply(state, SharePost("a", "hi"), NOW)
    state, (left,) = apply(state, Leave("a"), NOW)
    state, (ended,) = apply(state, EndSpace("host"), NOW)
    events = (arrivals, role, post, left, ended)
    assert [type(e) for e in events] == [AudienceChanged, RoleChanged, PostShared, ParticipantLeft, SpaceEnded]
    assert [e.seq for e in events] == [2, 3, 4, 5, 6] and state.seq == 6
    assert state.status is SpaceStatus.ENDED


def test_listeners_coming_and_going_are_announced_together_with_exact_counts() -> None:
    state = space_with(*[f"u{i}" for i in range(30)])
    state, _ = apply(state, Leave("u3"), NOW)
    state, (event,) = announce_audience(state, NOW)
    assert isinstance(event, AudienceChanged)
    assert (event.arrived_count, event.departed_count, event.listener_count) == (30, 1, 29)
    # The first 20 arrivals are named, but u3, gone again (named as departed: the net change).
    assert event.arrived == [Person(f"u{i}", f"u{i}") for i in range(20) if i != 3]
    assert event.departed == [Person("u3", "u3")]
    assert announce_audience(state, NOW) == (state, [])  # nothing new: no event


def test_the_names_are_the_net_change_as_the_space_is_when_announced() -> None:
    """A client that adds `arrived` and drops `departed` shows the audience as it is: a newcomer who went on the
    mic or was removed before the event is not named, and one who came and went several times is named once,
    on the side where they ended (found by a black-box tester: ghosts stayed in clients' lists for good)."""
    state = space_with("watcher")
    state, _ = announce_audience(state, NOW)
    state, _ = apply(state, Join("a", NoLink()), NOW)
    state, _ = apply(state, SetRole("host", "a", Role.SPEAKER), NOW)  # on the mic: role_changed says so
    state, _ = apply(state, Join("r", NoLink()), NOW)
    state, _ = apply(state, RemoveParticipant("host", "r"), NOW)  # participant_removed says so
    state, _ = apply(state, Join("n", NoLink()), NOW)
    for _ in range(2):
        state, _ = apply(state, Join("g", NoLink()), NOW)
        state, _ = apply(state, Leave("g"), NOW)
    state, _ = apply(state, Join("g", NoLink()), NOW)  # g ends present
    state, _ = apply(state, Join("w", NoLink()), NOW)
    state, _ = apply(state, Leave("w"), NOW)  # w ends gone
    state, (event,) = announce_audience(state, NOW)
    assert isinstance(event, AudienceChanged)
    assert [p.user for p in event.arrived] == ["n", "g"]
    assert [p.user for p in event.departed] == ["w"]
    assert (event.arrived_count, event.departed_count, event.listener_count) == (7, 3, 3)  # every arrival, departure


def test_the_host_and_speakers_leaving_are_announced_at_once() -> None:
    state, _ = apply(space_with("a"), SetRole("host", "a", Role.SPEAKER), NOW)
    state, (left,) = apply(state, Leave("a"), NOW)
    assert isinstance(left, ParticipantLeft) and left.user == "a" and state.on_mic == ("host",)


def test_joining_again_keeps_the_role_and_emits_nothing() -> None:
    state = space_with("a")
    state, _ = apply(state, SetRole("host", "a", Role.SPEAKER), NOW)
    again, events = apply(state, Join("a", NoLink()), NOW)
    assert events == [] and again.role_of("a") is Role.SPEAKER


def test_the_host_who_rejoins_is_host_again() -> None:
    state, _ = apply(space_with("a"), Leave("host"), NOW)
    state, (event,) = apply(state, Join("host", NoLink()), NOW)
    assert event.role is Role.HOST  # type: ignore[union-attr]


REFUSALS = [
    (SetRole("a", "b", Role.SPEAKER), errors.NotAllowed),  # a listener cannot choose speakers
    (SetRole("host", "host", Role.LISTENER), errors.NotAllowed),  # the host stays host
    (SetRole("host", "a", Role.HOST), errors.BadArgument),
    (SetRole("host", "ghost", Role.SPEAKER), errors.NoSuchParticipant),
    (SharePost("ghost", "hi"), errors.NotInSpace),
    (SharePost("a", " "), errors.BadArgument),
    (SharePost("a", "x" * 1001), errors.BadArgument),
    (Leave("ghost"), errors.NotInSpace),
    (EndSpace("a"), errors.NotAllowed),
]


@pytest.mark.parametrize(("command", "error"), REFUSALS)
def test_refused_commands_raise_their_error(command: object, error: type[errors.SpaceError]) -> None:
    state = space_with("a", "b")
    with pytest.raises(error):
        apply(state, command, NOW)  # type: ignore[arg-type]


def test_at_most_thirteen_people_are_on_the_mic() -> None:
    users = [f"u{i}" for i in range(MAX_SPEAKERS)]
    state = space_with(*users)
    for user in users[: MAX_SPEAKERS - 1]:  # the host is the 13th
        state, _ = apply(state, SetRole("host", user, Role.SPEAKER), NOW)
    assert state.on_mic_count == MAX_SPEAKERS
    with pytest.raises(errors.SpeakerLimit):
        apply(state, SetRole("host", users[-1], Role.SPEAKER), NOW)


def test_nothing_happens_in_an_ended_space() -> None:
    state, _ = apply(space_with("a"), EndSpace("host"), NOW)
    with pytest.raises(errors.SpaceOver):
        apply(state, Join("b", NoLink()), NOW)


@pytest.mark.parametrize("title", ["", "   ", "x" * 101])
def test_a_title_has_one_to_a_hundred_characters(title: str) -> None:
    with pytest.raises(errors.BadArgument):
        new_space("s", title, "host", NOW)


def test_at_most_two_co_hosts_help_the_host() -> None:
    state = space_with("a", "b", "c")
    for user in ("a", "b")[:MAX_COHOSTS]:
        state, _ = apply(state, SetRole("host", user, Role.COHOST), NOW)
    with pytest.raises(errors.CohostLimit):
        apply(state, SetRole("host", "c", Role.COHOST), NOW)


def test_an_approved_request_lowers_the_hand_and_brings_the_listener_on_the_mic() -> None:
    state, _ = apply(space_with("a"), RaiseHand("a"), NOW)
    assert state.hands == ("a",)
    state, (lowered, role) = apply(state, ApproveRequest("host", "a"), NOW)
    assert isinstance(lowered, HandLowered) and lowered.reason == "approved" and lowered.by == "host"
    assert isinstance(role, RoleChanged) and role.role is Role.SPEAKER
    assert state.hands == () and state.on_mic == ("host", "a")


def test_a_raised_hand_goes_down_when_its_listener_leaves() -> None:
    state, _ = apply(space_with("a"), RaiseHand("a"), NOW)
    state, (lowered,) = apply(state, Leave("a"), NOW)
    assert isinstance(lowered, HandLowered) and lowered.reason == "left" and state.hands == ()


def test_a_co_hosts_mute_all_spares_the_host_and_the_co_host() -> None:
    state = space_with("co", "a", "b")
    for user, role in (("co", Role.COHOST), ("a", Role.SPEAKER), ("b", Role.SPEAKER)):
        state, _ = apply(state, SetRole("host", user, role), NOW)
    state, events = apply(state, MuteAll("co"), NOW)
    assert [(e.user, e.muted, e.by) for e in events if isinstance(e, MuteChanged)] == [
        ("a", True, "co"),
        ("b", True, "co"),
    ]
    assert state.muted == ("a", "b")


@pytest.mark.parametrize("by", ["host", "a"], ids=["moved_by_the_host", "left_the_mic"])
def test_a_muted_speaker_moved_back_to_the_audience_is_told_unmuted_after_the_role(by: str) -> None:
    state, _ = apply(space_with("a"), SetRole("host", "a", Role.SPEAKER), NOW)
    state, _ = apply(state, MuteSpeaker("host", "a"), NOW)
    before = state.seq
    state, events = apply(state, SetRole(by, "a", Role.LISTENER), NOW)
    assert state.muted == () and state.on_mic == ("host",)
    assert events == [
        RoleChanged(state.space_id, before + 1, NOW, "a", Role.LISTENER, by, "a"),
        MuteChanged(state.space_id, before + 2, NOW, "a", False, by),
    ]
    assert state.seq == before + 2


def test_an_unmuted_speaker_moved_back_gets_no_mute_changed() -> None:
    """The control: no mute, nothing to clear; and a muted speaker made a co-host stays muted."""
    state, _ = apply(space_with("a", "b"), SetRole("host", "a", Role.SPEAKER), NOW)
    state, _ = apply(state, SetRole("host", "b", Role.SPEAKER), NOW)
    state, _ = apply(state, MuteSpeaker("host", "b"), NOW)
    state, events = apply(state, SetRole("host", "a", Role.LISTENER), NOW)
    assert [type(e) for e in events] == [RoleChanged]
    state, events = apply(state, SetRole("host", "b", Role.COHOST), NOW)
    assert [type(e) for e in events] == [RoleChanged] and state.muted == ("b",)


def test_a_removed_listener_cannot_rejoin() -> None:
    state, _ = apply(space_with("a"), RemoveParticipant("host", "a"), NOW)
    assert state.role_of("a") is None and state.removed == ("a",)
    with pytest.raises(errors.Removed):
        apply(state, Join("a", NoLink()), NOW)


def test_pinning_a_fourth_post_unpins_the_oldest_pin() -> None:
    state = space_with()
    for i in range(4):
        state, _ = apply(state, SharePost("host", f"post {i}"), NOW)
    for post_id in (1, 2, 3):
        state, _ = apply(state, PinPost("host", post_id), NOW)
    state, (unpinned, pinned) = apply(state, PinPost("host", 4), NOW)
    assert isinstance(unpinned, PostUnpinned) and unpinned.post_id == 1
    assert isinstance(pinned, PostPinned) and pinned.post_id == 4 and state.pinned == (2, 3, 4)


def test_a_reaction_is_numbered_but_not_kept() -> None:
    state = space_with("a")
    after, (event,) = apply(state, React("a", "🔥"), NOW)
    assert isinstance(event, Reacted) and event.seq == state.seq + 1
    assert after.timeline == state.timeline and after.seq == state.seq + 1


@pytest.mark.parametrize("emoji", ["", "x", "🦄", "🔥🔥"])
def test_only_listed_emoji_are_reactions(emoji: str) -> None:
    with pytest.raises(errors.BadArgument):
        apply(space_with("a"), React("a", emoji), NOW)


def test_a_name_is_only_a_label_the_id_decides_the_role() -> None:
    """Joining with the host's display name (any casing) as one's name makes a listener, never a host."""
    state = new_space("s1", "A title", "u1", NOW, host_name="Alice")
    state, _ = apply(state, Leave("u1"), NOW)
    for impostor, name in (("g-0123456789ab", "Alice"), ("g-ba9876543210", "ALICE"), ("u2", "alice")):
        state, events = apply(state, Join(impostor, NoLink(), name), NOW)
        assert events == [] and state.role_of(impostor) is Role.LISTENER and state.name_of(impostor) == name
    assert state.host == "u1" and state.name_of("u1") == "Alice" and state.role_of("u1") is None
    state, (back,) = apply(state, Join("u1", NoLink(), "Alice"), NOW)
    assert isinstance(back, ParticipantJoined) and (back.user, back.role, back.name) == ("u1", Role.HOST, "Alice")


def test_events_name_the_people_they_are_about() -> None:
    state = new_space("s1", "A title", "u1", NOW, host_name="Alice")
    state, _ = apply(state, Join("u2", NoLink(), "Bob"), NOW)
    state, (arrived,) = announce_audience(state, NOW)
    assert isinstance(arrived, AudienceChanged) and arrived.arrived == [Person("u2", "Bob")]
    state, (hand,) = apply(state, RaiseHand("u2"), NOW)
    assert isinstance(hand, HandRaised) and (hand.user, hand.name) == ("u2", "Bob")
    state, (_, role) = apply(state, ApproveRequest("u1", "u2"), NOW)
    assert isinstance(role, RoleChanged) and (role.user, role.by, role.name) == ("u2", "u1", "Bob")
    state, (post,) = apply(state, SharePost("u2", "hi"), NOW)
    assert isinstance(post, PostShared) and (post.post.user, post.post.name) == ("u2", "Bob")
    state, (reaction,) = apply(state, React("u2", "🔥"), NOW)
    assert isinstance(reaction, Reacted) and (reaction.user, reaction.name) == ("u2", "Bob")
    state, (removed,) = apply(state, RemoveParticipant("u1", "u2"), NOW)
    assert isinstance(removed, ParticipantRemoved) and (removed.user, removed.by, removed.name) == ("u2", "u1", "Bob")


def test_names_are_kept_only_for_the_people_present_and_the_host() -> None:
    state = new_space("s1", "A title", "u1", NOW, host_name="Alice")
    state, _ = apply(state, Join("g-000000000001", NoLink(), "Sam"), NOW)
    state, _ = announce_audience(state, NOW)
    state, _ = apply(state, Leave("g-000000000001"), NOW)
    state, (event,) = announce_audience(state, NOW)
    assert isinstance(event, AudienceChanged) and event.departed == [Person("g-000000000001", "Sam")]
    state, _ = apply(state, Leave("u1"), NOW)
    assert state.names == {"u1": "Alice"}
