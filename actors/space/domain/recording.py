"""Recording with consent: turning the space's recording on and off, and each person's consent to it.

Only people on the mic are recorded, and each only after consenting (`Recording.consented`): the actor
tells the mixer which inputs are consented, and a speaker who declines or withdraws stays live for the
room while their voice leaves the recording from the next tick.

Consent belongs to one recording: a new recording starts with nobody's, but that of the one who turned
it on (doing so is consenting). A listener may state consent before coming on the mic: it is kept, with
no event (the room is told only of the consent of people on the mic, so nothing here grows with the
audience), and announced when they come on the mic (`follow_membership`). A consent is kept while its owner
stays in the space, on the mic, off it and back on; leaving the space forgets it.
"""

from __future__ import annotations

import msgspec

from actors.space import errors
from actors.space.domain.authority import Result, member_role, replace, require_moderator
from actors.space.events import ConsentChange, RecordingChanged, RecordingConsentChanged, SpaceEvent
from actors.space.values import Consent, Recording, SpaceState


def set_recording(state: SpaceState, by: str, on: bool, recording_id: str, now_ms: int) -> Result:
    """On: a new recording named `recording_id`, with `by`'s consent. Off: the current one is finished.
    Asking for what already is changes nothing."""
    require_moderator(state, by, "turn recording on or off")
    current = state.recording
    if on == (current is not None):
        return state, []
    seq = state.seq + 1
    if current is not None:
        event = RecordingChanged(state.space_id, seq, now_ms, False, current.recording_id, by)
        return replace(state, recording=None, seq=seq), [event]
    if not recording_id.startswith("r-"):
        raise errors.BadArgument("a recording's id is the server's: r-<hex>")
    recording = Recording(recording_id, now_ms, by, {by: Consent.GIVEN})
    events: list[SpaceEvent] = [
        RecordingChanged(state.space_id, seq, now_ms, True, recording_id, by),
        RecordingConsentChanged(state.space_id, seq + 1, now_ms, by, "given"),
    ]
    return replace(state, recording=recording, seq=seq + 1), events


def set_consent(state: SpaceState, user: str, consent: bool, now_ms: int) -> Result:
    """`user` (anyone in the space) consents to the current recording, or declines, or withdraws a consent
    given. Told to the room only while `user` is on the mic."""
    role = member_role(state, user)
    recording = state.recording
    if recording is None:
        raise errors.NotRecording("the space does not record now")
    stated = recording.consents.get(user)
    wanted = Consent.GIVEN if consent else Consent.DECLINED
    if stated is wanted:
        return state, []
    change: ConsentChange = "given" if consent else "withdrawn" if stated is Consent.GIVEN else "declined"
    recording = msgspec.structs.replace(recording, consents={**recording.consents, user: wanted})
    new = replace(state, recording=recording)
    if not role.on_mic:
        return new, []
    seq = state.seq + 1
    return replace(new, seq=seq), [RecordingConsentChanged(state.space_id, seq, now_ms, user, change)]


def follow_membership(before: SpaceState, after: SpaceState, events: list[SpaceEvent], now_ms: int) -> Result:
    """After any rule: forget the consent of people who left the space, and tell the room the consent stated
    earlier by people who just came on the mic (in force from now on)."""
    recording = after.recording
    if recording is None or not recording.consents:
        return after, events
    consents = recording.consents
    if len(after.roles) < len(before.roles):  # someone left or was removed
        consents = {user: c for user, c in consents.items() if user in after.roles}
        after = replace(after, recording=msgspec.structs.replace(recording, consents=consents))
    came = [user for user in after.on_mic if user in consents and user not in before.on_mic]
    if not came:
        return after, events
    seq = after.seq
    events = list(events)
    for user in came:
        seq += 1
        stated: ConsentChange = "given" if consents[user] is Consent.GIVEN else "declined"
        events.append(RecordingConsentChanged(after.space_id, seq, now_ms, user, stated))
    return replace(after, seq=seq), events
