"""Recording and replays in the web client, in real browsers against a real server, audio included.

A host starts a recorded space from the dialog and speaks through a fake microphone playing 440 Hz (turning
recording on is consenting: no prompt for the host); everyone sees the recording mark, and a listener's live
region says so. A second account comes on the mic with a 1,000 Hz microphone: the consent prompt appears; it
declines, gives and withdraws (each shown from the server's event) before speaking, so the room hears it and
the recording does not. The host shares two posts a few seconds apart and stops the recording. The replay
plays in the page's <audio> element from the download links (its analyser hears 440 Hz, not 1,000 Hz), each
post appears when the replay reaches the moment it was shared, and a seek moves the posts with it. The host
makes the recording private (the other page can no longer open it) and deletes it. Screenshots of the
recording and replay screens are taken on the way (see `browser.screenshot`)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import trio
from playwright.sync_api import Page, expect, sync_playwright

from gateway.client import connect_account
from tests.conftest import ServerProcess, start_server, stop_server
from tests.web.browser import (
    DESKTOP,
    PHONE,
    check_screenshots,
    launch,
    open_page,
    plays,
    screenshot,
    sign_up,
    tone_wav,
    wait_for,
)

pytestmark = pytest.mark.serial  # posts appear within 400 ms of their moment in a playing replay

AUDIO_S = 20.0
SLACK_MS = 400  # a post may show this much after its moment (the page's 100 ms tick, the element's clock)
SPECTRUM_FLOOR_DB = -80.0  # above the analyser's empty spectrum (about -100 dB), below any tone it hears
LONE_SAMPLES = 2  # at most this many samples (0.1 s apart) may show 1,000 Hz, in passing: see below
POSTS_APART_S = 3.0  # the first post and the second, shared this far apart
AFTER_LAST_POST_S = 2.0  # and the recording stopped this long after the second (the replay plays to 1 s after it)


def replay_state(page: Page) -> dict[str, Any] | None:
    state: dict[str, Any] | None = page.evaluate("() => stoa.replayProbe([440, 1000])")
    return state


def test_the_recording_mark_the_consent_prompt_and_a_replay_with_posts_in_time(
    served: ServerProcess, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{served.http_port}"
    shots = tmp_path / "screenshots"
    with sync_playwright() as pw:
        host_browser = launch(pw, tone_wav(tmp_path / "a440.wav", 440))
        guest_browser = launch(pw, tone_wav(tmp_path / "a1000.wav", 1000))
        try:
            host, host_errors = open_page(host_browser, base + "/")
            sign_up(host, "ada")

            # The host starts a recorded space: the mark shows; turning recording on was the host's consent.
            host.get_by_role("button", name="Start a space").click()
            host.fill("#create-name", "Recorded show")
            host.get_by_label("Record this space").check()
            host.click("#create-submit")
            expect(host.locator("#space-title")).to_have_text("Recorded show")
            expect(host.locator(".space-head [data-recording='on']")).to_be_visible()
            expect(host.get_by_role("button", name="● Recording my voice")).to_have_attribute("aria-pressed", "true")
            expect(host.locator("#consent-dialog")).to_be_hidden()
            host.get_by_role("button", name="🎙 Unmute").click()
            expect(host.get_by_role("button", name="🎙 Mute")).to_be_visible()

            # The live list marks the space as recorded; another account joins from it: the mark and the live
            # region, no question to a listener.
            guest, guest_errors = open_page(guest_browser, base + "/")
            live_card = guest.locator("#live-list .card", has_text="Recorded show")
            expect(live_card.locator("[data-recording='on']")).to_be_visible()
            sign_up(guest, "grace")
            guest.get_by_role("button", name="Listen to Recorded show").click()
            expect(guest.locator("#space-title")).to_have_text("Recorded show")
            expect(guest.locator(".space-head [data-recording='on']")).to_be_visible()
            expect(guest.locator("#recording-status")).to_have_text("This space is being recorded.")
            expect(guest.locator("#consent-dialog")).to_be_hidden()
            wait_for(lambda: plays(guest, 440), AUDIO_S, what="the room to hear the host")

            # On the mic, the prompt: grace keeps her voice out, then gives and withdraws from the dock.
            guest.get_by_role("button", name="✋ Request to speak").click()
            host.get_by_role("button", name="Let grace speak").click()
            prompt = guest.get_by_role("dialog", name="This space is being recorded")
            expect(prompt).to_be_visible()
            screenshot(guest, "recording-consent-desktop", shots)
            prompt.get_by_role("button", name="Keep my voice out").click()
            expect(prompt).to_be_hidden()
            out = guest.get_by_role("button", name="○ Voice not recorded")
            expect(out).to_have_attribute("aria-pressed", "false")
            out.click()
            given = guest.get_by_role("button", name="● Recording my voice")
            expect(given).to_have_attribute("aria-pressed", "true")
            given.click()
            expect(out).to_be_visible()
            guest.get_by_role("button", name="🎙 Unmute").click()
            expect(guest.get_by_role("button", name="🎙 Mute")).to_be_visible()
            wait_for(lambda: plays(host, 1000), AUDIO_S, what="the room to hear the speaker who declined")

            # Two posts a few seconds apart, then the host stops recording (the replay below plays on to a second
            # after the second post): the mark goes, the region says so.
            for text, then_s in (("First, the weather", POSTS_APART_S), ("Then, the news", AFTER_LAST_POST_S)):
                host.get_by_label("Post to the space").fill(text)
                host.get_by_role("button", name="Post", exact=True).click()
                expect(guest.locator(".posts")).to_contain_text(text)
                time.sleep(then_s)
            host.get_by_role("button", name="■ Stop recording").click()
            expect(guest.locator(".space-head [data-recording='on']")).to_have_count(0)
            expect(guest.locator("#recording-status")).to_have_text("Recording stopped.")
            expect(guest.get_by_role("button", name="○ Voice not recorded")).to_have_count(0)

            # The replays screen lists it with its duration (desktop and phone).
            guest.get_by_role("link", name="Replays").click()
            card = guest.locator(".replay-card", has_text="Recorded show")
            expect(card).to_be_visible()
            expect(card.locator(".pill")).to_have_text(re.compile(r"^0:\d\d$"))
            screenshot(guest, "replays-desktop", shots)
            guest.set_viewport_size(PHONE)
            screenshot(guest, "replays-phone", shots)
            guest.set_viewport_size(DESKTOP)

            # The replay: the posts come at their moments as it plays; the host is heard, the decliner not.
            card.get_by_role("button", name="Play the replay of Recorded show").click()
            expect(guest.locator("#replay-title")).to_have_text("Recorded show")
            moments = guest.evaluate("stoa.app.replay.timed.map((x) => x.t)")
            assert len(moments) == 2 and 1000 < moments[0] < moments[1] - 2500, moments
            expect(guest.locator(".replay-posts .post")).to_have_count(0)
            start = max(0, int(moments[0]) - 1000)  # a little before the first post: the test need not wait more
            guest.locator("#replay-position").fill(str(start))
            guest.get_by_role("button", name="Play the replay").click()
            samples = []
            deadline = time.monotonic() + (moments[1] - start) / 1000 + AUDIO_S
            while time.monotonic() < deadline:
                state = replay_state(guest)
                if state:
                    samples.append(state)
                    if state["t"] > moments[1] + 1000:
                        break
                time.sleep(0.1)
            assert samples and samples[-1]["t"] > moments[1] + 1000, samples[-3:]
            for s in samples:  # what is shown is exactly what was shared by then (a tick's slack at each moment)
                due = sum(1 for m in moments if m <= s["t"])
                late = sum(1 for m in moments if m <= s["t"] - SLACK_MS)
                assert late <= s["shown"] <= due, (s["t"], s["shown"], moments)
            assert {s["shown"] for s in samples} == {0, 1, 2}, "the posts did not appear one after the other"
            loud = [s for s in samples if s["levelDb"] > -40]
            heard = [s for s in loud if abs(s["dominantHz"] - 440) < 12]
            assert len(heard) > len(samples) // 3, "the replay did not play the host's 440 Hz"
            # The decliner's tone, as loud as the host's live, would stand level with 440 Hz; without it 1,000 Hz
            # is the analyser's floor, more than 20 dB down. The spectrum is smoothed, so just after play starts
            # it can still sit at its floor (about -100 dB at every bin) while the level already shows the
            # sound: such a sample says nothing either way (a leaked tone would lift the spectrum's peak).
            spectrum_caught_up = [s for s in loud if s["peakDb"] > SPECTRUM_FLOOR_DB]
            # The decliner spoke all through this stretch, so a tone in the recording would stand in nearly every
            # sample; a lone one is the smoothed spectrum in passing (seen once on a starved machine: peak
            # 24 dB under the level, 1,000 Hz at -53 dB, 440 Hz at -63 dB).
            leaked = [s for s in spectrum_caught_up if s["at"]["1000"] > s["at"]["440"] - 15]
            assert len(leaked) <= LONE_SAMPLES, f"the speaker who declined is in the recording: {leaked[:3]}"
            assert len(spectrum_caught_up) > 4 * LONE_SAMPLES, "too few samples to tell a tone from a passing one"
            screenshot(guest, "replay-desktop", shots)

            # Seeking: back before the first post, none shown; past the second, both.
            guest.get_by_role("button", name="Pause the replay").click()
            guest.locator("#replay-position").fill(str(int(moments[0] - 800)))
            expect(guest.locator(".replay-posts .post")).to_have_count(0)
            guest.locator("#replay-position").fill(str(int(moments[1] + 200)))
            expect(guest.locator(".replay-posts .post")).to_have_count(2)
            expect(guest.locator(".replay-posts")).to_contain_text("Then, the news")
            guest.set_viewport_size(PHONE)
            screenshot(guest, "replay-phone", shots)

            # The host makes the recording private (the other page can no longer open it), then deletes it.
            host.get_by_role("link", name="Replays").click()
            host.get_by_role("button", name="My recordings").click()
            mine = host.locator(".replay-card", has_text="Recorded show")
            mine.get_by_label("Who may play Recorded show").select_option("private")
            expect(host.locator(".replay-card .badge.private")).to_be_visible()
            guest.reload()
            guest.wait_for_function("() => window.stoa && window.stoa.app.conn.ready")
            expect(guest.locator("#replay-title")).to_have_text("Can't open this replay")
            host.get_by_role("button", name="Delete the recording of Recorded show").click()
            expect(host.locator(".replay-card")).to_have_count(0)

            for errors in (host_errors, guest_errors):
                assert not errors, errors
        finally:
            host_browser.close()
            guest_browser.close()

    check_screenshots(shots, "re*.png")


async def record_until_killed(url: str) -> tuple[str, str]:
    """A recorded space with a post 1 s in; the caller kills the server 3.5 s later (a kill leaves the part
    playable to within 2.5 s of it: the post is well inside the first part)."""
    async with connect_account(url, "ada") as ada:
        joined = await ada.create_space("Two parts", record=True)
        assert joined.space.recording is not None
        await trio.sleep(1.0)
        await ada.share_post("before the restart")
        await trio.sleep(3.5)
        return joined.space.space_id, joined.space.recording.recording_id


async def record_on_and_stop(url: str, space_id: str) -> None:
    async with connect_account(url, "ada", register=False) as ada:
        await ada.join_space(space_id)  # the space came back live, recording into a new part
        await trio.sleep(0.5)
        await ada.share_post("after the restart")
        await trio.sleep(1.0)  # the replay below plays to 0.5 s after the post
        await ada.set_recording(False)


def test_a_replay_in_parts_plays_each_at_its_offset_with_the_silence_between(tmp_path: Path) -> None:
    """A server killed during a recording and started again leaves two parts with the time it was down between
    them: the player plays the first part, is silent for the gap, then plays the second, and each post appears
    at its moment. (The space's side is played by a Python client.)"""
    data = tmp_path / "data"
    first = start_server(data, "--frames-per-message", "1")
    try:
        space_id, recording_id = trio.run(record_until_killed, first.url)
    finally:
        first.proc.kill()  # SIGKILL: the part is cut off; the next start repairs it
        first.proc.wait()
    server = start_server(data, "--frames-per-message", "1")
    try:
        trio.run(record_on_and_stop, server.url, space_id)
        with sync_playwright() as pw:
            browser = launch(pw)
            try:
                page, errors = open_page(browser, f"http://127.0.0.1:{server.http_port}/r/{recording_id}")
                expect(page.locator("#replay-title")).to_have_text("Two parts")
                parts = page.evaluate("stoa.app.replay.detail.parts")
                assert [p["part"] for p in parts] == [0, 1] and all(p["finished"] for p in parts), parts
                gap = (parts[0]["offset_ms"] + parts[0]["duration_ms"], parts[1]["offset_ms"])
                assert gap[1] - gap[0] > 500, f"no time between the parts: {parts}"
                moments = page.evaluate("stoa.app.replay.timed.map((x) => x.t)")
                assert len(moments) == 2 and moments[0] < gap[0] and moments[1] > gap[1], (moments, gap)
                expect(page.get_by_text("Recorded in 2 parts")).to_be_visible()

                # From just before the first part's end: through the silence into the second part.
                page.locator("#replay-position").fill(str(max(0, gap[0] - 1000)))
                page.get_by_role("button", name="Play the replay").click()
                seen = []
                deadline = time.monotonic() + (moments[1] - gap[0]) / 1000 + AUDIO_S
                while time.monotonic() < deadline:
                    seen.append(page.evaluate(
                        "() => { const r = stoa.app.replay; return {t: r.position(), index: r.index, gap: !!r.gap,"
                        " shown: r.shown, time: r.audio.currentTime, paused: r.audio.paused}; }"
                    ))  # fmt: skip
                    if seen[-1]["t"] > moments[1] + 500:
                        break
                    time.sleep(0.1)
                assert seen[-1]["t"] > moments[1] + 500, seen[-3:]
                in_gap = [s for s in seen if s["gap"]]
                assert in_gap and all(gap[0] - 100 <= s["t"] <= gap[1] + 300 for s in in_gap), in_gap[:3]
                assert all(s["paused"] for s in in_gap), "the audio element played in the silence"
                second = [s for s in seen if s["index"] == 1 and not s["gap"] and not s["paused"]]
                assert second and second[-1]["time"] > 0.3, "the second part did not play"
                for s in seen:
                    due = sum(m <= s["t"] for m in moments)
                    assert sum(m <= s["t"] - SLACK_MS for m in moments) <= s["shown"] <= due, (s, moments)
                assert {s["shown"] for s in seen} >= {1, 2}
                assert not errors, errors
            finally:
                browser.close()
    finally:
        assert stop_server(server) == 0
