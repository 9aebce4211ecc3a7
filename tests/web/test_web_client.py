"""The web client in a real browser against a real server, audio included.

A host page speaks through a fake microphone playing a 440 Hz tone; a guest opens the share link and hears
440 Hz (the page's AnalyserNode, after its decoder and jitter buffer, reports it); the guest signs up, raises
a hand, is approved and speaks from a 1,000 Hz file; a third page hears both tones; the host's mute silences
that speaker on the third page from the tick after the ack; removal and the end of the space take effect.
Screenshots of the main screens are taken on the way (see `browser.screenshot`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import ServerProcess, start_server, stop_server
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

AUDIO_S = 20.0  # how long a tone may take to be heard (a page's audio starts, the jitter buffer fills)
TONE_DB = -25.0  # a frame "carries" a tone above this level (the tones are written at -8 dBFS)
SILENT_DB = -35.0  # and lacks it below this one (a frame next to a lost packet has some energy everywhere)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServerProcess]:
    server = start_server(tmp_path / "data", "--frames-per-message", "1")
    try:
        yield server
    finally:
        assert stop_server(server) == 0


def dominant(page: Page, hz: int) -> dict[str, Any] | None:
    """The page's probe when `hz` is the strongest frequency it plays (within the analyser's resolution)."""
    p = probe(page)
    return p if p and abs(p["dominantHz"] - hz) < 12 and p["levelDb"] > -40 else None


def frames_after(page: Page, seq: int) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = page.evaluate(
        "(seq) => stoa.app.player.watched.frames.filter((f) => f.seq > seq)", seq
    )
    return frames


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
            listener.evaluate("stoa.app.player.watchTones([440, 1000])")
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

            # The host mutes the speaker: on the third page the 1000 Hz tone is gone from the tick after the ack.
            grace = guest.evaluate("stoa.app.identity.user")
            # (the half second of frames before the mute is the evidence that the speaker was heard until then)
            before = listener.evaluate("Math.max(...stoa.app.player.watched.frames.map((f) => f.seq))") - 25
            acked_at = host.evaluate(
                "async (user) => { await stoa.app.request({type: 'mute', user}); return Date.now(); }", grace
            )
            wait_for(lambda: len([f for f in frames_after(listener, before) if f["arrivedAt"] > acked_at + 300]), 10,
                     what="frames after the mute")  # fmt: skip
            frames = frames_after(listener, before)
            heard_at_ack = [f["seq"] for f in frames if f["arrivedAt"] <= acked_at]
            seq_at_ack = max(heard_at_ack, default=before)
            with_tone = [f for f in frames if f["seq"] <= seq_at_ack and f["levels"][1] > TONE_DB]
            assert with_tone, "the speaker was not audible just before the mute: the check below could not fail"
            # One tick for the mute to take effect, and up to two more frames the page had not read yet when the
            # host's page read the ack (both pages run on the same two shared cores).
            late = [f for f in frames if f["seq"] > seq_at_ack + 3 and f["levels"][1] > SILENT_DB]
            assert not late, f"1000 Hz still heard after the mute's ack (seq {seq_at_ack}): {late[:3]}"
            host_still = [f for f in frames if f["seq"] > seq_at_ack + 3 and f["levels"][0] > TONE_DB]
            assert host_still, "the host's 440 Hz went with the mute"
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
