"""Chromium for the WebRTC browser tests, run in a process of its own (`test_webrtc_browser.Browser`). A module
that imports nothing of Stoa: the spawned process imports it, and only it, before launching chromium."""

from __future__ import annotations

from typing import Any


def serve_browser(url: str, microphone: str, calls: Any, replies: Any) -> None:
    """In a process of its own (Playwright's sync API runs an asyncio loop, which trio-asyncio, once imported in
    the tests' process, would take over): chromium, and the page scripts `calls` brings, each reply or error
    (as text) put on `replies`."""
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=[
                    "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-audio-capture={microphone}",
                    "--use-fake-ui-for-media-stream",
                ],
                timeout=60_000,
            )
            page = browser.new_context(bypass_csp=True).new_page()
            page.goto(url, timeout=60_000)
            while (call := calls.get()) is not None:
                script, arg = call
                try:
                    replies.put(("ok", page.evaluate(script, arg)))
                except Exception as error:
                    replies.put(("error", repr(error)))
            browser.close()
    except Exception as error:
        replies.put(("error", repr(error)))
