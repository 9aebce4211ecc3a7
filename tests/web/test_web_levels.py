"""The web client speaking over the WebSocket (no WebRTC: `audio` messages it encodes itself) sends each
packet's `level`, against a real server: a listener's page hears the speaker, and the server, speaker alone,
decodes none of its packets (its /metrics). Over WebRTC the browser writes the level itself
(tests/e2e/test_webrtc_browser.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import ServerProcess
from tests.e2e.levels import assert_lone_speaker_undecoded
from tests.e2e.test_metrics import samples
from tests.web.browser import host_and_listener, launch, plays, tone_wav

pytestmark = pytest.mark.serial  # a browser's audio at the 20 ms pace


def test_a_page_speaking_over_the_websocket_sends_levels_and_is_heard_without_a_decode(
    web_server: ServerProcess, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{web_server.http_port}"
    with sync_playwright() as pw:
        browser = launch(pw, tone_wav(tmp_path / "a440.wav", 440))
        try:
            (host, host_errors), (listener, listener_errors) = host_and_listener(
                browser, base, "Levels over the WebSocket", webrtc=False
            )
            assert host.evaluate("stoa.app.voice.via") == "websocket"
            before = samples(web_server)
            listener.wait_for_timeout(3000)
            after = samples(web_server)
            assert plays(listener, 440), "the listener still hears the speaker"
            assert_lone_speaker_undecoded(before, after, at_least=100)  # of about 150 in 3 s
            for errors in (host_errors, listener_errors):
                assert not errors, errors
        finally:
            browser.close()
