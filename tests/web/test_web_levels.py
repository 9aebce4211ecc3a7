"""The web client's `level` (docs/protocol.md, `audio`), in the real browser: its `audioLevel` is the protocol
package's `audio_level` of the same samples, and a page speaking over the WebSocket sends it with every packet, so
the real server forwards its packets, alone on the mic, without decoding them (its /metrics say so) while a second
page hears the tone."""

from __future__ import annotations

import math
import struct
import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from stoa_protocol import audio_level

from tests.conftest import ServerProcess
from tests.e2e.test_metrics import samples, value
from tests.web.browser import launch, open_page, plays, sign_up, start_space, tone_wav, wait_for
from tests.web.test_web_client import AUDIO_S, served  # noqa: F401 (a fixture)

SIGNALS = {
    "full-scale square": [1.0 if i % 2 else -1.0 for i in range(960)],
    "half-scale sine": [0.5 * math.sin(i * 0.07) for i in range(960)],
    "quiet sine": [0.003 * math.sin(i * 0.2) for i in range(960)],
    "silence": [0.0] * 960,
    "one click": [0.0] * 959 + [0.9],
}


@pytest.mark.parametrize("name", SIGNALS)
def test_the_pages_level_is_the_protocol_packages(web_server: ServerProcess, name: str) -> None:
    samples16 = [round(s * 32767) for s in SIGNALS[name]]
    want = audio_level(struct.pack(f"<{len(samples16)}h", *samples16))
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{web_server.http_port}/")
            got = page.evaluate(
                "async (s) => (await import('/js/mic.js')).audioLevel(Float32Array.from(s, (x) => x / 32767))",
                samples16,
            )
        finally:
            browser.close()
    assert got == want, name


def test_a_page_speaking_over_the_websocket_sends_levels_and_is_forwarded_undecoded(
    served: ServerProcess,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    base = f"http://127.0.0.1:{served.http_port}"
    with sync_playwright() as pw:
        host_browser = launch(pw, tone_wav(tmp_path / "a440.wav", 440))
        ear_browser = launch(pw)
        try:
            host, host_errors = open_page(host_browser, base + "/", webrtc=False)
            sign_up(host, "levels")
            share_link = start_space(host, "Levels", "", "")
            ear, ear_errors = open_page(ear_browser, share_link)
            wait_for(lambda: plays(ear, 440), AUDIO_S, what="the listener to play 440 Hz")
            assert host.evaluate("stoa.app.speakingVia") == "websocket"
            time.sleep(1.0)
            after = samples(served)  # a new server: its counts are this space's
            with_level = value(after, "stoa_speaker_packets_with_level_total")
            accepted = value(after, "stoa_speaker_packets_accepted_total")
            decoded = value(after, "stoa_speaker_packets_decoded_total")
            assert accepted > 50 and with_level == accepted, (with_level, accepted)
            # Alone on the mic: none decoded but the warm-ups of the hangovers, if the tone was cut meanwhile.
            assert decoded <= 0.1 * accepted, (decoded, accepted)
            assert host_errors == [] and ear_errors == []
        finally:
            host_browser.close()
            ear_browser.close()
