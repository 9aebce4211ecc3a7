"""What a change of a space writes about its recordings (`RecordingWrite`), read from the states before and
after it: a recording started or stopped, the parts the recorder finished and started, and every consent
given, declined or withdrawn (listeners' too: they are not told to the room, but they are kept with the
recording). Pure: the actor writes the result before anyone is told of the change."""

from __future__ import annotations

from actors.space.events import RecordingChanged, SpaceEvent
from actors.space.persistence import NoteKind, RecordingNote, RecordingWrite
from actors.space.recorder import PartFinished, PartStarted
from actors.space.values import Consent, SpaceState


def recording_write(
    before: SpaceState,
    after: SpaceState,
    events: list[SpaceEvent],
    finished: PartFinished | None,
    started: PartStarted | None,
    now_ms: int,
) -> RecordingWrite:
    old, new = before.live_recording, after.live_recording
    notes: list[RecordingNote] = []
    ended = None
    if old is not None and (new is None or new.recording_id != old.recording_id):
        by = next((e.by for e in events if isinstance(e, RecordingChanged) and not e.on), None)
        notes.append(RecordingNote(old.recording_id, now_ms - old.started_at, "recording_stopped", by))
        ended = (old.recording_id, now_ms)
    created = None
    stated: dict[str, Consent] = {}
    if new is not None and (old is None or old.recording_id != new.recording_id):
        created = new
        notes.append(RecordingNote(new.recording_id, 0, "recording_started", new.by))
    elif old is not None:
        stated = old.consents
    if new is not None and new.consents is not stated:  # unchanged consents are the same dict
        for user, consent in new.consents.items():
            was = stated.get(user)
            if was is consent:
                continue
            kind: NoteKind = (
                "consent_given"
                if consent is Consent.GIVEN
                else "consent_withdrawn"
                if was is Consent.GIVEN
                else "consent_declined"
            )
            notes.append(RecordingNote(new.recording_id, max(0, now_ms - new.started_at), kind, user))
    return RecordingWrite(
        created=created,
        title=after.title,
        host=after.host,
        parts_finished=() if finished is None else (finished,),
        part_started=started,
        notes=tuple(notes),
        ended=ended,
    )
