"""The web client in a real browser against a real server, audio included.

A host page speaks through a fake microphone playing a 440 Hz tone; a guest opens the share link and hears
440 Hz (the page's AnalyserNode, after its decoder and jitter buffer, reports it); the guest signs up, raises
a hand, is approved and speaks from a 1,000 Hz file; a third page hears both tones; the host's mute silences
that speaker within a tick of the ack (by the frames' seq, on the third page) and the third page's output
within its jitter buffer's delay plus a tick; removal and the end of the space take effect.
Screenshots of the main screens are taken on the way (see `browser.screenshot`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import ServerProcess
from tests.web.browser import (
    DESKTOP,
    PHONE,
    check_screenshots,
    launch,
    open_page,
    plays,
    probe,
    screenshot,
    sign_up,
    start_space,
    tone_wav,
    wait_for,
)

pytestmark = pytest.mark.serial  # browsers hear each other within deadlines

AUDIO_S = 20.0  # how long a tone may take to be heard (a page's audio starts, the jitter buffer fills)
TONE_DB = -25.0  # a frame "carries" a tone above this level (the tones are written at -8 dBFS)
SILENT_DB = -35.0  # and lacks it below this one (a frame next to a lost packet has some energy everywhere)
PEAK_DB = 12.0  # a tone stands this far above the spectrum beside it (see `tone_1000`)


def dominant(page: Page, hz: int) -> dict[str, Any] | None:
    """The page's probe when `hz` is the strongest frequency it plays (within the analyser's resolution)."""
    p = probe(page)
    return p if p and abs(p["dominantHz"] - hz) < 12 and p["levelDb"] > -40 else None


def watched(page: Page) -> dict[str, list[dict[str, Any]]]:
    """What the page's player watched (`Player.watchTones`): decoded `frames`, `queued` and `output`."""
    found: dict[str, list[dict[str, Any]]] = page.evaluate("stoa.app.player.watched")
    return found


WATCHED = [440, 1000, 850, 1150]
"""The frequencies the third page watches: the two voices, and either side of 1,000 Hz (see `tone_1000`)."""


def tone_1000(levels: list[float]) -> bool:
    """Whether a frame (or 20 ms of output) carries the 1,000 Hz voice: above `SILENT_DB` there, and a peak, at
    least `PEAK_DB` over 850 and 1,150 Hz (which a steady 1,000 Hz tone leaves 30 dB lower, after the window).
    A click (a chunk after a lost packet or a dry buffer, the switch from the mix to the host's own packets)
    puts some energy everywhere, 1,000 Hz included, but no peak there."""
    at, below, above = levels[1], levels[2], levels[3]
    return at > SILENT_DB and at - max(below, above) > PEAK_DB


def mute_check(listener: Page, ack_seq: int) -> None:
    """The listener page (watching `WATCHED`) hears 1000 Hz until the mute whose ack came after frame `ack_seq`,
    and none in any frame from `ack_seq + 2` on, nor at its output once the last frame that carried it has
    played (after the delay the jitter buffer reported for it) plus one tick; the host's 440 Hz throughout."""
    clean_seq = ack_seq + 2
    wait_for(lambda: [f for f in watched(listener)["frames"] if f["seq"] >= clean_seq + 50], 10,
             what="a second of frames after the mute")  # fmt: skip
    seen = watched(listener)
    frames = [f for f in seen["frames"] if ack_seq - 25 < f["seq"] <= clean_seq + 50]
    before = [f for f in frames if f["seq"] <= ack_seq]
    after = [f for f in frames if f["seq"] >= clean_seq]
    # (the half second of frames before the ack is the evidence that she was heard until then: the check can fail)
    assert [f for f in before if tone_1000(f["levels"])], f"1000 Hz not heard before the mute: {before[-3:]}"
    assert after[0]["seq"] <= clean_seq + 2, f"frames after the mute went missing: {after[:3]}"
    late = [(f["seq"] - ack_seq, [round(x) for x in f["levels"]]) for f in after if tone_1000(f["levels"])]
    assert not late, f"1000 Hz in frames after the mute's ack (seq {ack_seq}; ticks after it, dB): {late[:5]}"
    assert [f for f in after if f["levels"][0] > TONE_DB], "the host's 440 Hz went with the mute"

    # The output: the last frame that carried her was queued behind `delayMs` of audio, so it played from then
    # for 20 ms; from its end, plus one tick, the output carries no 1,000 Hz.
    last = max(f["seq"] for f in frames if f["seq"] < clean_seq and tone_1000(f["levels"]))
    queued = next((q for q in seen["queued"] if q["seq"] == last), None)
    assert queued is not None, f"the jitter buffer did not report frame {last}"
    silent_from = queued["at"] + (queued["delayMs"] + 20 + 20) / 1000
    output = [o for o in seen["output"] if queued["at"] - 0.5 <= o["at"] <= silent_from + 0.8]
    assert [o for o in output if o["at"] < queued["at"] and tone_1000(o["levels"])], "no 1000 Hz out before"
    out_after = [o for o in output if o["at"] >= silent_from]
    assert len(out_after) >= 30, f"the page stopped playing: {len(out_after)} windows after the mute"
    loud = [(round((o["at"] - silent_from) * 1000), [round(x) for x in o["levels"]]) for o in out_after
            if tone_1000(o["levels"])]  # fmt: skip
    delay = queued["delayMs"]
    assert not loud, f"1000 Hz at the output after its last frame's delay {delay:.0f} ms + 2 ticks (ms, dB): {loud[:5]}"
    assert [o for o in out_after if o["levels"][0] > TONE_DB], "the host's 440 Hz is not at the output"


