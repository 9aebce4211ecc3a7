"""Write the generated seeds of the fuzz corpus: `python -m tests.fuzz.seeds`.

One smallest valid message of every client type (found by hypothesis from the protocol's own types), for the
byte-level target, and the same messages in each session scenario; and a few stories, sequences of requests
that succeed, so that the fuzzer starts from deep states (an account, posts, pins, hands, an invitation).
Seeds named `crash-*` are inputs that once broke the server; they are kept by hand, never rewritten here.
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
from hypothesis import find

from actors.space import SpeakerPolicy
from gateway import protocol as p
from mixer import Encoder
from tests.fuzz.harness import SCENARIOS, join
from tests.fuzz.strategies import CLIENT_TYPES, client_messages

CORPUS = Path(__file__).resolve().parent / "corpus"


def smallest_messages() -> dict[str, bytes]:
    return {kind.tag: p.encode(find(client_messages(kind), lambda _: True)) for kind in CLIENT_TYPES}


def stories() -> dict[str, tuple[str, list[msgspec.Struct]]]:
    silence = Encoder(bitrate=32000, complexity=5).encode(bytes(1920))
    return {
        "host-posts-pins-reactions": (
            "host",
            [
                p.SharePost(ref=1, text="hello"),
                p.PinPost(ref=2, post_id=1),
                p.React(ref=3, emoji="👏"),
                p.UnpinPost(ref=4, post_id=1),
                p.SendAudio(seq=1, captured_at=1, opus=silence),
                p.Mute(ref=5, user="u1"),  # the account the harness signs in (its first)
                p.Unmute(ref=6),
                p.SetSpeakerPolicy(ref=7, policy=SpeakerPolicy.INVITED),
                p.MuteAll(ref=8),
                p.EndSpace(ref=9),
            ],
        ),
        "listener-hands-and-leaving": (
            "listener",
            [
                p.RaiseHand(ref=1),
                p.LowerHand(ref=2),
                p.SendAudio(seq=1, captured_at=1, opus=silence),
                p.AcceptInvite(ref=3),
                p.LeaveSpace(ref=4),
                p.JoinSpace(ref=5, space_id="nope"),
                p.Resume(ref=6, space_id="nope", last_seq=1),
            ],
        ),
        "guest-becomes-an-account": (
            "guest",
            [
                p.Register(ref=1, handle="ada", password="correct horse battery", display_name="Ada"),
                p.Register(ref=2, handle="bob", password="correct horse battery", display_name="Bob"),
                p.LogIn(ref=3, handle="ada", password="correct horse battery"),
                p.Follow(ref=4, handle="bob"),
                p.SendDm(ref=5, to="bob", text="hi"),
                p.GetInbox(ref=6),
                p.MarkRead(ref=7, up_to_id=1),
                p.ScheduleSpace(ref=8, title="Later", starts_at=int(time.time() * 1000) + 86_400_000),
                p.SetReminder(ref=9, scheduled_id=1),
                p.ListSpaces(ref=10, kind="upcoming"),
                p.SearchSpaces(ref=11, query="Later"),
                p.StartScheduled(ref=12, scheduled_id=1),
                p.InviteSpeaker(ref=13, handle="bob"),
                p.Block(ref=14, handle="bob"),
                p.SetProtected(ref=15, protected=True),
                p.LogOut(ref=16),
            ],
        ),
    }


def main() -> None:
    messages = smallest_messages()
    for folder in ("decode", "session"):
        (CORPUS / folder).mkdir(parents=True, exist_ok=True)
        for old in (CORPUS / folder).glob("type-*"):
            old.unlink()
    for tag, data in messages.items():
        (CORPUS / "decode" / f"type-{tag}").write_bytes(data)
        for scenario in SCENARIOS:
            (CORPUS / "session" / f"type-{scenario}-{tag}").write_bytes(join(scenario, [data]))
    for old in (CORPUS / "session").glob("story-*"):
        old.unlink()
    for name, (scenario, story) in stories().items():
        (CORPUS / "session" / f"story-{name}").write_bytes(join(scenario, [p.encode(m) for m in story]))


if __name__ == "__main__":
    main()
