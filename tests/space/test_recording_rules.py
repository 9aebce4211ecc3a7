"""Recording with consent, as pure rules (`actors/space/domain/recording.py`): who turns recording on and off,
consent given, declined and withdrawn, told to the room only for people on the mic, kept off the mic and
back, forgotten on leaving, asked anew for each recording; and what each change writes to the store
(`recording_log.py`) and shows in the snapshot."""

from __future__ import annotations

import pytest

from actors.space import errors
from actors.space.commands import EndSpace, Join, Leave, SetConsent, SetRecording, SetRole
from actors.space.domain import apply, new_space
from actors.space.events import RecordingChanged, RecordingConsentChanged, RoleChanged, SpaceEvent
from actors.space.recording_log import recording_write
from actors.space.values import Consent, Role, SpaceState
from gateway.protocol_spaces import snapshot_of
from tests.space.fakes import NoLink

NOW = 1_700_000_000_000
R1, R2 = "r-00000000000000a1", "r-00000000000000a2"


def space(*listeners: str, speakers: tuple[str, ...] = ()) -> SpaceState:
    state = new_space("s1", "Recorded", "host", NOW, host_name="host")
    for user in (*listeners, *speakers):
        state, _ = apply(state, Join(user, NoLink()), NOW)
    for user in speakers:
        state, _ = apply(state, SetRole("host", user, Role.SPEAKER), NOW)
    return state


def run(state: SpaceState, *commands: object) -> tuple[SpaceState, list[SpaceEvent]]:
    events: list[SpaceEvent] = []
    for command in commands:
        state, new = apply(state, command, NOW + 1000)  # type: ignore[arg-type]
        events += new
    return state, events


def consents(events: list[SpaceEvent]) -> list[tuple[str, str]]:
    return [(e.user, e.consent) for e in events if isinstance(e, RecordingConsentChanged)]


def test_turning_recording_on_is_told_to_everyone_and_is_the_turners_own_consent() -> None:
    state, events = run(space("li"), SetRecording("host", True, R1))
    on, consent = events
    assert isinstance(on, RecordingChanged) and (on.on, on.recording_id, on.by) == (True, R1, "host")
    assert isinstance(consent, RecordingConsentChanged) and (consent.user, consent.consent) == ("host", "given")
    assert [e.seq for e in events] == [state.seq - 1, state.seq]
    assert state.recording is not None and state.recording.consented("host")
    assert state.recording.started_at == NOW + 1000 and state.recording.by == "host"


def test_asking_for_what_already_is_changes_nothing() -> None:
    state, _ = run(space(), SetRecording("host", True, R1))
    assert apply(state, SetRecording("host", True, R2), NOW) == (state, [])
    off, events = run(state, SetRecording("host", False))
    (changed,) = events
    assert isinstance(changed, RecordingChanged) and (changed.on, changed.recording_id) == (False, R1)
    assert off.recording is None and apply(off, SetRecording("host", False), NOW) == (off, [])


def test_a_recording_id_is_the_servers() -> None:
    with pytest.raises(errors.BadArgument):
        apply(space(), SetRecording("host", True, "../../etc"), NOW)


def test_consent_given_declined_and_withdrawn_by_someone_on_the_mic_is_told_each_time() -> None:
    state, _ = run(space(speakers=("sp",)), SetRecording("host", True, R1))
    state, events = run(
        state,
        SetConsent("sp", False),  # declined
        SetConsent("sp", False),  # again: nothing
        SetConsent("sp", True),  # given
        SetConsent("sp", True),  # again: nothing
        SetConsent("sp", False),  # withdrawn
    )
    assert consents(events) == [("sp", "declined"), ("sp", "given"), ("sp", "withdrawn")]
    assert state.recording is not None and state.recording.consents["sp"] is Consent.DECLINED