def test_host_guest_and_listener_hear_each_other_and_the_host_moderates(served: ServerProcess, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{served.http_port}"
    shots = tmp_path / "screenshots"
    with sync_playwright() as pw:
        host_browser = launch(pw, tone_wav(tmp_path / "a440.wav", 440))
        guest_browser = launch(pw, tone_wav(tmp_path / "a1000.wav", 1000))
        try:
            # The host signs up, starts a space and goes live on the 440 Hz microphone.
            host, host_errors = open_page(host_browser, base + "/")
            sign_up(host, "ada")
            share_link = start_space(
                host, "Morning show", "Coffee, music and what's new this week.", "music, design",
                before_going_live=lambda: screenshot(host, "create-desktop", shots),
            )  # fmt: skip
            assert share_link.startswith(base + "/s/")
            host.get_by_label("Post to the space").fill("Welcome! Raise a hand to join in.")
            host.get_by_role("button", name="Post", exact=True).click()
            expect(host.locator(".posts")).to_contain_text("Welcome! Raise a hand")
            host.get_by_role("button", name="Pin the post by ada").click()
            expect(host.locator(".pins")).to_contain_text("Welcome!")

            # A guest opens the share link and hears the host's 440 Hz.
            guest, guest_errors = open_page(guest_browser, share_link)
            expect(guest.locator("#space-title")).to_have_text("Morning show")
            expect(guest.locator(".account")).to_contain_text("Guest")
            wait_for(lambda: dominant(guest, 440), AUDIO_S, what="the guest to play 440 Hz")
            # (the host's page asked for its ICE servers, `get_rtc_config`, and speaks over WebRTC)
            assert host.evaluate("stoa.app.voice.via") == "webrtc"
            expect(guest.locator(".tile[data-user] .tile-name")).to_contain_text(["ada"])
            expect(guest.locator(".pins")).to_contain_text("Welcome!")

            # The home page lists the live space with its counts (desktop and phone).
            lobby, lobby_errors = open_page(host_browser, base + "/")
            expect(lobby.locator("#live-list")).to_contain_text("Morning show")
            expect(lobby.locator("#live-list")).to_contain_text("@ada")
            screenshot(lobby, "home-desktop", shots)
            lobby.set_viewport_size(PHONE)
            screenshot(lobby, "home-phone", shots)

            # A third page, a guest too, listens from the list.
            lobby.set_viewport_size(DESKTOP)
            lobby.get_by_role("button", name="Listen to Morning show").click()
            expect(lobby.locator("#space-title")).to_have_text("Morning show")
            listener = lobby
            listener.evaluate(f"stoa.app.player.watchTones({WATCHED})")
            wait_for(lambda: plays(listener, 440), AUDIO_S, what="the third page to play 440 Hz")

            # The guest signs up (staying in the space), raises a hand; the host approves; the guest speaks.
            sign_up(guest, "grace")
            expect(guest.locator("#space-title")).to_have_text("Morning show")
            guest.get_by_role("button", name="✋ Request to speak").click()
            expect(host.locator(".requests")).to_contain_text("grace")
            screenshot(host, "space-host-desktop", shots)
            host.set_viewport_size(PHONE)
            screenshot(host, "space-host-phone", shots)
            host.set_viewport_size(DESKTOP)
            host.get_by_role("button", name="Let grace speak").click()
            expect(guest.get_by_role("button", name="🎙 Unmute")).to_be_visible()
            guest.get_by_role("button", name="🎙 Unmute").click()
            expect(guest.get_by_role("button", name="🎙 Mute")).to_be_visible()
            wait_for(lambda: guest.evaluate("stoa.app.voice.via") == "webrtc", 15, what="the guest on WebRTC")
            wait_for(lambda: plays(listener, 1000, (440,)) or None, AUDIO_S, what="the third page to hear 1000 Hz")
            both = wait_for(
                lambda: (lambda p: p if min(p["at"]["440"], p["at"]["1000"]) > TONE_DB else None)(probe(listener)),
                AUDIO_S,
                what="both tones on the third page",
            )
            assert both["levelDb"] > -30, both
            # The guest, on the mic, hears the host (its mix-minus), not itself.
            wait_for(lambda: plays(guest, 440), AUDIO_S, what="the speaker to hear the host")
            expect(listener.locator(".tile .tile-name")).to_contain_text(["ada", "grace"])
            listener.set_viewport_size(PHONE)
            screenshot(listener, "space-listener-phone", shots)
            listener.set_viewport_size(DESKTOP)
            screenshot(guest, "space-speaker-desktop", shots)

            # The host mutes the speaker. The server stops her voice within one tick of the ack, by the frames' seq:
            # the host page notes the last frame it had read when the ack came (its connection carries frames and
            # replies in the order the server queued them), and the third page decodes no 1000 Hz from the frame
            # after the next one on (the tick under way when the ack was queued may have mixed her already:
            # `remove_input` takes effect at the next tick's start, mixer-rs/core/src/mixer.rs). Then the third
            # page's output is silent of her within the delay its jitter buffer reported for that frame, plus a tick.
            grace = guest.evaluate("stoa.app.identity.user")
            ack_seq = host.evaluate(
                "async (user) => { await stoa.app.request({type: 'mute', user}); return stoa.app.player.lastSeq; }",
                grace,
            )
            assert isinstance(ack_seq, int), "the host page reads the mix (her voice) before the ack"
            mute_check(listener, ack_seq)
            expect(guest.get_by_role("button", name="🎙 Unmute")).to_be_visible()
            expect(listener.locator(f'.tile[data-user="{grace}"] .role')).to_contain_text("muted")

            # The host removes the guest: out of the space for good.
            host.locator(f'.tile[data-user="{grace}"] summary').click()
            host.get_by_role("button", name="Remove from space").click()
            expect(guest.locator(".banner")).to_contain_text("You were removed")
            expect(listener.locator(".tile .tile-name")).to_have_text(["ada"])
            frames_then = guest.evaluate("stoa.app.player.frames")
            guest.wait_for_timeout(1000)
            assert guest.evaluate("stoa.app.player.frames") == frames_then, "a removed page still gets audio"
            guest.reload()
            guest.wait_for_function("() => window.stoa && window.stoa.app.conn.ready")
            expect(guest.locator("#space-title")).to_have_text("Can't open this space")
            expect(guest.locator(".space-head")).to_contain_text("removed from this space")

            # The host ends the space; the listener sees it end and the audio stops.
            host.get_by_role("button", name="End space").click()
            expect(listener.locator(".banner")).to_contain_text("The host ended this space")
            expect(listener.locator("#space .pill").first).to_have_text("ENDED")
            expect(host.locator(".banner")).to_contain_text("The host ended this space")
            screenshot(listener, "space-ended-desktop", shots)

            for errors in (host_errors, guest_errors, lobby_errors):
                assert not errors, errors
        finally:
            host_browser.close()
            guest_browser.close()

    check_screenshots(shots)
