"""The recorded conversation: every packet a speaker sends is voiced enough for the server to play it,
turns overlap sometimes and pause sometimes, and nobody talks over themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.run import LoadConfig, scripts
from loadtest.speech import SPEECH, VOICED_DBFS, conversation, level_dbfs, ogg_packets, rotated, sentence, talking
from mixer import Decoder

HOLD_TICKS = 10  # the server's gate keeps a talker this many ticks after its last loud frame
SILENCE_DBFS = -50.0  # the server's default `silence_dbfs`


def test_every_sentence_is_ogg_opus_of_20_ms_packets() -> None:
    for path in sorted(SPEECH.glob("*.opus")):
        packets = ogg_packets(path)
        assert len(packets) > 100, path
        decoder = Decoder()
        assert all(len(decoder.decode(p)) == 960 * 2 for p in packets[:20]), path


def test_a_sentence_starts_and_ends_voiced_and_never_pauses_past_the_gates_hold() -> None:
    for path in sorted(SPEECH.glob("*.opus")):
        decoder = Decoder()
        levels = [level_dbfs(decoder.decode(p)) for p in sentence(path)]
        assert levels[0] >= VOICED_DBFS and levels[-1] >= VOICED_DBFS, path
        quiet = longest = 0
        for level in levels:
            quiet = quiet + 1 if level < SILENCE_DBFS else 0
            longest = max(longest, quiet)
        assert longest < HOLD_TICKS, f"{path}: {longest} quiet packets in a row"


def test_the_conversation_takes_turns_with_overlaps_and_pauses() -> None:
    scripts = conversation()
    plans = [plan for _, plan in scripts]
    assert len(scripts) == 3 and len({len(p) for p in plans}) == 1
    length = len(plans[0])
    at_once = [sum(p[k] >= 0 for p in plans) for k in range(length)]
    assert max(at_once) == 2, "two people overlap at times, never three"
    assert at_once.count(2) > 50 and at_once.count(0) > 10
    assert 0.9 < talking(scripts) < 1.0
    for packets, plan in scripts:
        sent = [i for i in plan if i >= 0]
        assert sent == list(range(len(packets))), "each packet once, in order"


def test_a_phase_rotates_the_loop() -> None:
    base, shifted = conversation(0), conversation(600)
    for (_, a), (_, b) in zip(base, shifted, strict=True):
        assert b == a[600:] + a[:600]


def test_each_space_talks_on_its_own_timing_unless_phases_puts_them_in_lockstep() -> None:
    base = conversation()
    length = len(base[0][1])
    own = scripts(LoadConfig(spaces=8, speech="conversation", levels=False))
    for s, space in enumerate(own):
        for (packets, plan, levels), (want_packets, want_plan) in zip(space, base, strict=True):
            assert packets == want_packets and levels == []
            assert plan == rotated(want_plan, s * length // 8), f"space {s} starts {s}/8 of the loop in"
    grouped = scripts(LoadConfig(spaces=8, speech="conversation", levels=False, phases=2))
    assert [grouped[s][0][1] for s in range(8)] == [own[s % 2 * 4][0][1] for s in range(8)]
    assert grouped[0][0][1] != grouped[1][0][1], "two groups, half a loop apart"
    with pytest.raises(ValueError, match="phases"):
        scripts(LoadConfig(spaces=8, speech="conversation", phases=-1))


def test_a_file_that_is_not_ogg_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "x.opus"
    bad.write_bytes(b"RIFF....WAVE")
    with pytest.raises(ValueError, match="no Ogg page"):
        ogg_packets(bad)