def test_a_listeners_consent_is_kept_unannounced_until_they_come_on_the_mic_and_kept_off_it_and_back() -> None:
    state, _ = run(space("li"), SetRecording("host", True, R1))
    state, events = run(state, SetConsent("li", True))
    assert events == [] and state.recording is not None and state.recording.consented("li")
    state, events = run(state, SetRole("host", "li", Role.SPEAKER))
    role, told = events
    assert isinstance(role, RoleChanged) and consents([told]) == [("li", "given")] and told.seq == role.seq + 1
    state, events = run(state, SetRole("host", "li", Role.LISTENER), SetRole("host", "li", Role.SPEAKER))
    assert consents(events) == [("li", "given")], "back on the mic with the consent stated before"


def test_leaving_the_space_forgets_a_consent_and_a_new_recording_asks_everyone_again() -> None:
    state, _ = run(space("li", speakers=("sp",)), SetRecording("host", True, R1), SetConsent("sp", True))
    state, _ = run(state, SetConsent("li", True), Leave("li"), Join("li", NoLink()))
    assert state.recording is not None and "li" not in state.recording.consents
    state, events = run(state, SetRecording("host", False), SetRecording("host", True, R2))
    assert state.recording is not None and state.recording.recording_id == R2
    assert state.recording.consents == {"host": Consent.GIVEN}, "consent is per recording"
    assert consents(events) == [("host", "given")]


def test_consent_without_a_recording_is_refused() -> None:
    with pytest.raises(errors.NotRecording):
        apply(space("li"), SetConsent("li", True), NOW)


def test_the_snapshot_shows_the_recording_and_the_consent_of_people_on_the_mic_only() -> None:
    state = space("li", speakers=("sp",))
    assert snapshot_of(state).recording is None
    state, _ = run(state, SetRecording("host", True, R1), SetConsent("sp", False), SetConsent("li", True))
    shown = snapshot_of(state).recording
    assert shown is not None and shown.recording_id == R1 and shown.since == (NOW + 1000) / 1000
    assert shown.consents == {"host": Consent.GIVEN, "sp": Consent.DECLINED}
    ended, _ = run(state, EndSpace("host"))
    assert snapshot_of(ended).recording is None and ended.live_recording is None


def test_each_change_writes_its_recording_its_consents_listeners_too_and_its_end() -> None:
    before = space("li", speakers=("sp",))
    on, events = run(before, SetRecording("host", True, R1))
    write = recording_write(before, on, events, None, None, NOW + 1000)
    assert write.created is not None and write.created.recording_id == R1 and write.title == "Recorded"
    assert [(n.kind, n.user, n.at_ms) for n in write.notes] == [
        ("recording_started", "host", 0),
        ("consent_given", "host", 0),
    ]
    consented, events = run(on, SetConsent("li", True), SetConsent("sp", False))
    write = recording_write(on, consented, events, None, None, NOW + 3000)
    assert write.created is None
    assert [(n.kind, n.user, n.at_ms) for n in write.notes] == [
        ("consent_given", "li", 2000),
        ("consent_declined", "sp", 2000),
    ]
    withdrawn, events = run(consented, SetConsent("li", False))
    assert [(n.kind, n.user) for n in recording_write(consented, withdrawn, events, None, None, NOW).notes] == [
        ("consent_withdrawn", "li")
    ]
    unchanged, events = run(withdrawn, SetRole("host", "li", Role.SPEAKER))
    assert not recording_write(withdrawn, unchanged, events, None, None, NOW), "nothing to write"
    off, events = run(unchanged, SetRecording("host", False))
    write = recording_write(unchanged, off, events, None, None, NOW + 9000)
    assert [(n.kind, n.user) for n in write.notes] == [("recording_stopped", "host")]
    assert write.ended == (R1, NOW + 9000)
    ended, events = run(unchanged, EndSpace("host"))
    write = recording_write(unchanged, ended, events, None, None, NOW + 9000)
    assert [(n.kind, n.user) for n in write.notes] == [("recording_stopped", None)], "the end stops it"
